package flow

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileConditionErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  string
		want []FieldError
	}{
		{name: "absent", raw: ``},
		{name: "null", raw: `null`},
		{name: "empty", raw: `{}`},
		{name: "all keys", raw: `{"status_code": [200, 201], "response_key": "data.ok", "expected_value": true, "expression": "status < 300 && body.data.ok == true && vars.x != nil && headers['content-type'] != '' && duration_ms >= 0"}`},
		{name: "null keys count as absent", raw: `{"status_code": null, "response_key": null, "expression": null}`},
		{name: "not an object", raw: `[200]`, want: []FieldError{{"", "must be an object"}}},
		{name: "invalid JSON", raw: `{`, want: []FieldError{{"", "must be valid JSON"}}},
		{name: "unknown key", raw: `{"status": 200, "zz": 1}`, want: []FieldError{{"status", "unknown field"}, {"zz", "unknown field"}}},
		{name: "status out of range", raw: `{"status_code": 99}`, want: []FieldError{{"status_code", "must be an integer between 100 and 599 or a list of them"}}},
		{name: "status not a number", raw: `{"status_code": "200"}`, want: []FieldError{{"status_code", "must be an integer between 100 and 599 or a list of them"}}},
		{name: "status fraction", raw: `{"status_code": 200.5}`, want: []FieldError{{"status_code", "must be an integer between 100 and 599 or a list of them"}}},
		{name: "status empty list", raw: `{"status_code": []}`, want: []FieldError{{"status_code", "must not be an empty list"}}},
		{name: "status list element", raw: `{"status_code": [200, 600, "x"]}`, want: []FieldError{{"status_code[1]", "must be an integer between 100 and 599"}, {"status_code[2]", "must be an integer between 100 and 599"}}},
		{name: "response_key type", raw: `{"response_key": 1}`, want: []FieldError{{"response_key", "must be a string"}}},
		{name: "response_key empty", raw: `{"response_key": " "}`, want: []FieldError{{"response_key", "must not be empty"}}},
		{name: "expected without key", raw: `{"expected_value": "ok"}`, want: []FieldError{{"expected_value", "is only allowed together with response_key"}}},
		{name: "expression type", raw: `{"expression": true}`, want: []FieldError{{"expression", "must be a string"}}},
		{name: "expression syntax", raw: `{"expression": "status =="}`, want: []FieldError{{"expression", "unexpected token EOF (1:9)"}}},
		{name: "expression not boolean", raw: `{"expression": "status + 1"}`, want: []FieldError{{"expression", "expected bool, but got int"}}},
		{name: "expression unknown name", raw: `{"expression": "code == 200"}`, want: []FieldError{{"expression", "unknown name code (1:1)"}}},
		{name: "repeat is disabled", raw: `{"expression": "len(repeat('ab', 1000)) > 0"}`, want: []FieldError{{"expression", "unknown name repeat (1:5)"}}},
		{name: "too many nodes", raw: `{"expression": "status == ` + strings.Repeat("1+", 1200) + `1"}`, want: []FieldError{{"expression", "compilation failed: expression exceeds maximum allowed nodes (1:1012)"}}},
		{name: "too long", raw: `{"expression": "` + strings.Repeat(" ", 4097) + `true"}`, want: []FieldError{{"expression", "must be at most 4096 characters"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, errs := CompileCondition(json.RawMessage(tt.raw))
			if diff := cmp.Diff(tt.want, errs); diff != "" {
				t.Errorf("CompileCondition(%s) errors (-want +got):\n%s", tt.raw, diff)
			}
			if (c == nil) != (len(tt.want) > 0) {
				t.Errorf("CompileCondition(%s) condition = %v, want nil exactly when there are errors", tt.raw, c)
			}
		})
	}
}

