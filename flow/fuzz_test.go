package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets below run as ordinary tests over their seeds (f.Add and
// testdata/fuzz/<FuzzName>/), and with -fuzz over generated inputs:
//
//	go test ./engine -run '^$' -fuzz FuzzDecodeFlow -fuzztime 20s

func FuzzDecodeFlow(f *testing.F) {
	seed, err := os.ReadFile("testdata/seed_flow.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(validFlow))
	f.Add([]byte(`{"name": "x", "steps": [{"step_number": 1, "webhook_method": "get", "webhook_url": "{{u}}"}], "predefinedVariables": [{"name": "u", "value": 1}]}`))
	f.Add([]byte(`{"name": "x", "steps": []}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"name": "x\u0000", "steps": [{"step_number": 1e400}]}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := DecodeFlow(body)
		if err != nil {
			var ve *ValidationError
			switch {
			case errors.Is(err, ErrMalformedJSON):
			case errors.As(err, &ve):
				if len(ve.Errors) == 0 {
					t.Fatal("ValidationError without errors")
				}
				for _, fe := range ve.Errors {
					if fe.Message == "" {
						t.Fatalf("field error %q without a message", fe.Field)
					}
				}
			default:
				t.Fatalf("DecodeFlow error %T %v is neither malformed JSON nor a validation error", err, err)
			}
			return
		}

		// A decoded flow encodes to a body that decodes to the same flow.
		again, err := DecodeFlow(encodeFlowInput(t, in))
		if err != nil {
			t.Fatalf("DecodeFlow(encoded flow): %v", err)
		}
		if diff := cmp.Diff(in, again); diff != "" {
			t.Fatalf("decode, encode, decode (-first +second):\n%s", diff)
		}

		// A valid flow always compiles.
		if _, err := Compile(in.Definition(testFlowID, 1)); err != nil {
			t.Fatalf("Compile(valid flow): %v", err)
		}
	})
}

// encodeFlowInput encodes a flow as a request body, with its write-only
// signing fields.
func encodeFlowInput(t *testing.T, in *FlowInput) []byte {
	t.Helper()
	b, err := marshalNoEscape(in)
	if err != nil {
		t.Fatalf("encode flow: %v", err)
	}
	if in.SigningSecret == nil && !in.GenerateSigningSecret {
		return b
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if in.SigningSecret != nil {
		m["signing_secret"] = marshalString(*in.SigningSecret)
	}
	if in.GenerateSigningSecret {
		m["generate_signing_secret"] = json.RawMessage("true")
	}
	b, err = marshalNoEscape(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fuzzVars are the variables of the rendering fuzz targets, with value set
// to the fuzzed string.
func fuzzVars(value string) map[string]any {
	vars := testVars()
	vars["v"] = value
	vars["n"] = json.Number("12.50")
	vars["nan"] = 0.0
	if json.Valid([]byte(value)) {
		vars["j"] = json.RawMessage(value)
	}
	return vars
}

func FuzzRenderJSON(f *testing.F) {
	f.Add([]byte(`{"a": "{{v}}", "b": ["x {{ v }} y", "{{obj}}", 1.5e3], "{{v}}": null}`), "hello")
	f.Add([]byte(`"{{j}}"`), `{"k": [1, "<\u2028>"]}`)
	f.Add([]byte(`[{"n": "{{n}}"}, "{{missing}}"]`), "")
	f.Add([]byte(` null `), "x")
	f.Add([]byte(`{"a": "{{v}}"} trailing`), "x")

	f.Fuzz(func(t *testing.T, raw []byte, value string) {
		out, err := RenderJSON(raw, fuzzVars(value))
		if err != nil || len(bytes.TrimSpace(raw)) == 0 {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("RenderJSON(%q) = %q, not valid JSON", raw, out)
		}
		_ = TemplateNamesJSON(raw)
	})
}

func FuzzRenderURL(f *testing.F) {
	f.Add("https://example.com/users/{{v}}?q={{v}}&n={{n}}", "a b/c?d")
	f.Add("{{v}}/path", "https://api.example.com")
	f.Add("{{base_url}}/x?{{v}}={{ v }}", "k=v&x")
	f.Add("http://[::1]:{{id}}/", "")
	f.Add("https://{{v}}.example.com/", "evil.com#")

	f.Fuzz(func(t *testing.T, tmpl, value string) {
		vars := fuzzVars(value)
		out, err := RenderURL(tmpl, vars)
		if err == nil {
			if _, perr := url.Parse(out); perr != nil {
				t.Fatalf("RenderURL(%q) = %q, which does not parse: %v", tmpl, out, perr)
			}
		}
		_, _ = RenderText(tmpl, vars)
		_ = TemplateNames(tmpl)
		params, _ := json.Marshal(map[string]any{"p": tmpl, "q": value})
		_, _ = RenderParams(params, vars)
		if headers, err := RenderHeaders(params, vars); err == nil {
			for name, v := range headers {
				if bytes.ContainsAny([]byte(v), "\r\n\x00") {
					t.Fatalf("header %q = %q holds a line break or NUL", name, v)
				}
			}
		}
	})
}

func FuzzCondition(f *testing.F) {
	f.Add(`status == 200 && body.ok == true`, []byte(`{"ok": true}`), 200, []byte(`{"status_code": [200, 201], "response_key": "ok", "expected_value": true}`))
	f.Add(`body contains "x" || vars.v == "y"`, []byte(`x`), 500, []byte(`{}`))
	f.Add(`len(1..100000000) > 0`, []byte(``), 0, []byte(`null`))
	f.Add(`all(body.items, {.id > 0}) and headers["x"] == ""`, []byte(`{"items": [{"id": 1}, {"id": "a"}]}`), 201, []byte(`{"status_code": 99}`))
	f.Add(`body.a.b.c`, []byte(`{"a": null}`), 204, []byte(`{"response_key": "a.b", "expected_value": {"x": [1.0]}}`))

	f.Fuzz(func(t *testing.T, expression string, body []byte, status int, rawCond []byte) {
		r := &Response{Status: status, Headers: map[string]string{"x": "1"}, Body: body, DurationMS: 5}
		vars := fuzzVars(string(body))
		cond, _ := json.Marshal(map[string]any{"expression": expression})
		if c, errs := CompileCondition(cond); errs == nil {
			_, _, _ = c.Evaluate(r, vars)
		}
		if c, errs := CompileCondition(rawCond); errs == nil {
			ok, reason, err := c.Evaluate(r, vars)
			if !ok && reason == "" && err == nil {
				t.Fatal("failed condition without a reason")
			}
		}
	})
}

func FuzzExtract(f *testing.F) {
	f.Add([]byte(`{"data": {"id": 12345678901234567890, "items": [{"a": 1}]}}`), "data.id", "integer", "")
	f.Add([]byte(`{"data": {"items": [{"a": 1}, {"a": "2"}]}}`), "data.items.#.a", "array", "[]")
	f.Add([]byte(`not json`), "a.b", "number", "1.5")
	f.Add([]byte(`[1, 2, 3]`), "#(>1)", "object", `{"k": 1}`)
	f.Add([]byte(`{"a": "TRUE"}`), "a", "boolean", "x")

	f.Fuzz(func(t *testing.T, body []byte, path, dataType, custom string) {
		r := &Response{Status: 200, Headers: map[string]string{"x-id": string(body)}, Body: body}
		vars := []Variable{
			{Name: "b", Type: VarTypeBody, Location: path, DataType: dataType, CustomValue: custom},
			{Name: "h", Type: VarTypeHeader, Location: path, DataType: dataType, CustomValue: custom},
			{Name: "s", Type: VarTypeStatus, DataType: dataType},
			{Name: "c", Type: VarTypeCustom, DataType: dataType, CustomValue: custom},
		}
		for _, v := range vars {
			_, _ = Extract([]Variable{v}, r)
		}
		if v, err := decodeJSON(body); err == nil {
			_, _ = Convert(v, dataType)
		}
		_, _ = Convert(string(body), dataType)
	})
}

// FuzzWalkJSON checks the gjson walk of a valid document against the token
// walk it replaced: the same strings, keys and numbers visited, with the
// same paths, in the same order, and the same canonical output.
func FuzzWalkJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,"x",{"b c":null,"d":true}],"\u00e9":"\ud800","e":"bad \xff","n":1.50e3}`))
	f.Add([]byte(` "\u0000" `))
	f.Add([]byte(`[[],{},"",0,-0.5,"<&>\u2028"]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		walk := func(walker func([]byte, *bytes.Buffer, stringVisitor, func(string, string) error, func(string, json.Number) error) error) (string, []string) {
			var out bytes.Buffer
			var seen []string
			err := walker(raw, &out, func(path, s string) (json.RawMessage, error) {
				seen = append(seen, "string "+path+" "+s)
				return nil, nil
			}, func(path, key string) error {
				seen = append(seen, "key "+path+" "+key)
				return nil
			}, func(path string, n json.Number) error {
				seen = append(seen, "number "+path+" "+string(n))
				return nil
			})
			if err != nil {
				t.Fatalf("walk %q: %v", raw, err)
			}
			return out.String(), seen
		}
		gotOut, gotSeen := walk(walkJSON)
		wantOut, wantSeen := walk(walkTokens)
		if gotOut != wantOut {
			t.Fatalf("walk %q wrote %s; the token walk wrote %s", raw, gotOut, wantOut)
		}
		if diff := cmp.Diff(wantSeen, gotSeen); diff != "" {
			t.Fatalf("walk %q visited differently from the token walk (-token +gjson):\n%s", raw, diff)
		}
	})
}
