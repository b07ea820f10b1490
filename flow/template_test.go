package flow

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
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

	tabletest.Func(t, "TemplateNames", TemplateNames, []tabletest.Case[string, []string]{
		{In: "", Want: nil},
		{In: "no placeholders", Want: nil},
		{In: "{{a}}", Want: []string{"a"}},
		{In: "{{ a }} and {{\tb\t}} and {{a}}", Want: []string{"a", "b"}},
		{In: "{{$execution_id}}:{{step.1-x_y}}", Want: []string{"$execution_id", "step.1-x_y"}},
		{In: "{{}} {{a b}} {{a!}} {a} {{{c}}}", Want: []string{"c"}},
		{In: "{{ unterminated", Want: nil},
	})
}

func TestTemplateNamesJSON(t *testing.T) {
	t.Parallel()

	names := func(raw string) []string { return TemplateNamesJSON(json.RawMessage(raw)) }
	tabletest.Func(t, "TemplateNamesJSON", names, []tabletest.Case[string, []string]{
		{Name: "null", In: `null`, Want: nil},
		{Name: "string", In: `"{{a}}"`, Want: []string{"a"}},
		{Name: "keys are not templated", In: `{"{{k}}": "{{v}}", "x": ["{{w}}", 1, {"y": "{{v}} {{z}}"}]}`, Want: []string{"v", "w", "z"}},
		{Name: "invalid JSON", In: `{"a": "{{x}}"`, Want: nil},
	})
}

