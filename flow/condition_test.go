package flow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestCompileConditionErrors(t *testing.T) {
	t.Parallel()

	// The errors, and one more when a condition comes back with errors or
	// none without them.
	compile := func(raw string) []FieldError {
		c, errs := CompileCondition(json.RawMessage(raw))
		if (c == nil) != (len(errs) > 0) {
			errs = append(errs, FieldError{"(test)", "a condition must come back exactly when there are no errors"})
		}
		return errs
	}
	tabletest.Func(t, "CompileCondition", compile, []tabletest.Case[string, []FieldError]{
		{Name: "absent", In: ``},
		{Name: "null", In: `null`},
		{Name: "empty", In: `{}`},
		{Name: "all keys", In: `{"status_code": [200, 201], "response_key": "data.ok", "expected_value": true, "expression": "status < 300 && body.data.ok == true && vars.x != nil && headers['content-type'] != '' && duration_ms >= 0"}`},
		{Name: "null keys count as absent", In: `{"status_code": null, "response_key": null, "expression": null}`},
		{Name: "not an object", In: `[200]`, Want: []FieldError{{"", "must be an object"}}},
		{Name: "invalid JSON", In: `{`, Want: []FieldError{{"", "must be valid JSON"}}},
		{Name: "unknown key", In: `{"status": 200, "zz": 1}`, Want: []FieldError{{"status", "unknown field"}, {"zz", "unknown field"}}},
		{Name: "status out of range", In: `{"status_code": 99}`, Want: []FieldError{{"status_code", "must be an integer between 100 and 599 or a list of them"}}},
		{Name: "status not a number", In: `{"status_code": "200"}`, Want: []FieldError{{"status_code", "must be an integer between 100 and 599 or a list of them"}}},
		{Name: "status fraction", In: `{"status_code": 200.5}`, Want: []FieldError{{"status_code", "must be an integer between 100 and 599 or a list of them"}}},
		{Name: "status empty list", In: `{"status_code": []}`, Want: []FieldError{{"status_code", "must not be an empty list"}}},
		{Name: "status list element", In: `{"status_code": [200, 600, "x"]}`, Want: []FieldError{{"status_code[1]", "must be an integer between 100 and 599"}, {"status_code[2]", "must be an integer between 100 and 599"}}},
		{Name: "response_key type", In: `{"response_key": 1}`, Want: []FieldError{{"response_key", "must be a string"}}},
		{Name: "response_key empty", In: `{"response_key": " "}`, Want: []FieldError{{"response_key", "must not be empty"}}},
		{Name: "expected without key", In: `{"expected_value": "ok"}`, Want: []FieldError{{"expected_value", "is only allowed together with response_key"}}},
		{Name: "expression type", In: `{"expression": true}`, Want: []FieldError{{"expression", "must be a string"}}},
		{Name: "expression syntax", In: `{"expression": "status =="}`, Want: []FieldError{{"expression", "unexpected token EOF (1:9)"}}},
		{Name: "expression not boolean", In: `{"expression": "status + 1"}`, Want: []FieldError{{"expression", "expected bool, but got int"}}},
		{Name: "expression unknown name", In: `{"expression": "code == 200"}`, Want: []FieldError{{"expression", "unknown name code (1:1)"}}},
		{Name: "repeat is disabled", In: `{"expression": "len(repeat('ab', 1000)) > 0"}`, Want: []FieldError{{"expression", "unknown name repeat (1:5)"}}},
		{Name: "too many nodes", In: `{"expression": "status == ` + strings.Repeat("1+", 1200) + `1"}`, Want: []FieldError{{"expression", "compilation failed: expression exceeds maximum allowed nodes (1:1012)"}}},
		{Name: "too long", In: `{"expression": "` + strings.Repeat(" ", 4097) + `true"}`, Want: []FieldError{{"expression", "must be at most 4096 characters"}}},
	})
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
	type evalIn struct {
		cond string
		resp *Response
	}
	evaluate := func(in evalIn) result {
		c, errs := CompileCondition(json.RawMessage(in.cond))
		if errs != nil {
			return result{Err: fmt.Sprint("compile: ", errs)}
		}
		ok, reason, err := c.Evaluate(in.resp, vars)
		got := result{OK: ok, Reason: reason}
		if err != nil {
			got.Err = err.Error()
		}
		return got
	}
	tabletest.Func(t, "Evaluate", evaluate, []tabletest.Case[evalIn, result]{
		{Name: "default 200", In: evalIn{``, jsonResp(200, `{}`)}, Want: result{OK: true}},
		{Name: "default 204", In: evalIn{`{}`, jsonResp(204, ``)}, Want: result{OK: true}},
		{Name: "default 302", In: evalIn{`null`, jsonResp(302, ``)}, Want: result{Reason: "status 302 is not 2xx"}},
		{Name: "default 500", In: evalIn{`{}`, jsonResp(500, ``)}, Want: result{Reason: "status 500 is not 2xx"}},
		{Name: "nil response", In: evalIn{`{}`, nil}, Want: result{Reason: "status 0 is not 2xx"}},
		{Name: "status list ok", In: evalIn{`{"status_code": [200, 201]}`, jsonResp(201, ``)}, Want: result{OK: true}},
		{Name: "status list fails", In: evalIn{`{"status_code": [200, 201]}`, jsonResp(500, ``)}, Want: result{Reason: "status 500 not in [200 201]"}},
		{Name: "status single", In: evalIn{`{"status_code": 404}`, jsonResp(404, ``)}, Want: result{OK: true}},
		{Name: "no status check without status_code", In: evalIn{`{"response_key": "error"}`, jsonResp(500, `{"error": "x"}`)}, Want: result{OK: true}},
		{Name: "response_key exists", In: evalIn{`{"response_key": "data.ok"}`, jsonResp(200, `{"data": {"ok": false}}`)}, Want: result{OK: true}},
		{Name: "response_key missing", In: evalIn{`{"response_key": "data.ok"}`, jsonResp(200, `{"data": {}}`)}, Want: result{Reason: `response_key "data.ok" is missing`}},
		{Name: "response_key not JSON", In: evalIn{`{"response_key": "data.ok"}`, jsonResp(200, `<html>`)}, Want: result{Reason: `response_key "data.ok" is missing: the body is not JSON`}},
		{Name: "expected string", In: evalIn{`{"response_key": "status", "expected_value": "ok"}`, jsonResp(200, `{"status": "ok"}`)}, Want: result{OK: true}},
		{Name: "expected string fails", In: evalIn{`{"response_key": "status", "expected_value": "ok"}`, jsonResp(200, `{"status": "x"}`)}, Want: result{Reason: `response_key "status" is "x", expected "ok"`}},
		{Name: "expected number normalised", In: evalIn{`{"response_key": "n", "expected_value": 1.0}`, jsonResp(200, `{"n": 1}`)}, Want: result{OK: true}},
		{Name: "expected number exponent", In: evalIn{`{"response_key": "n", "expected_value": 1e2}`, jsonResp(200, `{"n": 100.0}`)}, Want: result{OK: true}},
		{Name: "expected number vs string", In: evalIn{`{"response_key": "n", "expected_value": 1}`, jsonResp(200, `{"n": "1"}`)}, Want: result{Reason: `response_key "n" is "1", expected 1`}},
		{Name: "expected object", In: evalIn{`{"response_key": "o", "expected_value": {"a": [1, true, null]}}`, jsonResp(200, `{"o": {"a": [1.0, true, null]}}`)}, Want: result{OK: true}},
		{Name: "expected object differs", In: evalIn{`{"response_key": "o", "expected_value": {"a": [1]}}`, jsonResp(200, `{"o": {"a": [1], "b": 2}}`)}, Want: result{Reason: `response_key "o" is {"a":[1],"b":2}, expected {"a":[1]}`}},
		{Name: "expected null", In: evalIn{`{"response_key": "o", "expected_value": null}`, jsonResp(200, `{"o": null}`)}, Want: result{OK: true}},
		{Name: "expression true", In: evalIn{`{"expression": "status == 200 && body.count == vars.expected && headers['x-request-id'] == 'r1' && duration_ms < 1000"}`, jsonResp(200, `{"count": 3}`)}, Want: result{OK: true}},
		{Name: "expression vars object", In: evalIn{`{"expression": "vars.obj.n > 2 && vars.name == 'ada'"}`, jsonResp(200, `{}`)}, Want: result{OK: true}},
		{Name: "expression false", In: evalIn{`{"expression": "body.count > 5"}`, jsonResp(200, `{"count": 3}`)}, Want: result{Reason: "expression returned false"}},
		{Name: "expression raw body", In: evalIn{`{"expression": "body contains 'OK'"}`, jsonResp(200, `all OK`)}, Want: result{OK: true}},
		{Name: "expression optional chaining", In: evalIn{`{"expression": "body?.data?.ok ?? false"}`, jsonResp(200, `{}`)}, Want: result{Reason: "expression returned false"}},
		{Name: "expression runtime error", In: evalIn{`{"expression": "body.data.ok"}`, jsonResp(200, `{}`)}, Want: result{Reason: "expression failed", Err: "evaluate expression: cannot fetch ok from <nil> (1:11)"}},
		{Name: "expression not bool at run time", In: evalIn{`{"expression": "body.count"}`, jsonResp(200, `{"count": 3}`)}, Want: result{Reason: "expression failed", Err: "evaluate expression: invalid operation: bool(float64) (1:1)"}},
		{Name: "memory budget", In: evalIn{`{"expression": "len(1..100000000) > 0"}`, jsonResp(200, `{}`)}, Want: result{Reason: "expression failed", Err: "evaluate expression: memory budget exceeded (1:6)"}},
		{Name: "all keys must hold", In: evalIn{`{"status_code": 200, "response_key": "ok", "expression": "false"}`, jsonResp(200, `{"ok": 1}`)}, Want: result{Reason: "expression returned false"}},
	})
}

func TestConditionEvaluateNil(t *testing.T) {
	t.Parallel()

	var c *Condition
	ok, reason, err := c.Evaluate(&Response{Status: 200}, nil)
	if !ok || reason != "" || err != nil {
		t.Errorf("nil condition Evaluate = %v, %q, %v; want true", ok, reason, err)
	}
}
