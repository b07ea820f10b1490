package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

// validBodies holds, for each operation that takes a JSON body, a body it
// accepts. A new operation with a body must be added here (the trailing
// data test fails until it is).
var validBodies = map[string]func(b *testBundle) string{
	"createFlow":   func(b *testBundle) string { return mustJSON(simpleFlow("trailing", b.target.URL)) },
	"replaceFlow":  func(b *testBundle) string { return mustJSON(simpleFlow("trailing", b.target.URL)) },
	"triggerFlow":  func(*testBundle) string { return `{"variables": {}, "payload": [1]}` },
	"cloneFlow":    func(*testBundle) string { return `{"flow_name": "x"}` },
	"inboundHook":  func(*testBundle) string { return `{"payload": [1]}` },
	"createToken":  func(*testBundle) string { return `{"scope": "read"}` },
	"publishEvent": func(*testBundle) string { return `{"type": "call.ended", "data": {"x": 1}}` },
}

func mustJSON(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(raw)
}

// TestTrailingDataRefused sends every operation of the document that takes
// a JSON body a body it accepts followed by trailing data ("}", "]", a
// second value): each answers 400 naming "body" and starts or stores
// nothing.
func TestTrailingDataRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, doc := openAPIDoc(t)
	tried := 0
	for key, o := range operations(t, doc) {
		if _, ok := o.op["requestBody"]; !ok {
			continue
		}
		id, _ := o.op["operationId"].(string)
		body, ok := validBodies[id]
		if !ok {
			t.Errorf("%s (%s) takes a body: add a body it accepts to validBodies", key, id)
			continue
		}
		method, path, _ := strings.Cut(key, " ")
		tn := b.env.NewTenant(t)
		f := b.createHooked(t, tn, simpleFlow("victim", b.target.URL))
		p := strings.NewReplacer("{id}", f.ID.String(), "{flow_id}", f.ID.String()).Replace(path)
		if strings.HasPrefix(path, "/v1/hooks/") {
			p = hookPath(f.ID, f.HookSecret)
		}
		valid := body(b)
		for _, tail := range []string{"}", "]", " }\n", "{}", `"x"`, "null", "\x00"} {
			r := b.env.DoInvalid(t, tn, method, p, valid+tail)
			if r.Code != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].Field != "body" {
				t.Errorf("%s with %q after %s: want 400 naming body, got %d %s", key, tail, valid, r.Code, r.Raw)
			}
			tried++
		}
		// Nothing was started or stored by the refused requests.
		var flows []flow.Flow
		b.env.Do(t, tn, "GET", "/v1/webhooks", nil).Decode(t, &flows)
		if len(flows) != 1 || flows[0].Version != 1 || flows[0].Name != "victim" {
			t.Errorf("%s: refused requests changed the company's flows: %+v", key, flows)
		}
		b.wantExecutions(t, tn, f.ID, 0, key+": refused requests")
		// The same body without the tail is accepted.
		if r := b.env.Do(t, tn, method, p, valid); r.Code >= 300 {
			t.Errorf("%s with %s: want 2xx, got %d %s", key, valid, r.Code, r.Raw)
		}
	}
	if tried < 5*7 {
		t.Errorf("only %d requests tried; want every operation with a body (5 at least)", tried)
	}
}