// TestRenderString runs the functions that render a string with testVars.
func TestRenderString(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name   string
		render func(string, map[string]any) (string, error)
		cases  []tabletest.Case[string, string]
	}{
		{"RenderText", RenderText, []tabletest.Case[string, string]{
			{In: "plain", Want: "plain"},
			{In: "Hello {{ name }}!", Want: "Hello Ada Lovelace!"},
			{In: "{{id}}/{{big}}/{{price}}/{{huge}}/{{ok}}", Want: "42/12345678901234567890/19.5/1000000000000000000000/true"},
			{In: "{{obj}} {{list}}", Want: `{"a":"<x>","b":1} ["x",2]`},
			{In: "{{raw}}|{{rawstr}}", Want: `{"k":[1,2]}|hello`},
			{In: "{{$execution_id}}:{{$attempt}}", Want: "0190c3cc-0d44-4b50-8888-8dd25736052a:2"},
			{In: "{{missing}}", Err: `variable "missing" is not set`},
			{In: "{{nothing}}", Err: `variable "nothing" is not set`},
			{In: "{{ not a placeholder }}", Want: "{{ not a placeholder }}"},
		}},
		{"RenderURL", RenderURL, []tabletest.Case[string, string]{
			{In: "https://example.com/users/{{path}}?q={{name}}&p={{path}}", Want: "https://example.com/users/a%2Fb%20c?q=Ada+Lovelace&p=a%2Fb+c"},
			{In: "https://example.com/{{id}}", Want: "https://example.com/42"},
			{In: "{{base_url}}/contacts?since={{id}}", Want: "https://api.example.com/v1/contacts?since=42"},
			{In: "{{name}}/x", Err: `rendered URL "Ada Lovelace/x": not an absolute http or https URL`},
			{In: "{{name}}:x", Err: `rendered URL "Ada Lovelace:x": not a valid URL`},
			{In: "{{path}}", Err: `rendered URL "a/b c": not an absolute http or https URL`},
			{In: "ftp://example.com/{{id}}", Err: `rendered URL "ftp://example.com/42": not an absolute http or https URL`},
			{In: "https:///{{id}}", Err: `rendered URL "https:///42": URL has no host`},
			{In: "https://example.com/{{missing}}", Err: `variable "missing" is not set`},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			render := func(in string) (string, error) { return tc.render(in, testVars()) }
			tabletest.FuncErr(t, tc.name, render, tc.cases)
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

func TestRenderParams(t *testing.T) {
	t.Parallel()

	render := func(raw string) (url.Values, error) { return RenderParams(json.RawMessage(raw), testVars()) }
	tabletest.FuncErr(t, "RenderParams", render, []tabletest.Case[string, url.Values]{
		{Name: "empty", In: ``, Want: url.Values{}},
		{Name: "null", In: `null`, Want: url.Values{}},
		{Name: "values", In: `{"q": "{{name}}", "n": 10, "f": 1.50, "b": false, "z": null, "s": "id-{{id}}"}`,
			Want: url.Values{"q": {"Ada Lovelace"}, "n": {"10"}, "f": {"1.50"}, "b": {"false"}, "z": {""}, "s": {"id-42"}}},
		{Name: "unknown", In: `{"q": "{{missing}}"}`, Err: `param "q": variable "missing" is not set`},
		{Name: "not an object", In: `[1]`, Err: `webhook_url_params must be a JSON object`},
	})
}

func TestRenderHeaders(t *testing.T) {
	t.Parallel()

	vars := testVars()
	vars["evil"] = "x\r\nX-Injected: 1"
	render := func(raw string) (map[string]string, error) { return RenderHeaders(json.RawMessage(raw), vars) }
	tabletest.FuncErr(t, "RenderHeaders", render, []tabletest.Case[string, map[string]string]{
		{Name: "null", In: `null`, Want: map[string]string{}},
		{Name: "values", In: `{"Authorization": "Bearer {{id}}", "X-Attempt": "{{$attempt}}", "X-Static": "v"}`,
			Want: map[string]string{"Authorization": "Bearer 42", "X-Attempt": "2", "X-Static": "v"}},
		{Name: "injection", In: `{"X-A": "{{evil}}"}`, Err: `header "X-A": value contains a line break or NUL byte`},
		{Name: "unknown", In: `{"X-A": "{{missing}}"}`, Err: `header "X-A": variable "missing" is not set`},
		{Name: "invalid", In: `{"X-A": `, Err: `decode webhook_headers: unexpected EOF`},
	})
}

func TestRenderJSON(t *testing.T) {
	t.Parallel()

	render := func(raw string) (string, error) {
		got, err := RenderJSON(json.RawMessage(raw), testVars())
		return string(got), err
	}
	tabletest.FuncErr(t, "RenderJSON", render, []tabletest.Case[string, string]{
		{Name: "empty", In: ``, Want: ``},
		{Name: "null", In: ` null `, Want: ` null `},
		{Name: "no placeholders keeps order", In: `{"z": 1, "a": [true, null, 1.0e3], "m": "<b>"}`, Want: `{"z":1,"a":[true,null,1.0e3],"m":"<b>"}`},
		{Name: "typed values", In: `{"id": "{{id}}", "big": "{{ big }}", "price": "{{price}}", "ok": "{{ok}}", "obj": "{{obj}}", "list": "{{list}}", "raw": "{{raw}}"}`,
			Want: `{"id":42,"big":12345678901234567890,"price":19.5,"ok":true,"obj":{"a":"<x>","b":1},"list":["x",2],"raw":{"k":[1,2]}}`},
		{Name: "text inside longer strings", In: `{"greeting": "Hi {{name}} #{{id}}", "o": "obj={{obj}}"}`,
			Want: `{"greeting":"Hi Ada Lovelace #42","o":"obj={\"a\":\"<x>\",\"b\":1}"}`},
		{Name: "keys untouched", In: `{"{{id}}": "{{id}}"}`, Want: `{"{{id}}":42}`},
		{Name: "root string", In: `"{{name}}"`, Want: `"Ada Lovelace"`},
		{Name: "nested arrays", In: `[["{{id}}"], [], {}, [{"a": "{{ok}}"}]]`, Want: `[[42],[],{},[{"a":true}]]`},
		{Name: "unknown", In: `{"a": "{{missing}}"}`, Err: `variable "missing" is not set`},
		{Name: "nil is not set", In: `{"a": "{{nothing}}"}`, Err: `variable "nothing" is not set`},
		{Name: "invalid", In: `{"a": 1`, Err: `unexpected end of JSON input`},
		{Name: "trailing", In: `{} {}`, Err: `invalid JSON: data after the top-level value`},
	})
}

// errMessage is err's message, "" for no error.
func errMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// messageOf turns check into a function a table test compares: the message
// of its error, "" for none.
func messageOf(check func(string) error) func(string) string {
	return func(s string) string { return errMessage(check(s)) }
}

// checkErr fails the test unless err's message is want ("" meaning no
// error).
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if got := errMessage(err); got != want {
		t.Fatalf("error = %q, want %q", got, want)
	}
}
