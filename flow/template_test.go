package flow

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testVars are the variables the rendering tests use.
func testVars() map[string]any {
	return map[string]any{
		"name":          "Ada Lovelace",
		"id":            int64(42),
		"big":           json.Number("12345678901234567890"),
		"price":         float64(19.5),
		"huge":          float64(1e21),
		"ok":            true,
		"nothing":       nil,
		"obj":           map[string]any{"b": json.Number("1"), "a": "<x>"},
		"list":          []any{"x", json.Number("2")},
		"path":          "a/b c",
		"base_url":      "https://api.example.com/v1",
		"raw":           json.RawMessage(`{"k": [1, 2]}`),
		"rawstr":        json.RawMessage(`"hello"`),
		"$execution_id": "0190c3cc-0d44-4b50-8888-8dd25736052a",
		"$attempt":      2,
	}
}

func TestTemplateNames(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"no placeholders", nil},
		{"{{a}}", []string{"a"}},
		{"{{ a }} and {{\tb\t}} and {{a}}", []string{"a", "b"}},
		{"{{$execution_id}}:{{step.1-x_y}}", []string{"$execution_id", "step.1-x_y"}},
		{"{{}} {{a b}} {{a!}} {a} {{{c}}}", []string{"c"}},
		{"{{ unterminated", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, TemplateNames(tt.in)); diff != "" {
				t.Errorf("TemplateNames(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestTemplateNamesJSON(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{"null", `null`, nil},
		{"string", `"{{a}}"`, []string{"a"}},
		{"keys are not templated", `{"{{k}}": "{{v}}", "x": ["{{w}}", 1, {"y": "{{v}} {{z}}"}]}`, []string{"v", "w", "z"}},
		{"invalid JSON", `{"a": "{{x}}"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, TemplateNamesJSON(json.RawMessage(tt.raw))); diff != "" {
				t.Errorf("TemplateNamesJSON(%s) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestRenderText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "plain", want: "plain"},
		{in: "Hello {{ name }}!", want: "Hello Ada Lovelace!"},
		{in: "{{id}}/{{big}}/{{price}}/{{huge}}/{{ok}}", want: "42/12345678901234567890/19.5/1000000000000000000000/true"},
		{in: "{{obj}} {{list}}", want: `{"a":"<x>","b":1} ["x",2]`},
		{in: "{{raw}}|{{rawstr}}", want: `{"k":[1,2]}|hello`},
		{in: "{{$execution_id}}:{{$attempt}}", want: "0190c3cc-0d44-4b50-8888-8dd25736052a:2"},
		{in: "{{missing}}", wantErr: `variable "missing" is not set`},
		{in: "{{nothing}}", wantErr: `variable "nothing" is not set`},
		{in: "{{ not a placeholder }}", want: "{{ not a placeholder }}"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := RenderText(tt.in, testVars())
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RenderText(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestRenderTextUnknownVariableError(t *testing.T) {
	t.Parallel()

	_, err := RenderText("x{{nope}}", nil)
	var uv *UnknownVariableError
	if !errors.As(err, &uv) || uv.Name != "nope" {
		t.Fatalf("RenderText error = %v, want *UnknownVariableError for nope", err)
	}
}

func TestRenderURL(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "https://example.com/users/{{path}}?q={{name}}&p={{path}}", want: "https://example.com/users/a%2Fb%20c?q=Ada+Lovelace&p=a%2Fb+c"},
		{in: "https://example.com/{{id}}", want: "https://example.com/42"},
		{in: "{{base_url}}/contacts?since={{id}}", want: "https://api.example.com/v1/contacts?since=42"},
		{in: "{{name}}/x", wantErr: `rendered URL "Ada Lovelace/x": not an absolute http or https URL`},
		{in: "{{name}}:x", wantErr: `rendered URL "Ada Lovelace:x": not a valid URL`},
		{in: "{{path}}", wantErr: `rendered URL "a/b c": not an absolute http or https URL`},
		{in: "ftp://example.com/{{id}}", wantErr: `rendered URL "ftp://example.com/42": not an absolute http or https URL`},
		{in: "https:///{{id}}", wantErr: `rendered URL "https:///42": URL has no host`},
		{in: "https://example.com/{{missing}}", wantErr: `variable "missing" is not set`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := RenderURL(tt.in, testVars())
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RenderURL(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestRenderParams(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		raw     string
		want    url.Values
		wantErr string
	}{
		{name: "empty", raw: ``, want: url.Values{}},
		{name: "null", raw: `null`, want: url.Values{}},
		{name: "values", raw: `{"q": "{{name}}", "n": 10, "f": 1.50, "b": false, "z": null, "s": "id-{{id}}"}`,
			want: url.Values{"q": {"Ada Lovelace"}, "n": {"10"}, "f": {"1.50"}, "b": {"false"}, "z": {""}, "s": {"id-42"}}},
		{name: "unknown", raw: `{"q": "{{missing}}"}`, wantErr: `param "q": variable "missing" is not set`},
		{name: "not an object", raw: `[1]`, wantErr: `webhook_url_params must be a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := RenderParams(json.RawMessage(tt.raw), testVars())
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" && tt.wantErr == "" {
				t.Errorf("RenderParams(%s) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestRenderHeaders(t *testing.T) {
	t.Parallel()

	vars := testVars()
	vars["evil"] = "x\r\nX-Injected: 1"
	tests := []struct {
		name    string
		raw     string
		want    map[string]string
		wantErr string
	}{
		{name: "null", raw: `null`, want: map[string]string{}},
		{name: "values", raw: `{"Authorization": "Bearer {{id}}", "X-Attempt": "{{$attempt}}", "X-Static": "v"}`,
			want: map[string]string{"Authorization": "Bearer 42", "X-Attempt": "2", "X-Static": "v"}},
		{name: "injection", raw: `{"X-A": "{{evil}}"}`, wantErr: `header "X-A": value contains a line break or NUL byte`},
		{name: "unknown", raw: `{"X-A": "{{missing}}"}`, wantErr: `header "X-A": variable "missing" is not set`},
		{name: "invalid", raw: `{"X-A": `, wantErr: `decode webhook_headers: unexpected EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := RenderHeaders(json.RawMessage(tt.raw), vars)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" && tt.wantErr == "" {
				t.Errorf("RenderHeaders(%s) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

func TestRenderJSON(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr string
	}{
		{name: "empty", raw: ``, want: ``},
		{name: "null", raw: ` null `, want: ` null `},
		{name: "no placeholders keeps order", raw: `{"z": 1, "a": [true, null, 1.0e3], "m": "<b>"}`, want: `{"z":1,"a":[true,null,1.0e3],"m":"<b>"}`},
		{name: "typed values", raw: `{"id": "{{id}}", "big": "{{ big }}", "price": "{{price}}", "ok": "{{ok}}", "obj": "{{obj}}", "list": "{{list}}", "raw": "{{raw}}"}`,
			want: `{"id":42,"big":12345678901234567890,"price":19.5,"ok":true,"obj":{"a":"<x>","b":1},"list":["x",2],"raw":{"k":[1,2]}}`},
		{name: "text inside longer strings", raw: `{"greeting": "Hi {{name}} #{{id}}", "o": "obj={{obj}}"}`,
			want: `{"greeting":"Hi Ada Lovelace #42","o":"obj={\"a\":\"<x>\",\"b\":1}"}`},
		{name: "keys untouched", raw: `{"{{id}}": "{{id}}"}`, want: `{"{{id}}":42}`},
		{name: "root string", raw: `"{{name}}"`, want: `"Ada Lovelace"`},
		{name: "nested arrays", raw: `[["{{id}}"], [], {}, [{"a": "{{ok}}"}]]`, want: `[[42],[],{},[{"a":true}]]`},
		{name: "unknown", raw: `{"a": "{{missing}}"}`, wantErr: `variable "missing" is not set`},
		{name: "nil is not set", raw: `{"a": "{{nothing}}"}`, wantErr: `variable "nothing" is not set`},
		{name: "invalid", raw: `{"a": 1`, wantErr: `unexpected end of JSON input`},
		{name: "trailing", raw: `{} {}`, wantErr: `invalid JSON: data after the top-level value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := RenderJSON(json.RawMessage(tt.raw), testVars())
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("RenderJSON(%s) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

// checkErr fails the test unless err's message is want ("" meaning no
// error).
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	got := ""
	if err != nil {
		got = err.Error()
	}
	if got != want {
		t.Fatalf("error = %q, want %q", got, want)
	}
}