// TestErrorAnswersNameAField: every kind of error answer carries errors[]
// with one entry naming what is wrong (README "Errors").
func TestErrorAnswersNameAField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.tenant
	f := b.createHooked(t, tn, simpleFlow("errors", b.target.URL))
	tmpl := simpleFlow("template", b.target.URL)
	tmpl["is_template"] = true
	template := b.create(t, tn, tmpl)
	stopped := b.create(t, tn, simpleFlow("stopped", b.target.URL))
	b.env.Do(t, tn, "POST", "/v1/integrations/"+stopped.ID.String()+"/stop", nil)
	deleted := b.create(t, tn, simpleFlow("deleted", b.target.URL))
	b.env.Do(t, tn, "DELETE", "/v1/webhooks/"+deleted.ID.String(), nil)
	id := f.ID.String()
	stale := signed(f.HookSecret, "msg_1", time.Now().Add(-time.Hour), `{}`)
	badSig := signed("whsec_"+strings.Repeat("A", 32), "msg_2", time.Now(), `{}`)
	for _, tc := range []struct {
		name         string
		tn           *flowdtest.Tenant
		method, path string
		body         string
		headers      []string
		code         int
		field        string
	}{
		{"malformed JSON", tn, "POST", "/v1/webhooks", `{"name": `, nil, 400, "body"},
		{"body not an object", tn, "POST", "/v1/webhooks/" + id + "/trigger", `[1]`, nil, 400, "body"},
		{"body of the wrong type", tn, "POST", "/v1/integrations/" + id + "/clone", `{"flow_name": 5}`, nil, 422, "flow_name"},
		{"bad query parameter", tn, "GET", "/v1/webhooks/" + id + "/executions?limit=0", "", nil, 400, "limit"},
		{"bad cursor", tn, "GET", "/v1/webhooks/" + id + "/executions?cursor=x", "", nil, 400, "cursor"},
		{"bad header", tn, "POST", "/v1/webhooks/" + id + "/trigger", "", []string{"Idempotency-Key", strings.Repeat("k", 300)}, 400, "Idempotency-Key"},
		{"no token", nil, "GET", "/v1/webhooks", "", nil, 401, "Authorization"},
		{"unknown id", tn, "GET", "/v1/webhooks/" + "00000000-0000-0000-0000-000000000001", "", nil, 404, "id"},
		{"malformed id", tn, "GET", "/v1/executions/nope", "", nil, 404, "id"},
		{"unknown path", tn, "GET", "/v1/nothing", "", nil, 404, "path"},
		{"unknown path outside /v1", nil, "GET", "/nothing", "", nil, 404, "path"},
		{"method not allowed", tn, "PATCH", "/v1/webhooks/" + id, "", nil, 405, "method"},
		{"method not allowed on /healthz", nil, "POST", "/healthz", "", nil, 405, "method"},
		{"stopped flow", tn, "POST", "/v1/webhooks/" + stopped.ID.String() + "/trigger", "", nil, 409, "status"},
		{"template", tn, "POST", "/v1/webhooks/" + template.ID.String() + "/trigger", "", nil, 409, "is_template"},
		{"deleted flow's hook secret", tn, "POST", "/v1/webhooks/" + deleted.ID.String() + "/hook-secret", "", nil, 409, "status"},
		{"too large", tn, "POST", "/v1/webhooks", `{"name": "` + strings.Repeat("x", api.MaxBodyBytesDefault) + `"}`, nil, 413, "body"},
		{"invalid flow", tn, "POST", "/v1/webhooks", `{"name": "x", "steps": []}`, nil, 422, "steps"},
		{"hook body not JSON", nil, "POST", hookPath(f.ID, f.HookSecret), `{nope`, nil, 400, "body"},
		{"hook body unstorable", nil, "POST", hookPath(f.ID, f.HookSecret), `{"a": "\u0000"}`, nil, 422, "body.a"},
		{"hook without a secret", nil, "POST", "/v1/hooks/" + id, `{}`, nil, 401, "token"},
		{"hook with a wrong token", nil, "POST", hookPath(f.ID, "whsec_wrong"), `{}`, nil, 401, "token"},
		{"hook for an unknown flow", nil, "POST", hookPath(uuid.New(), "whsec_wrong"), `{}`, nil, 401, "token"},
		{"hook with a wrong signature", nil, "POST", "/v1/hooks/" + id, `{}`, badSig, 401, "webhook-signature"},
		{"hook with a stale timestamp", nil, "POST", "/v1/hooks/" + id, `{}`, stale, 401, "webhook-timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := b.env.DoInvalid(t, tc.tn, tc.method, tc.path, body, tc.headers...)
			want := []string{tc.field}
			var got []string
			for _, fe := range r.Errors {
				got = append(got, fe.Field)
			}
			if r.Code != tc.code || r.Status != "error" || !slices.Equal(got, want) || r.Errors[0].Message == "" {
				t.Errorf("want %d naming %v, got %d %.400s", tc.code, want, r.Code, r.Raw)
			}
		})
	}
	// 405 says what is allowed.
	if r := b.env.DoInvalid(t, tn, "PATCH", "/v1/webhooks/"+id, nil); r.Header.Get("Allow") != "GET, HEAD, PUT, DELETE" {
		t.Errorf("405 Allow: %q", r.Header.Get("Allow"))
	}
}

