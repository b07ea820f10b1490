package api_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

// garbageBodies are request bodies no endpoint should accept as a flow,
// trigger or clone (except the empty ones where a body is optional).
func garbageBodies() []struct{ name, body string } {
	deepArray := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepObject := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	deeper := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	var many strings.Builder
	many.WriteString("{")
	for i := range 50000 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `"k%d":%d`, i, i)
	}
	many.WriteString("}")
	step := `{"step_number": 1, "webhook_url": "http://a.io", "webhook_method": "POST", "webhook_body": %s}`
	return []struct{ name, body string }{
		{"empty", ""},
		{"whitespace", " \n\t "},
		{"null", "null"},
		{"number", "5"},
		{"string", `"hello"`},
		{"array", "[1,2,3]"},
		{"wrong types", `{"name": 5, "steps": "many", "variables": 7, "payload": 1, "flow_name": [], "dynamicVariables": "x", "retry_delay": "soon"}`},
		{"wrong types in a step", `{"name": "x", "steps": [{"step_number": "one", "webhook_url": 5, "webhook_method": true, "webhook_headers": [1], "success_condition": "yes"}]}`},
		{"huge numbers", `{"name": "n", "retry_delay": 1e400, "max_retries": 99999999999999999999999, "steps": [{"step_number": 1e308, "webhook_url": "http://a.io", "webhook_method": "GET", "webhook_timeout": -1e400}]}`},
		{"huge numbers in a trigger", `{"variables": {"x": 1e999, "y": -1e999, "z": 123456789012345678901234567890}, "payload": 1e400}`},
		{"deep array", deepArray},
		{"deep object", deepObject},
		{"deeper than the JSON parser allows", deeper},
		{"deep step body", `{"name": "d", "steps": [` + fmt.Sprintf(step, deepArray) + `]}`},
		{"deep payload", `{"payload": ` + deepArray + `}`},
		{"deep variables", `{"variables": {"v": ` + deepObject + `}}`},
		{"deep dynamicVariables", `{"dynamicVariables": {"v": ` + deepObject + `}}`},
		{"invalid UTF-8", "{\"name\": \"\xff\xfe\xfd\", \"flow_name\": \"\xc3\x28\"}"},
		{"invalid UTF-8 in a payload", "{\"payload\": {\"x\": \"\xff\"}}"},
		{"raw NUL byte", "{\"name\": \"a\x00b\"}"},
		{"escaped NUL", `{"name": "a\u0000b", "flow_name": "x\u0000", "variables": {"k": "\u0000"}, "payload": "\u0000"}`},
		{"escaped NUL in a step", `{"name": "n", "steps": [` + fmt.Sprintf(step, `{"k": "\u0000"}`) + `]}`},
		{"lone surrogate", `{"name": "\ud800", "payload": "\udfff", "flow_name": "\ud800"}`},
		{"lone surrogate in a payload", `{"payload": {"k": "a\ud800b"}}`},
		{"lone low surrogate in variables", `{"variables": {"k": "\udc00"}}`},
		{"escaped NUL in a payload", `{"payload": {"k": "a\u0000b"}}`},
		{"escaped NUL in a key", `{"payload": {"a\u0000": 1}}`},
		{"huge exponent in a payload", `{"payload": 1e200000}`},
		{"lone surrogate in a step body", `{"name": "n", "steps": [` + fmt.Sprintf(step, `{"k": "\ud800", "n": 1e200000}`) + `]}`},
		{"huge predefined value", `{"name": "n", "predefinedVariables": [{"name": "v", "value": 1e200000}], "steps": [` + fmt.Sprintf(step, `null`) + `]}`},
		{"lone surrogate in a predefined value", `{"name": "n", "predefinedVariables": [{"name": "v", "value": "\ud800"}], "steps": [` + fmt.Sprintf(step, `null`) + `]}`},
		{"dynamicVariables garbage", `{"dynamicVariables": {"v": "\ud800", "w": 1e200000, "x": "\u0000"}}`},
		{"XML", `<?xml version="1.0"?><flow name="x"/>`},
		{"form", `name=x&steps=1`},
		{"trailing data", `{}{}`},
		{"truncated", `{"name": "x", "steps": [`},
		{"duplicate keys", `{"name": "a", "name": 5, "payload": 1, "payload": 2}`},
		{"very long string", `{"name": "` + strings.Repeat("x", 500000) + `", "flow_name": "` + strings.Repeat("y", 500000) + `"}`},
		{"many keys", many.String()},
		{"binary", "\x00\x01\x02\xff\xfe"},
	}
}