func TestConditionEvaluate(t *testing.T) {
	t.Parallel()

	jsonResp := func(status int, body string) *Response {
		return &Response{Status: status, Headers: map[string]string{"content-type": "application/json", "x-request-id": "r1"}, Body: []byte(body), DurationMS: 120}
	}
	vars := map[string]any{"expected": json.Number("3"), "name": "ada", "obj": map[string]any{"n": json.Number("2.5")}}
	type result struct {
		OK     bool
		Reason string
		Err    string
	}
	tests := []struct {
		name string
		cond string
		resp *Response
		want result
	}{
		{name: "default 200", cond: ``, resp: jsonResp(200, `{}`), want: result{OK: true}},
		{name: "default 204", cond: `{}`, resp: jsonResp(204, ``), want: result{OK: true}},
		{name: "default 302", cond: `null`, resp: jsonResp(302, ``), want: result{Reason: "status 302 is not 2xx"}},
		{name: "default 500", cond: `{}`, resp: jsonResp(500, ``), want: result{Reason: "status 500 is not 2xx"}},
		{name: "nil response", cond: `{}`, resp: nil, want: result{Reason: "status 0 is not 2xx"}},
		{name: "status list ok", cond: `{"status_code": [200, 201]}`, resp: jsonResp(201, ``), want: result{OK: true}},
		{name: "status list fails", cond: `{"status_code": [200, 201]}`, resp: jsonResp(500, ``), want: result{Reason: "status 500 not in [200 201]"}},
		{name: "status single", cond: `{"status_code": 404}`, resp: jsonResp(404, ``), want: result{OK: true}},
		{name: "no status check without status_code", cond: `{"response_key": "error"}`, resp: jsonResp(500, `{"error": "x"}`), want: result{OK: true}},
		{name: "response_key exists", cond: `{"response_key": "data.ok"}`, resp: jsonResp(200, `{"data": {"ok": false}}`), want: result{OK: true}},
		{name: "response_key missing", cond: `{"response_key": "data.ok"}`, resp: jsonResp(200, `{"data": {}}`), want: result{Reason: `response_key "data.ok" is missing`}},
		{name: "response_key not JSON", cond: `{"response_key": "data.ok"}`, resp: jsonResp(200, `<html>`), want: result{Reason: `response_key "data.ok" is missing: the body is not JSON`}},
		{name: "expected string", cond: `{"response_key": "status", "expected_value": "ok"}`, resp: jsonResp(200, `{"status": "ok"}`), want: result{OK: true}},
		{name: "expected string fails", cond: `{"response_key": "status", "expected_value": "ok"}`, resp: jsonResp(200, `{"status": "x"}`), want: result{Reason: `response_key "status" is "x", expected "ok"`}},
		{name: "expected number normalised", cond: `{"response_key": "n", "expected_value": 1.0}`, resp: jsonResp(200, `{"n": 1}`), want: result{OK: true}},
		{name: "expected number exponent", cond: `{"response_key": "n", "expected_value": 1e2}`, resp: jsonResp(200, `{"n": 100.0}`), want: result{OK: true}},
		{name: "expected number vs string", cond: `{"response_key": "n", "expected_value": 1}`, resp: jsonResp(200, `{"n": "1"}`), want: result{Reason: `response_key "n" is "1", expected 1`}},
		{name: "expected object", cond: `{"response_key": "o", "expected_value": {"a": [1, true, null]}}`, resp: jsonResp(200, `{"o": {"a": [1.0, true, null]}}`), want: result{OK: true}},
		{name: "expected object differs", cond: `{"response_key": "o", "expected_value": {"a": [1]}}`, resp: jsonResp(200, `{"o": {"a": [1], "b": 2}}`), want: result{Reason: `response_key "o" is {"a":[1],"b":2}, expected {"a":[1]}`}},
		{name: "expected null", cond: `{"response_key": "o", "expected_value": null}`, resp: jsonResp(200, `{"o": null}`), want: result{OK: true}},
		{name: "expression true", cond: `{"expression": "status == 200 && body.count == vars.expected && headers['x-request-id'] == 'r1' && duration_ms < 1000"}`, resp: jsonResp(200, `{"count": 3}`), want: result{OK: true}},
		{name: "expression vars object", cond: `{"expression": "vars.obj.n > 2 && vars.name == 'ada'"}`, resp: jsonResp(200, `{}`), want: result{OK: true}},
		{name: "expression false", cond: `{"expression": "body.count > 5"}`, resp: jsonResp(200, `{"count": 3}`), want: result{Reason: "expression returned false"}},
		{name: "expression raw body", cond: `{"expression": "body contains 'OK'"}`, resp: jsonResp(200, `all OK`), want: result{OK: true}},
		{name: "expression optional chaining", cond: `{"expression": "body?.data?.ok ?? false"}`, resp: jsonResp(200, `{}`), want: result{Reason: "expression returned false"}},
		{name: "expression runtime error", cond: `{"expression": "body.data.ok"}`, resp: jsonResp(200, `{}`), want: result{Reason: "expression failed", Err: "evaluate expression: cannot fetch ok from <nil> (1:11)"}},
		{name: "expression not bool at run time", cond: `{"expression": "body.count"}`, resp: jsonResp(200, `{"count": 3}`), want: result{Reason: "expression failed", Err: "evaluate expression: invalid operation: bool(float64) (1:1)"}},
		{name: "memory budget", cond: `{"expression": "len(1..100000000) > 0"}`, resp: jsonResp(200, `{}`), want: result{Reason: "expression failed", Err: "evaluate expression: memory budget exceeded (1:6)"}},
		{name: "all keys must hold", cond: `{"status_code": 200, "response_key": "ok", "expression": "false"}`, resp: jsonResp(200, `{"ok": 1}`), want: result{Reason: "expression returned false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, errs := CompileCondition(json.RawMessage(tt.cond))
			if errs != nil {
				t.Fatalf("CompileCondition(%s): %v", tt.cond, errs)
			}
			ok, reason, err := c.Evaluate(tt.resp, vars)
			got := result{OK: ok, Reason: reason}
			if err != nil {
				got.Err = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConditionEvaluateNil(t *testing.T) {
	t.Parallel()

	var c *Condition
	ok, reason, err := c.Evaluate(&Response{Status: 200}, nil)
	if !ok || reason != "" || err != nil {
		t.Errorf("nil condition Evaluate = %v, %q, %v; want true", ok, reason, err)
	}
}