// TestRateLimitErrorsNameAField: 429 names what the limit is counted on.
func TestRateLimitErrorsNameAField(t *testing.T) {
	t.Parallel()
	env := flowdtest.New(t, &flowdtest.Options{NoWorker: true, APIConfig: func(c *api.Config) {
		c.RateLimit, c.RateBurst = 0.001, 1
		c.HookRateLimit, c.HookRateBurst = 0.001, 1
	}})
	tn := env.NewTenant(t)
	r := env.Do(t, tn, "POST", "/v1/webhooks", simpleFlow("limited", "http://127.0.0.1:9/x"))
	if r.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Code, r.Raw)
	}
	var f struct {
		flow.Flow
		HookSecret string `json:"hook_secret"`
	}
	r.Decode(t, &f)
	r = env.Do(t, tn, "GET", "/v1/webhooks", nil)
	if want := []flow.FieldError{{Field: "Authorization", Message: "rate limit exceeded; retry later"}}; r.Code != 429 || !cmp.Equal(r.Errors, want) {
		t.Errorf("API over its rate: want 429 naming Authorization, got %d %s", r.Code, r.Raw)
	}
	env.Do(t, nil, "POST", hookPath(f.ID, f.HookSecret), `{}`)
	r = env.Do(t, nil, "POST", hookPath(f.ID, f.HookSecret), `{}`)
	if want := []flow.FieldError{{Field: "flow_id", Message: "rate limit exceeded; retry later"}}; r.Code != 429 || !cmp.Equal(r.Errors, want) {
		t.Errorf("hook over its rate: want 429 naming flow_id, got %d %s", r.Code, r.Raw)
	}
}