// garbageIDs are path ids that name nothing of the tenant.
var garbageIDs = []string{
	"not-a-uuid", strings.Repeat("a", 10000), "00000000-0000-0000-0000-000000000000",
	"ffffffff-ffff-ffff-ffff-ffffffffffff", "%00", "%ff%fe", "..%2F..%2Fetc%2Fpasswd",
	"'%20OR%201=1--", "1", "-1", "1e400", "%7B%7D", "%E2%80%AE",
}

// garbageQueries are query strings of the list endpoints.
var garbageQueries = []string{
	"?limit=abc", "?limit=-5", "?limit=0", "?limit=99999999999999999999", "?limit=1e3", "?limit=%00",
	"?cursor=%25%25%25", "?cursor=" + strings.Repeat("A", 20000), "?cursor=MjAyNHxub3QtYS11dWlk",
	"?status=weird", "?status=%00", "?status=SUCCESS%00", "?workspace_id=" + strings.Repeat("w", 5000),
	"?workspace_id=%ff%fe", "?workspace_id=%00", "?limit=1&limit=2&status=success&status=failed",
}

var pathParam = regexp.MustCompile(`\{[a-z_]+\}`)

// bodyOptional are the routes whose body may be empty (or null).
var bodyOptional = map[string]bool{
	"POST /v1/webhooks/{id}/trigger":   true,
	"POST /v1/integrations/{id}/clone": true,
	"POST /v1/tokens":                  true,
}

// replaced are bodies whose only fault is a lone UTF-16 surrogate in a
// string: like encoding/json, flowd stores U+FFFD in its place (flow
// definitions, trigger variables and payloads alike), so they may be
// accepted.
var replaced = map[string]bool{
	"lone surrogate in a payload":          true,
	"lone low surrogate in variables":      true,
	"lone surrogate in a predefined value": true,
}

// readsBody are the routes that decode a body; the others ignore it.
var readsBody = map[string]bool{
	"POST /v1/hooks/{flow_id}":         false, // reads it only after the secret checks out
	"POST /v1/webhooks":                true,
	"PUT /v1/webhooks/{id}":            true,
	"POST /v1/webhooks/{id}/trigger":   true,
	"POST /v1/integrations/{id}/clone": true,
}

// checkEnvelope fails the test unless r is an envelope that agrees with
// its status code, and the code is not a server error.
func checkEnvelope(t *testing.T, what string, r *flowdtest.Response) {
	t.Helper()
	switch {
	case r.Code >= 500:
		t.Errorf("%s: server error %d %.300s", what, r.Code, r.Raw)
	case r.Code >= 400 && (r.Status != "error" || r.Message == ""):
		t.Errorf("%s: %d without an error envelope: %.300s", what, r.Code, r.Raw)
	case r.Code < 400 && r.Status != "ok":
		t.Errorf("%s: %d without an ok envelope: %.300s", what, r.Code, r.Raw)
	}
}

