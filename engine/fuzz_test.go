package engine

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// The fuzz targets of the parts that read user input: the flow decoder and
// validator, templates, success conditions and extraction. Each has seeds
// here and a committed corpus under testdata/fuzz/<target>/; `make fuzz`
// runs each for FUZZTIME (30 s), `make fuzz-short` for 3 s.

// FuzzDecodeFlow checks that DecodeFlow never panics, refuses with either
// ErrMalformedJSON or a *ValidationError listing fields, and that a flow it
// accepts survives its own JSON encoding (decoded again to the same flow)
// and compiles into a plan.
func FuzzDecodeFlow(f *testing.F) {
	if seed, err := os.ReadFile("testdata/seed_flow.json"); err == nil {
		f.Add(seed)
	}
	f.Add([]byte(`{"name": "x", "steps": [{"step_number": 1, "webhook_url": "https://a.io/{{id}}", "webhook_method": "post", "webhook_body": {"id": "{{id}}"}}], "predefinedVariables": [{"name": "id", "value": 7}]}`))
	f.Add([]byte(`{"name": "d", "steps": [{"step_number": 2, "webhook_url": "https://a.io", "webhook_method": "GET", "depends_on_step": 1}, {"step_number": 1, "webhook_url": "{{base}}/x", "webhook_method": "GET", "depends_on_step": 2}]}`))
	f.Add([]byte(`{"name": "c", "steps": [{"step_number": 1, "webhook_url": "https://a.io", "webhook_method": "GET", "success_condition": {"status_code": [200, 201], "response_key": "a.b", "expected_value": {"x": [1]}, "expression": "status == 200 && body.ok"}}], "variables": [{"name": "t", "location": "a.b", "stepId": 1, "type": "body", "dataType": "integer", "customValue": "5"}], "schedule": "*/5 * * * *", "flow_mapping": {"v": "x.y", "records": {"step": 1, "path": "items", "fields": {"id": "id"}}}}`))
	f.Add([]byte(`{"name": "\u0000", "steps": [], "retry_delay": 1e400}`))
	f.Add([]byte(`[1, 2]`))
	f.Add([]byte(`{"name": "n", "steps": [{"step_number": 1, "webhook_url": "https://a.io", "webhook_method": "GET", "webhook_headers": {"X-A": "a\r\nb", "Bad Name": "v"}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := DecodeFlow(body)
		if err != nil {
			var verr *ValidationError
			switch {
			case errors.Is(err, ErrMalformedJSON):
			case errors.As(err, &verr):
				if len(verr.Errors) == 0 {
					t.Fatalf("validation error without field errors for %q", body)
				}
				for _, fe := range verr.Errors {
					if fe.Message == "" {
						t.Fatalf("field error without a message: %+v", fe)
					}
				}
			default:
				t.Fatalf("DecodeFlow(%q): unexpected error type %T: %v", body, err, err)
			}
			return
		}
		raw, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("encode accepted flow: %v", err)
		}
		again, err := DecodeFlow(raw)
		if err != nil {
			t.Fatalf("DecodeFlow refuses its own output %s: %v (input %q)", raw, err, body)
		}
		again.SigningSecret = in.SigningSecret
		if !reflect.DeepEqual(in, again) {
			raw2, _ := json.Marshal(again)
			t.Fatalf("round trip changed the flow:\n%s\n%s", raw, raw2)
		}
		if _, err := Compile(in.Definition(uuid.New(), 1)); err != nil {
			t.Fatalf("accepted flow does not compile: %v\n%s", err, raw)
		}
	})
}

// FuzzTemplates checks that rendering never panics and keeps its promises:
// text without placeholders is unchanged, rendered JSON is valid JSON,
// rendered headers never carry CR, LF or NUL (no header injection), and a
// rendered URL is an absolute http(s) URL.
func FuzzTemplates(f *testing.F) {
	f.Add("https://a.io/{{id}}?q={{ q }}", `{"k": "{{id}}", "t": "x {{q}} y"}`, "id", "a/b?c", "q", "1 2&3")
	f.Add("{{base}}/x", `"{{obj}}"`, "base", "https://h.io", "obj", `{"a": [1, 2]}`)
	f.Add("https://a.io/{{$execution_id}}", `{"{{k}}": "{{$now}}"}`, "k", "v", "x", "\r\nX-Injected: 1")
	f.Add("{{a}}{{b}}", `[{{a}}]`, "a", "\x00", "b", "}}{{")
	f.Fuzz(func(t *testing.T, text, rawJSON, name1, value1, name2, value2 string) {
		vars := map[string]any{name1: value1, name2: decodeValue(json.RawMessage(value2)), BuiltinNow: "2024-01-01T00:00:00Z",
			BuiltinExecutionID: "e", BuiltinFlowID: "f", BuiltinAttempt: int64(1)}
		if vars[name2] == nil {
			vars[name2] = value2
		}
		out, err := RenderText(text, vars)
		if err == nil && len(TemplateNames(text)) == 0 && out != text {
			t.Fatalf("RenderText(%q) without placeholders = %q", text, out)
		}
		if u, err := RenderURL(text, vars); err == nil {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Fatalf("RenderURL(%q) = %q, not an http(s) URL", text, u)
			}
		}
		// Empty (or blank) and null bodies are returned as they are.
		if js, err := RenderJSON(json.RawMessage(rawJSON), vars); err == nil && strings.TrimSpace(string(js)) != "" && !json.Valid(js) {
			t.Fatalf("RenderJSON(%q) = %q, not valid JSON", rawJSON, js)
		}
		headers, _ := json.Marshal(map[string]string{"X-A": text, "X-B": "{{" + name1 + "}}", "X-C": "{{" + name2 + "}}"})
		if h, err := RenderHeaders(headers, vars); err == nil {
			for k, v := range h {
				if strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("RenderHeaders: header %s = %q carries CR, LF or NUL", k, v)
				}
				if http.CanonicalHeaderKey(k) == "" {
					t.Fatalf("RenderHeaders: empty header name")
				}
			}
		}
		params, _ := json.Marshal(map[string]string{"p": text})
		_, _ = RenderParams(params, vars)
		_ = TemplateNamesJSON(json.RawMessage(rawJSON))
	})
}

// FuzzCondition checks that compiling and evaluating any success condition
// against any response never panics, that a failed check always says why,
// and that a run-time error never counts as success.
func FuzzCondition(f *testing.F) {
	f.Add(`{"status_code": [200, 201]}`, 200, []byte(`{"ok": true}`))
	f.Add(`{"response_key": "data.items.#", "expected_value": 2}`, 200, []byte(`{"data": {"items": [1, 2]}}`))
	f.Add(`{"expression": "status == 200 && body.ok == true && len(headers) >= 0"}`, 200, []byte(`{"ok": true}`))
	f.Add(`{"expression": "any(body, # > 1) && vars.x == nil"}`, 500, []byte(`[1, 2, 3]`))
	f.Add(`{"expression": "body contains \"x\" && duration_ms < 10"}`, 404, []byte(`plain text x`))
	f.Add(`{"expression": "let a = body + body; len(a) > 0"}`, 200, []byte(`"abc"`))
	f.Add(`{"expression": "count(1..status, # % 2 == 0) > 3"}`, 599, []byte(``))
	f.Fuzz(func(t *testing.T, cond string, status int, body []byte) {
		c, errs := CompileCondition(json.RawMessage(cond))
		if errs != nil {
			for _, fe := range errs {
				if fe.Message == "" {
					t.Fatalf("CompileCondition(%q): error without message: %+v", cond, fe)
				}
			}
			return
		}
		ok, reason, err := c.Evaluate(&Response{Status: status, Headers: map[string]string{"content-type": "application/json"},
			Body: body, DurationMS: 5}, map[string]any{"x": int64(1), "s": "v"})
		if ok && err != nil {
			t.Fatalf("Evaluate(%q) succeeded with an error: %v", cond, err)
		}
		if !ok && reason == "" {
			t.Fatalf("Evaluate(%q) failed without a reason", cond)
		}
	})
}

// FuzzExtract checks that extracting a variable of any type, location and
// data type from any response never panics, and that an extracted value has
// the Go type of its data type.
func FuzzExtract(f *testing.F) {
	f.Add([]byte(`{"a": {"b": [1, "2", 3.5e3]}, "id": 12345678901234567890}`), "a.b.1", "body", "integer", "")
	f.Add([]byte(`{"id": 12345678901234567890}`), "id", "body", "string", "")
	f.Add([]byte(`{"x": null}`), "x", "body", "boolean", "true")
	f.Add([]byte(`not json`), "X-Token", "header", "number", "")
	f.Add([]byte(`[]`), "", "status", "integer", "")
	f.Add([]byte(`{"o": {"k": [1]}}`), "o", "body", "object", "")
	f.Add([]byte(`{"a": "[1, 2]"}`), "a", "body", "array", "")
	f.Add([]byte(``), "", "custom", "object", `{"a": 1}`)
	f.Fuzz(func(t *testing.T, body []byte, location, typ, dataType, custom string) {
		v := Variable{Name: "v", Location: location, StepID: 1, Type: typ, DataType: dataType, CustomValue: custom}
		r := &Response{Status: 200, Headers: map[string]string{"x-token": "abc", "content-type": "text/plain"}, Body: body}
		out, err := Extract([]Variable{v}, r)
		if err != nil {
			if !strings.Contains(err.Error(), `"v"`) {
				t.Fatalf("Extract error does not name the variable: %v", err)
			}
			return
		}
		got, ok := out["v"]
		if !ok {
			t.Fatalf("Extract returned no value and no error")
		}
		if got == nil {
			return
		}
		want := map[string]reflect.Kind{
			"": reflect.String, DataTypeString: reflect.String, DataTypeNumber: reflect.Float64,
			DataTypeInteger: reflect.Int64, DataTypeBoolean: reflect.Bool, DataTypeObject: reflect.Map, DataTypeArray: reflect.Slice,
		}[strings.ToLower(dataType)]
		if want != reflect.Invalid && reflect.TypeOf(got).Kind() != want {
			t.Fatalf("Extract as %q gave %T (%v)", dataType, got, got)
		}
	})
}
