package flow

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestConvert(t *testing.T) {
	t.Parallel()

	type convertIn struct {
		value    any
		dataType string
	}
	convert := func(in convertIn) (any, error) { return Convert(in.value, in.dataType) }
	tabletest.FuncErr(t, "Convert", convert, []tabletest.Case[convertIn, any]{
		{Name: "nil", In: convertIn{nil, "integer"}, Want: nil},
		{Name: "default is string", In: convertIn{json.Number("1.50"), ""}, Want: "1.50"},
		{Name: "string of string", In: convertIn{"abc", "string"}, Want: "abc"},
		{Name: "string of float", In: convertIn{0.1, "string"}, Want: "0.1"},
		{Name: "string of big float", In: convertIn{1e21, "string"}, Want: "1000000000000000000000"},
		{Name: "string of int64", In: convertIn{int64(-7), "string"}, Want: "-7"},
		{Name: "string of bool", In: convertIn{true, "STRING"}, Want: "true"},
		{Name: "string of object", In: convertIn{map[string]any{"b": json.Number("1"), "a": "<&>"}, "string"}, Want: `{"a":"<&>","b":1}`},
		{Name: "string of array", In: convertIn{[]any{json.Number("1"), "x"}, "string"}, Want: `[1,"x"]`},
		{Name: "number of json.Number", In: convertIn{json.Number("2.5"), "number"}, Want: 2.5},
		{Name: "number of string", In: convertIn{" 1e3 ", "number"}, Want: 1000.0},
		{Name: "number of int64", In: convertIn{int64(3), "number"}, Want: 3.0},
		{Name: "number of NaN string", In: convertIn{"NaN", "number"}, Err: `cannot convert "NaN" to number`},
		{Name: "number of Inf string", In: convertIn{"Inf", "number"}, Err: `cannot convert "Inf" to number`},
		{Name: "number of hex string", In: convertIn{"0x10", "number"}, Err: `cannot convert "0x10" to number`},
		{Name: "number of bool", In: convertIn{true, "number"}, Err: `cannot convert true to number`},
		{Name: "integer of big json.Number", In: convertIn{json.Number("9007199254740993"), "integer"}, Want: int64(9007199254740993)},
		{Name: "integer of 42.0", In: convertIn{json.Number("42.0"), "integer"}, Want: int64(42)},
		{Name: "integer of float", In: convertIn{42.0, "integer"}, Want: int64(42)},
		{Name: "integer of fraction", In: convertIn{42.5, "integer"}, Err: `cannot convert 42.5 to integer`},
		{Name: "integer of string", In: convertIn{"-12", "integer"}, Want: int64(-12)},
		{Name: "integer of abc", In: convertIn{"abc", "integer"}, Err: `cannot convert "abc" to integer`},
		{Name: "integer overflow", In: convertIn{json.Number("1e30"), "integer"}, Err: `cannot convert 1e30 to integer`},
		{Name: "integer of int", In: convertIn{5, "integer"}, Want: int64(5)},
		{Name: "boolean of bool", In: convertIn{false, "boolean"}, Want: false},
		{Name: "boolean of TRUE", In: convertIn{" TRUE ", "boolean"}, Want: true},
		{Name: "boolean of number", In: convertIn{json.Number("1"), "boolean"}, Err: `cannot convert 1 to boolean`},
		{Name: "boolean of yes", In: convertIn{"yes", "boolean"}, Err: `cannot convert "yes" to boolean`},
		{Name: "object of map", In: convertIn{map[string]any{"a": true}, "object"}, Want: map[string]any{"a": true}},
		{Name: "object of string", In: convertIn{`{"a": 1}`, "object"}, Want: map[string]any{"a": json.Number("1")}},
		{Name: "object of array string", In: convertIn{`[1]`, "object"}, Err: `cannot convert "[1]" to object`},
		{Name: "array of slice", In: convertIn{[]any{"a"}, "array"}, Want: []any{"a"}},
		{Name: "array of string", In: convertIn{`[1, "a"]`, "array"}, Want: []any{json.Number("1"), "a"}},
		{Name: "array of object", In: convertIn{map[string]any{}, "array"}, Err: `cannot convert {} to array`},
		{Name: "unknown data type", In: convertIn{"x", "date"}, Err: `unknown data type "date"`},
	})
}