// TestGarbageNeverServerError sends every route garbage: bodies of wrong
// types, huge numbers, 10,000-level (and deeper) nesting, invalid UTF-8,
// NUL bytes, wrong content, ids that are no UUID, too long or name
// nothing, and bad query parameters. Every answer is an envelope with a 4xx
// (a 2xx only where the garbage is ignored: an optional empty body, or a
// body on a route that reads none), never a 500; the tenant's flow is
// unchanged by refused requests.
func TestGarbageNeverServerError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.env.NewTenant(t)
	f := b.create(t, tn, simpleFlow("victim", b.target.URL))
	exec := b.env.Trigger(t, tn, f.ID, nil)
	b.env.WaitExecution(t, tn, exec.ID, 20*time.Second, "success", "failed")
	before := b.env.Do(t, tn, "GET", "/v1/webhooks/"+f.ID.String(), nil)

	for _, rt := range api.RoutesForTest() {
		method, path := rt.Method, rt.Path
		key := method + " " + path
		realID := f.ID.String()
		if strings.HasPrefix(path, "/v1/executions/") {
			realID = exec.ID.String()
		}
		// Destructive routes (the secret rotations among them) get a flow
		// of their own, so that the victim stays comparable.
		if method == "DELETE" || strings.HasSuffix(path, "/stop") || strings.HasSuffix(path, "/resume") || strings.HasSuffix(path, "-secret") || method == "PUT" {
			realID = b.create(t, tn, simpleFlow("scratch", b.target.URL)).ID.String()
		}
		if key == "GET /v1/openapi.json" {
			continue // a static document, not an envelope; TestOpenAPIServedWithoutToken
		}
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			for _, g := range garbageBodies() {
				p := pathParam.ReplaceAllString(path, realID)
				resp := b.env.DoInvalid(t, tn, method, p, g.body, "Content-Type", "application/json")
				what := fmt.Sprintf("%s %s with body %q", method, path, g.name)
				checkEnvelope(t, what, resp)
				optional := bodyOptional[key] && (g.name == "empty" || g.name == "whitespace" || g.name == "null") ||
					replaced[g.name] && (key != "POST /v1/webhooks" && key != "PUT /v1/webhooks/{id}" || strings.Contains(g.name, "predefined"))
				if readsBody[key] && !optional && resp.Code < 400 {
					t.Errorf("%s: want 4xx, got %d %.300s", what, resp.Code, resp.Raw)
				}
			}
			if pathParam.MatchString(path) {
				for _, id := range garbageIDs {
					p := pathParam.ReplaceAllString(path, id)
					resp := b.env.DoInvalid(t, tn, method, p, "{}")
					what := fmt.Sprintf("%s %s with id %.40q", method, path, id)
					checkEnvelope(t, what, resp)
					// The public hook answers an unknown flow like a wrong
					// secret, so that flow ids don't leak.
					want := http.StatusNotFound
					if key == "POST /v1/hooks/{flow_id}" {
						want = http.StatusUnauthorized
					}
					if resp.Code != want {
						t.Errorf("%s: want %d, got %d %.300s", what, want, resp.Code, resp.Raw)
					}
				}
			}
			if method == "GET" {
				for _, q := range garbageQueries {
					p := pathParam.ReplaceAllString(path, realID) + q
					resp := b.env.DoInvalid(t, tn, method, p, nil)
					checkEnvelope(t, fmt.Sprintf("GET %s%.60s", path, q), resp)
				}
			}
		})
	}
	// Headers: an over-long Idempotency-Key, wrong content types.
	trig := "/v1/webhooks/" + f.ID.String() + "/trigger"
	for _, k := range []string{strings.Repeat("k", 10000), "\xff\xfe", "a\tb", "é\x80"} {
		if r := b.env.DoInvalid(t, tn, "POST", trig, nil, "Idempotency-Key", k); r.Code != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].Field != "Idempotency-Key" {
			t.Errorf("trigger with Idempotency-Key %.20q: want 400 naming the header, got %d %s", k, r.Code, r.Raw)
		}
	}
	for _, ct := range []string{"text/xml", "multipart/form-data; boundary=x", "application/json; charset=latin1"} {
		r := b.env.DoInvalid(t, tn, "POST", "/v1/webhooks", "<flow/>", "Content-Type", ct)
		checkEnvelope(t, "create with Content-Type "+ct, r)
		if r.Code != http.StatusBadRequest {
			t.Errorf("create with Content-Type %q and an XML body: want 400, got %d", ct, r.Code)
		}
	}

	after := b.env.Do(t, tn, "GET", "/v1/webhooks/"+f.ID.String(), nil)
	var fb, fa flow.Flow
	before.Decode(t, &fb)
	after.Decode(t, &fa)
	if fa.Version != fb.Version || fa.Name != fb.Name || fa.UpdatedAt != fb.UpdatedAt || fa.DeletedAt != nil {
		t.Errorf("garbage changed the flow: before %s\nafter %s", before.Raw, after.Raw)
	}
	_ = uuid.Nil
}