// TestNullOnInput checks each decision about null on input (README
// "null on input"): on create and replace null is the field's default; a
// trigger or clone body that is just null is no body; clone refuses null
// for flow_name, tag_name and category_name, and takes it as "none" for
// dynamicVariables. Every request goes through Do: the document declares
// what the server accepts.
func TestNullOnInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.tenant
	def := simpleFlow("nulls", b.target.URL)
	def["flow_mapping"], def["variables"], def["predefinedVariables"] = nil, nil, nil
	def["retry_delay_unit"], def["flow_direction"], def["logo"], def["tag_name"] = nil, nil, nil, nil
	step := def["steps"].([]any)[0].(map[string]any)
	step["webhook_headers"], step["webhook_url_params"], step["retry_limit"], step["timeout"] = nil, nil, nil, nil
	step["success_condition"] = map[string]any{"status_code": nil, "expression": nil}
	f := b.create(t, tn, def)
	want := func(f *flow.Flow) {
		t.Helper()
		st := f.Steps[0]
		if string(f.FlowMapping) != "{}" || len(f.Variables) != 0 || len(f.PredefinedVariables) != 0 ||
			f.RetryDelayUnit != "seconds" || f.FlowDirection != "outbound" || f.TagName != "" ||
			string(st.WebhookHeaders) != "{}" || string(st.WebhookURLParams) != "{}" || st.RetryLimit != 0 || st.Timeout != flow.DefaultStepTimeout {
			t.Errorf("null did not give the defaults: %+v %+v", f, st)
		}
	}
	want(f)
	// PUT: a full replacement, so null is the default, not "keep".
	withRetries := simpleFlow("nulls", b.target.URL)
	withRetries["steps"].([]any)[0].(map[string]any)["retry_limit"] = 3
	b.env.Do(t, tn, "PUT", "/v1/webhooks/"+f.ID.String(), withRetries)
	r := b.env.Do(t, tn, "PUT", "/v1/webhooks/"+f.ID.String(), def)
	if r.Code != http.StatusOK {
		t.Fatalf("PUT with nulls: %d %s", r.Code, r.Raw)
	}
	var replaced flow.Flow
	r.Decode(t, &replaced)
	want(&replaced)

	if r := b.env.Do(t, tn, "POST", "/v1/webhooks/"+f.ID.String()+"/trigger", "null"); r.Code != http.StatusAccepted {
		t.Errorf("trigger with a null body: want 202, got %d %s", r.Code, r.Raw)
	}
	if r := b.env.Do(t, tn, "POST", "/v1/webhooks/"+f.ID.String()+"/trigger", `{"variables": null, "payload": null}`); r.Code != http.StatusAccepted {
		t.Errorf("trigger with null variables and payload: want 202, got %d %s", r.Code, r.Raw)
	}
	clone := "/v1/integrations/" + f.ID.String() + "/clone"
	if r := b.env.Do(t, tn, "POST", clone, "null"); r.Code != http.StatusCreated {
		t.Errorf("clone with a null body: want 201, got %d %s", r.Code, r.Raw)
	}
	if r := b.env.Do(t, tn, "POST", clone, `{"dynamicVariables": null}`); r.Code != http.StatusCreated {
		t.Errorf("clone with null dynamicVariables: want 201, got %d %s", r.Code, r.Raw)
	}
	before := b.executionCount(t, tn, f.ID)
	r = b.env.DoInvalid(t, tn, "POST", clone, `{"flow_name": null, "tag_name": null, "category_name": null}`)
	var fields []string
	for _, fe := range r.Errors {
		fields = append(fields, fe.Field)
	}
	if r.Code != http.StatusUnprocessableEntity || !slices.Equal(fields, []string{"category_name", "flow_name", "tag_name"}) {
		t.Errorf("clone with null names: want 422 naming the three, got %d %s", r.Code, r.Raw)
	}
	var flows []flow.Flow
	b.env.Do(t, tn, "GET", "/v1/webhooks", nil).Decode(t, &flows)
	if len(flows) != 3 || b.executionCount(t, tn, f.ID) != before {
		t.Errorf("the refused clone wrote something: %d flows", len(flows))
	}
}

// TestEnumsInAnyCase: enum values in any case are accepted (the document
// says so with case-insensitive patterns) and answered in the seed's case.
func TestEnumsInAnyCase(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := simpleFlow("cases", b.target.URL)
	def["retry_delay_unit"], def["flow_direction"] = "MINUTES", "Inbound"
	def["variables"] = []any{map[string]any{"name": "n", "type": "STATUS", "stepId": 1, "dataType": "Integer"}}
	def["steps"].([]any)[0].(map[string]any)["webhook_method"] = "post"
	f := b.create(t, b.tenant, def)
	if f.RetryDelayUnit != "minutes" || f.FlowDirection != "inbound" || f.Steps[0].WebhookMethod != "POST" ||
		f.Variables[0].Type != "status" || f.Variables[0].DataType != "integer" {
		t.Errorf("enums not written in the seed's case: %+v", f)
	}
	r := b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+f.ID.String()+"/executions?status=FAILED", nil)
	if r.Code != http.StatusOK {
		t.Errorf("status=FAILED: want 200, got %d %s", r.Code, r.Raw)
	}
}

