package flow

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConvert(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		in       any
		dataType string
		want     any
		wantErr  string
	}{
		{name: "nil", in: nil, dataType: "integer", want: nil},
		{name: "default is string", in: json.Number("1.50"), dataType: "", want: "1.50"},
		{name: "string of string", in: "abc", dataType: "string", want: "abc"},
		{name: "string of float", in: 0.1, dataType: "string", want: "0.1"},
		{name: "string of big float", in: 1e21, dataType: "string", want: "1000000000000000000000"},
		{name: "string of int64", in: int64(-7), dataType: "string", want: "-7"},
		{name: "string of bool", in: true, dataType: "STRING", want: "true"},
		{name: "string of object", in: map[string]any{"b": json.Number("1"), "a": "<&>"}, dataType: "string", want: `{"a":"<&>","b":1}`},
		{name: "string of array", in: []any{json.Number("1"), "x"}, dataType: "string", want: `[1,"x"]`},
		{name: "number of json.Number", in: json.Number("2.5"), dataType: "number", want: 2.5},
		{name: "number of string", in: " 1e3 ", dataType: "number", want: 1000.0},
		{name: "number of int64", in: int64(3), dataType: "number", want: 3.0},
		{name: "number of NaN string", in: "NaN", dataType: "number", wantErr: `cannot convert "NaN" to number`},
		{name: "number of Inf string", in: "Inf", dataType: "number", wantErr: `cannot convert "Inf" to number`},
		{name: "number of hex string", in: "0x10", dataType: "number", wantErr: `cannot convert "0x10" to number`},
		{name: "number of bool", in: true, dataType: "number", wantErr: `cannot convert true to number`},
		{name: "integer of big json.Number", in: json.Number("9007199254740993"), dataType: "integer", want: int64(9007199254740993)},
		{name: "integer of 42.0", in: json.Number("42.0"), dataType: "integer", want: int64(42)},
		{name: "integer of float", in: 42.0, dataType: "integer", want: int64(42)},
		{name: "integer of fraction", in: 42.5, dataType: "integer", wantErr: `cannot convert 42.5 to integer`},
		{name: "integer of string", in: "-12", dataType: "integer", want: int64(-12)},
		{name: "integer of abc", in: "abc", dataType: "integer", wantErr: `cannot convert "abc" to integer`},
		{name: "integer overflow", in: json.Number("1e30"), dataType: "integer", wantErr: `cannot convert 1e30 to integer`},
		{name: "integer of int", in: 5, dataType: "integer", want: int64(5)},
		{name: "boolean of bool", in: false, dataType: "boolean", want: false},
		{name: "boolean of TRUE", in: " TRUE ", dataType: "boolean", want: true},
		{name: "boolean of number", in: json.Number("1"), dataType: "boolean", wantErr: `cannot convert 1 to boolean`},
		{name: "boolean of yes", in: "yes", dataType: "boolean", wantErr: `cannot convert "yes" to boolean`},
		{name: "object of map", in: map[string]any{"a": true}, dataType: "object", want: map[string]any{"a": true}},
		{name: "object of string", in: `{"a": 1}`, dataType: "object", want: map[string]any{"a": json.Number("1")}},
		{name: "object of array string", in: `[1]`, dataType: "object", wantErr: `cannot convert "[1]" to object`},
		{name: "array of slice", in: []any{"a"}, dataType: "array", want: []any{"a"}},
		{name: "array of string", in: `[1, "a"]`, dataType: "array", want: []any{json.Number("1"), "a"}},
		{name: "array of object", in: map[string]any{}, dataType: "array", wantErr: `cannot convert {} to array`},
		{name: "unknown data type", in: "x", dataType: "date", wantErr: `unknown data type "date"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Convert(tt.in, tt.dataType)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Convert(%#v, %q) (-want +got):\n%s", tt.in, tt.dataType, diff)
			}
		})
	}
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