func TestExtract(t *testing.T) {
	t.Parallel()

	resp := &Response{
		Status:  201,
		Headers: map[string]string{"x-request-id": "r-1", "x-count": "12"},
		Body:    []byte(`{"data": {"id": 12345678901234567890, "ok": true, "price": "9.99", "tags": ["a", "b"], "owner": {"name": "ada"}, "gone": null}, "items": [{"id": 1}, {"id": 2}]}`),
	}
	tests := []struct {
		name    string
		vars    []Variable
		resp    *Response
		want    map[string]any
		wantErr string
	}{
		{
			name: "every type",
			vars: []Variable{
				{Name: "id", Type: "body", Location: "data.id", DataType: "string"},
				{Name: "ok", Type: "BODY", Location: "data.ok", DataType: "boolean"},
				{Name: "price", Type: "body", Location: "data.price", DataType: "number"},
				{Name: "tags", Type: "body", Location: "data.tags", DataType: "array"},
				{Name: "owner", Type: "body", Location: "data.owner", DataType: "object"},
				{Name: "ids", Type: "body", Location: "items.#.id", DataType: "array"},
				{Name: "count", Type: "body", Location: "items.#", DataType: "integer"},
				{Name: "rid", Type: "header", Location: "X-Request-ID"},
				{Name: "xcount", Type: "header", Location: "x-count", DataType: "integer"},
				{Name: "status", Type: "status", DataType: "integer"},
				{Name: "status_text", Type: "status"},
				{Name: "const", Type: "custom", CustomValue: "42", DataType: "integer"},
			},
			want: map[string]any{
				"id":          "12345678901234567890",
				"ok":          true,
				"price":       9.99,
				"tags":        []any{"a", "b"},
				"owner":       map[string]any{"name": "ada"},
				"ids":         []any{json.Number("1"), json.Number("2")},
				"count":       int64(2),
				"rid":         "r-1",
				"xcount":      int64(12),
				"status":      int64(201),
				"status_text": "201",
				"const":       int64(42),
			},
		},
		{
			name: "defaults",
			vars: []Variable{
				{Name: "a", Type: "body", Location: "data.missing", CustomValue: "7", DataType: "integer"},
				{Name: "b", Type: "header", Location: "x-missing", CustomValue: "dflt"},
				{Name: "c", Type: "body", Location: "data.gone", CustomValue: "fallback"},
				{Name: "d", Type: "body", Location: "data.gone"},
			},
			want: map[string]any{"a": int64(7), "b": "dflt", "c": "fallback", "d": nil},
		},
		{
			name:    "missing body path",
			vars:    []Variable{{Name: "x", Type: "body", Location: "a.b"}},
			wantErr: `variable "x": body path "a.b" not found`,
		},
		{
			name:    "body not JSON",
			vars:    []Variable{{Name: "x", Type: "body", Location: "a.b"}},
			resp:    &Response{Status: 200, Body: []byte("<html>")},
			wantErr: `variable "x": body path "a.b" not found: the body is not JSON`,
		},
		{
			name: "body not JSON with default",
			vars: []Variable{{Name: "x", Type: "body", Location: "a.b", CustomValue: "d"}},
			resp: &Response{Status: 200, Body: []byte("<html>")},
			want: map[string]any{"x": "d"},
		},
		{
			name:    "missing header",
			vars:    []Variable{{Name: "x", Type: "header", Location: "X-Nope"}},
			wantErr: `variable "x": header "X-Nope" not found`,
		},
		{
			name:    "conversion error names the variable",
			vars:    []Variable{{Name: "x", Type: "header", Location: "x-request-id", DataType: "integer"}},
			wantErr: `variable "x": cannot convert "r-1" to integer`,
		},
		{
			name:    "unknown type",
			vars:    []Variable{{Name: "x", Type: "cookie"}},
			wantErr: `variable "x": unknown type "cookie"`,
		},
		{
			name: "nil response",
			vars: []Variable{{Name: "s", Type: "status", DataType: "integer"}},
			resp: nil,
			want: map[string]any{"s": int64(0)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := resp
			if tt.resp != nil || tt.name == "nil response" {
				r = tt.resp
			}
			got, err := Extract(tt.vars, r)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract (-want +got):\n%s", diff)
			}
		})
	}
}