// TestDocumentAsStrictAsServer: for each rule of a body, a value at the
// limit passes both the document and the server, and a value past it is
// refused by both (the server naming the field).
func TestDocumentAsStrictAsServer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	withFlow := func(change func(f, step map[string]any)) map[string]any {
		f := simpleFlow("strict", b.target.URL)
		change(f, f["steps"].([]any)[0].(map[string]any))
		return f
	}
	top := func(k string, v any) map[string]any { return withFlow(func(f, _ map[string]any) { f[k] = v }) }
	inStep := func(k string, v any) map[string]any { return withFlow(func(_, s map[string]any) { s[k] = v }) }
	cond := func(c any) map[string]any { return inStep("success_condition", c) }
	variable := func(v map[string]any) map[string]any { return top("variables", []any{v}) }
	type bodyCase struct {
		name  string
		ok    any    // accepted by both
		bad   any    // refused by both
		field string // named by the server for bad
	}
	cases := []bodyCase{
		{"name length", top("name", strings.Repeat("é", flow.MaxNameLen)), top("name", strings.Repeat("é", flow.MaxNameLen+1)), "name"},
		{"blank name", top("name", " x "), top("name", "   "), "name"},
		{"unknown field", top("tag_name", "t"), top("colour", "red"), "colour"},
		{"tag length", top("tag_name", strings.Repeat("t", 200)), top("tag_name", strings.Repeat("t", 201)), "tag_name"},
		{"workspace length", top("workspace_id", strings.Repeat("w", 100)), top("workspace_id", strings.Repeat("w", 101)), "workspace_id"},
		{"retry_delay", top("retry_delay", flow.MaxRetryDelay), top("retry_delay", flow.MaxRetryDelay+1), "retry_delay"},
		{"max_retries", top("max_retries", flow.MaxFlowRetries), top("max_retries", flow.MaxFlowRetries+1), "max_retries"},
		{"retry_delay_unit", top("retry_delay_unit", "Hours"), top("retry_delay_unit", "weeks"), "retry_delay_unit"},
		{"flow_direction", top("flow_direction", "OUTBOUND"), top("flow_direction", "sideways"), "flow_direction"},
		{"schedule", top("schedule", "*/5 * * * MON-FRI"), top("schedule", "every day"), "schedule"},
		{"schedule descriptor", top("schedule", "@every 90s"), top("schedule", "@fortnightly"), "schedule"},
		{"signing_secret form", top("signing_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), top("signing_secret", "a-raw-secret-of-forty-characters-012345"), "signing_secret"},
		{"signing_secret key length", top("signing_secret", "whsec_"+strings.Repeat("A", 84)+"AA=="), top("signing_secret", "whsec_"+strings.Repeat("A", 28)+"AA=="), "signing_secret"},
		{"signing_secret padding", top("signing_secret", "whsec_"+strings.Repeat("A", 40)+"AAA="), top("signing_secret", "whsec_"+strings.Repeat("A", 43)), "signing_secret"},
		{"generate_signing_secret", top("generate_signing_secret", true), top("generate_signing_secret", "yes"), "generate_signing_secret"},
		{"flow_mapping path", top("flow_mapping", map[string]any{"email": "contact.email"}), top("flow_mapping", map[string]any{"email": ""}), "flow_mapping.email"},
		{"flow_mapping name", top("flow_mapping", map[string]any{"e_1": "e"}), top("flow_mapping", map[string]any{"1e": "e"}), "flow_mapping.1e"},
		{"flow_mapping records", top("flow_mapping", map[string]any{"records": map[string]any{"step": 1, "path": "items"}}),
			top("flow_mapping", map[string]any{"records": map[string]any{"step": 1}}), "flow_mapping.records.path"},
		{"predefined name", top("predefinedVariables", []any{map[string]any{"name": "a.b-c", "value": 1}}),
			top("predefinedVariables", []any{map[string]any{"name": "1x", "value": 1}}), "predefinedVariables[0].name"},
		{"predefined unknown field", top("predefinedVariables", []any{map[string]any{"name": "a"}}),
			top("predefinedVariables", []any{map[string]any{"name": "a", "colour": 5}}), "predefinedVariables[0].colour"},
		{"variable type", variable(map[string]any{"name": "v", "type": "Status", "stepId": 1}),
			variable(map[string]any{"name": "v", "type": "cookie", "stepId": 1}), "variables[0].type"},
		{"variable stepId", variable(map[string]any{"name": "v", "type": "status", "stepId": 1}),
			variable(map[string]any{"name": "v", "type": "status"}), "variables[0].stepId"},
		{"variable dataType", variable(map[string]any{"name": "v", "type": "status", "stepId": 1, "dataType": "NUMBER"}),
			variable(map[string]any{"name": "v", "type": "status", "stepId": 1, "dataType": "float"}), "variables[0].dataType"},
		{"step_number", inStep("step_number", flow.MaxStepNumber), inStep("step_number", flow.MaxStepNumber+1), "steps[0].step_number"},
		{"webhook_method", inStep("webhook_method", "Patch"), inStep("webhook_method", "FETCH"), "steps[0].webhook_method"},
		{"webhook_url", inStep("webhook_url", "HTTPS://example.com/x"), inStep("webhook_url", "ftp://example.com/x"), "steps[0].webhook_url"},
		{"webhook_timeout", inStep("webhook_timeout", flow.MaxWebhookTimeout), inStep("webhook_timeout", flow.MaxWebhookTimeout+1), "steps[0].webhook_timeout"},
		{"timeout", inStep("timeout", flow.MaxStepTimeout), inStep("timeout", 0), "steps[0].timeout"},
		{"retry_limit", inStep("retry_limit", flow.MaxStepRetries), inStep("retry_limit", flow.MaxStepRetries+1), "steps[0].retry_limit"},
		{"depends_on_step", inStep("depends_on_step", nil), inStep("depends_on_step", 0), "steps[0].depends_on_step"},
		{"header name", inStep("webhook_headers", map[string]any{"X-Ok": "v"}), inStep("webhook_headers", map[string]any{"Bad Name": "v"}), `steps[0].webhook_headers["Bad Name"]`},
		{"header value", inStep("webhook_headers", map[string]any{"X-Ok": "v"}), inStep("webhook_headers", map[string]any{"X-Bad": "a\nb"}), "steps[0].webhook_headers.X-Bad"},
		{"header value type", inStep("webhook_headers", map[string]any{"X-Ok": "v"}), inStep("webhook_headers", map[string]any{"X-Bad": 5}), "steps[0].webhook_headers.X-Bad"},
		{"url param type", inStep("webhook_url_params", map[string]any{"a": 1, "b": true}), inStep("webhook_url_params", map[string]any{"a": []any{1}}), "steps[0].webhook_url_params.a"},
		{"step unknown field", inStep("id", "ignored"), inStep("colour", "red"), "steps[0].colour"},
		{"status_code", cond(map[string]any{"status_code": []any{100, 599}}), cond(map[string]any{"status_code": 600}), "steps[0].success_condition.status_code"},
		{"status_code list", cond(map[string]any{"status_code": 200}), cond(map[string]any{"status_code": []any{}}), "steps[0].success_condition.status_code"},
		{"condition key", cond(map[string]any{"response_key": "ok", "expected_value": true}), cond(map[string]any{"expected_value": true}), "steps[0].success_condition.expected_value"},
		{"condition unknown key", cond(nil), cond(map[string]any{"status": 200}), "steps[0].success_condition.status"},
	}
	tn := b.tenant
	f := b.create(t, tn, simpleFlow("target", b.target.URL))
	check := func(t *testing.T, method, path string, ok, bad any, field string) {
		t.Helper()
		if p := b.env.CheckRequest(method, path, ok); len(p) > 0 {
			t.Errorf("the document refuses what the server accepts: %v", p)
		}
		if r := b.env.Do(t, tn, method, path, ok); r.Code >= 300 {
			t.Errorf("the server refuses: %d %s", r.Code, r.Raw)
		}
		if p := b.env.CheckRequest(method, path, bad); len(p) == 0 {
			t.Errorf("the document accepts what the server refuses: %s", mustJSON(bad))
		}
		r := b.env.DoInvalid(t, tn, method, path, bad)
		if r.Code < 400 || r.Code >= 500 || !slices.ContainsFunc(r.Errors, func(fe flow.FieldError) bool { return fe.Field == field }) {
			t.Errorf("want a 4xx naming %s, got %d %s", field, r.Code, r.Raw)
		}
	}
	for _, tc := range cases {
		t.Run("create/"+tc.name, func(t *testing.T) {
			t.Parallel()
			check(t, "POST", "/v1/webhooks", tc.ok, tc.bad, tc.field)
		})
	}
	for _, tc := range []bodyCase{
		{"trigger variables", `{"variables": {"a": 1}}`, `{"variables": 5}`, "variables"},
		{"trigger unknown field", `{"payload": 1}`, `{"payloads": 1}`, "payloads"},
		{"trigger body type", `{}`, `5`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			check(t, "POST", "/v1/webhooks/"+f.ID.String()+"/trigger", tc.ok, tc.bad, tc.field)
		})
	}
	for _, tc := range []bodyCase{
		{"flow_name", `{"flow_name": " copy "}`, `{"flow_name": ""}`, "flow_name"},
		{"flow_name length", `{"flow_name": "` + strings.Repeat("n", 200) + `"}`, `{"flow_name": "` + strings.Repeat("n", 201) + `"}`, "flow_name"},
		{"flow_name null", `{"tag_name": "t"}`, `{"flow_name": null}`, "flow_name"},
		{"tag_name null", `{"tag_name": ""}`, `{"tag_name": null}`, "tag_name"},
		{"category length", `{"category_name": "c"}`, `{"category_name": "` + strings.Repeat("c", 201) + `"}`, "category_name"},
		{"dynamicVariables name", `{"dynamicVariables": {"base_url": "https://x.io"}}`, `{"dynamicVariables": {"1x": 1}}`, "dynamicVariables.1x"},
		{"unknown field", `{}`, `{"name": "x"}`, "name"},
	} {
		t.Run("clone/"+tc.name, func(t *testing.T) {
			t.Parallel()
			check(t, "POST", "/v1/integrations/"+f.ID.String()+"/clone", tc.ok, tc.bad, tc.field)
		})
	}
	for _, tc := range []bodyCase{
		{"token scope", `{"scope": "Trigger"}`, `{"scope": "owner"}`, "scope"},
		{"token name length", `{"scope": "read", "name": "` + strings.Repeat("n", api.MaxTokenNameLen) + `"}`,
			`{"scope": "read", "name": "` + strings.Repeat("n", api.MaxTokenNameLen+1) + `"}`, "name"},
		{"token expires_in", `{"scope": "read", "expires_in": "90d"}`, `{"scope": "read", "expires_in": "soon"}`, "expires_in"},
		{"token expires_at", `{"scope": "read", "expires_at": "` + time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339) + `"}`, `{"scope": "read", "expires_at": "tomorrow"}`, "expires_at"},
		{"token user_id", `{"scope": "read", "user_id": "` + tn.UserID.String() + `"}`, `{"scope": "read", "user_id": "me"}`, "user_id"},
		{"token unknown field", `{"scope": "read"}`, `{"scope": "read", "owner": "x"}`, "owner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			check(t, "POST", "/v1/tokens", tc.ok, tc.bad, tc.field)
		})
	}
	t.Run("list/status", func(t *testing.T) {
		t.Parallel()
		p := "/v1/webhooks/" + f.ID.String() + "/executions?status="
		if got := b.env.CheckRequest("GET", p+"Success", nil); len(got) > 0 {
			t.Errorf("status=Success: the document refuses: %v", got)
		}
		if got := b.env.CheckRequest("GET", p+"done", nil); len(got) == 0 {
			t.Errorf("status=done: the document accepts")
		}
		if r := b.env.DoInvalid(t, tn, "GET", p+"done", nil); r.Code != http.StatusBadRequest {
			t.Errorf("status=done: want 400, got %d", r.Code)
		}
	})
}
