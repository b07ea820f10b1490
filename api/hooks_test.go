package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

// recorded is a request a flowdtest.Target received, with its JSON body
// decoded.
type recorded struct {
	Query string
	Body  map[string]any
}

// received returns the requests tg received, in order.
func received(tg *flowdtest.Target) []recorded {
	var out []recorded
	for _, r := range tg.Requests("") {
		var body map[string]any
		_ = json.Unmarshal([]byte(r.Body), &body)
		out = append(out, recorded{Query: r.Query, Body: body})
	}
	return out
}

// hookedFlow is a flow as created, with its hook secret.
type hookedFlow struct {
	flow.Flow
	HookSecret string `json:"hook_secret"`
}

func (b *testBundle) createHooked(t *testing.T, tn *flowdtest.Tenant, body any) *hookedFlow {
	t.Helper()
	r := b.env.Do(t, tn, "POST", "/v1/webhooks", body)
	if r.Code != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Code, r.Raw)
	}
	var f hookedFlow
	r.Decode(t, &f)
	if !strings.HasPrefix(f.HookSecret, "whsec_") {
		t.Fatalf("create answered no hook secret: %s", r.Raw)
	}
	return &f
}

// mappedFlow posts the variables it maps from the hook payload.
func mappedFlow(url string) map[string]any {
	return map[string]any{
		"name":         "contact hook",
		"flow_mapping": map[string]any{"email": "contact.email", "count": "count", "tags": "tags"},
		"steps": []any{map[string]any{
			"step_number": 1, "webhook_url": url, "webhook_method": "POST",
			"webhook_body": map[string]any{"email": "{{email}}", "count": "{{count}}", "tags": "{{tags}}", "text": "n={{count}}"},
		}},
	}
}

type hookAnswer struct {
	ExecutionID uuid.UUID `json:"execution_id"`
	FlowID      uuid.UUID `json:"flow_id"`
	Status      string    `json:"status"`
	Duplicate   bool      `json:"duplicate"`
}

func hookPath(id uuid.UUID, token string) string {
	p := "/v1/hooks/" + id.String()
	if token != "" {
		p += "?token=" + url.QueryEscape(token)
	}
	return p
}

// signed returns Standard Webhooks headers for body.
func signed(secret, msgID string, at time.Time, body string) []string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return []string{"webhook-id", msgID, "webhook-timestamp", ts, "webhook-signature", flow.Sign(secret, msgID, ts, []byte(body))}
}

func (b *testBundle) hook(t *testing.T, path, body string, wantCode int, headers ...string) *hookAnswer {
	t.Helper()
	return b.hookCall(t, b.env.Do, path, body, wantCode, headers...)
}

// hookInvalid is hook for a call that breaks the OpenAPI document on
// purpose (a body that is not JSON): only the answer is checked.
func (b *testBundle) hookInvalid(t *testing.T, path, body string, wantCode int, headers ...string) {
	t.Helper()
	b.hookCall(t, b.env.DoInvalid, path, body, wantCode, headers...)
}

func (b *testBundle) hookCall(t *testing.T, do func(testing.TB, *flowdtest.Tenant, string, string, any, ...string) *flowdtest.Response,
	path, body string, wantCode int, headers ...string) *hookAnswer {
	t.Helper()
	r := do(t, nil, "POST", path, body, headers...)
	if r.Code != wantCode || (wantCode >= 400) != (r.Status == "error") {
		t.Fatalf("POST %s: want %d, got %d %s", path, wantCode, r.Code, r.Raw)
	}
	if wantCode != http.StatusAccepted {
		return nil
	}
	var a hookAnswer
	r.Decode(t, &a)
	return &a
}

func (b *testBundle) executionCount(t *testing.T, tn *flowdtest.Tenant, flowID uuid.UUID) int {
	t.Helper()
	var list []flow.Execution
	b.env.Do(t, tn, "GET", "/v1/webhooks/"+flowID.String()+"/executions?limit=200", nil).Decode(t, &list)
	return len(list)
}

// wantExecutions fails t unless flowID has want executions; what says
// which calls they come from.
func (b *testBundle) wantExecutions(t *testing.T, tn *flowdtest.Tenant, flowID uuid.UUID, want int, what string) {
	t.Helper()
	if n := b.executionCount(t, tn, flowID); n != want {
		t.Errorf("%s: %d executions, want %d", what, n, want)
	}
}

func TestHookTokenMapsPayloadIntoVariables(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := flowdtest.NewTarget(t)
	f := b.createHooked(t, b.tenant, mappedFlow(rec.URL))
	body := `{"contact": {"email": "ann@x.io"}, "count": 3, "tags": ["a", "b"], "ignored": true}`
	a := b.hook(t, hookPath(f.ID, f.HookSecret), body, http.StatusAccepted)
	if a.FlowID != f.ID || a.Status != "scheduled" || a.Duplicate {
		t.Errorf("hook answer: %+v", a)
	}
	done := b.env.WaitExecution(t, b.tenant, a.ExecutionID, 20*time.Second, "success", "failed")
	if done.Status != "success" || done.Trigger != flow.TriggerHook {
		t.Fatalf("hooked execution: %s trigger %s %v", done.Status, done.Trigger, done.ErrorMessage)
	}
	var payload map[string]any
	_ = json.Unmarshal(done.Payload, &payload)
	if payload["count"] != 3.0 {
		t.Errorf("execution payload: %s", done.Payload)
	}
	want := []recorded{{Body: map[string]any{"email": "ann@x.io", "count": 3.0, "tags": []any{"a", "b"}, "text": "n=3"}}}
	if d := cmp.Diff(want, received(rec)); d != "" {
		t.Errorf("target received (-want +got):\n%s", d)
	}

	// A '+' of the secret sent unencoded (it arrives as a space) still works.
	raw := "/v1/hooks/" + f.ID.String() + "?token=" + f.HookSecret
	b.hook(t, raw, body, http.StatusAccepted)

	// A mapping path missing from the payload leaves the variable unset:
	// the step that needs it fails and says which variable.
	a = b.hook(t, hookPath(f.ID, f.HookSecret), `{"count": 1, "tags": []}`, http.StatusAccepted)
	done = b.env.WaitExecution(t, b.tenant, a.ExecutionID, 20*time.Second, "success", "failed")
	if done.Status != "failed" || done.ErrorMessage == nil || !strings.Contains(*done.ErrorMessage, `variable "email" is not set`) {
		t.Errorf("missing mapped value: want failed naming email, got %s %v", done.Status, done.ErrorMessage)
	}
}

func TestHookSignature(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := flowdtest.NewTarget(t)
	f := b.createHooked(t, b.tenant, mappedFlow(rec.URL))
	path := hookPath(f.ID, "")
	body := `{"contact": {"email": "sig@x.io"}, "count": 1, "tags": []}`
	now := time.Now()

	a := b.hook(t, path, body, http.StatusAccepted, signed(f.HookSecret, "msg_1", now, body)...)
	done := b.env.WaitExecution(t, b.tenant, a.ExecutionID, 20*time.Second, "success", "failed")
	if done.Status != "success" {
		t.Fatalf("signed hook execution: %s %v", done.Status, done.ErrorMessage)
	}
	if got := received(rec); len(got) != 1 || got[0].Body["email"] != "sig@x.io" {
		t.Errorf("target received %+v", got)
	}

	otherSecret := api.NewSecret()
	for _, tc := range []struct {
		name    string
		headers []string
	}{
		{"wrong secret", signed(otherSecret, "msg_2", now, body)},
		{"other body", signed(f.HookSecret, "msg_3", now, `{"count": 2}`)},
		{"other id", func() []string {
			h := signed(f.HookSecret, "msg_4", now, body)
			h[1] = "msg_5"
			return h
		}()},
		{"stale timestamp", signed(f.HookSecret, "msg_6", now.Add(-6*time.Minute), body)},
		{"future timestamp", signed(f.HookSecret, "msg_7", now.Add(6*time.Minute), body)},
		{"timestamp not a number", []string{"webhook-id", "msg_8", "webhook-timestamp", "yesterday", "webhook-signature", flow.Sign(f.HookSecret, "msg_8", "yesterday", []byte(body))}},
		{"no webhook-id", signed(f.HookSecret, "", now, body)},
		{"garbage signature", []string{"webhook-id", "msg_9", "webhook-timestamp", strconv.FormatInt(now.Unix(), 10), "webhook-signature", "v1,AAAA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.env.Do(t, nil, "POST", path, body, tc.headers...)
			if r.Code != http.StatusUnauthorized || r.Status != "error" {
				t.Errorf("want 401, got %d %s", r.Code, r.Raw)
			}
		})
	}
	// Several signatures (secret rotation on the sender's side): one valid
	// is enough.
	h := signed(f.HookSecret, "msg_10", now, body)
	h[5] = "v1,AAAA " + h[5]
	b.hook(t, path, body, http.StatusAccepted, h...)
	b.wantExecutions(t, b.tenant, f.ID, 2, "the two valid calls")
}

func TestHookRefusesWrongOrMissingSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.createHooked(t, b.tenant, simpleFlow("hooked", b.target.URL))
	other := b.createHooked(t, b.tenant, simpleFlow("other", b.target.URL))
	var messages []string
	for _, tc := range []struct{ name, path string }{
		{"no token", hookPath(f.ID, "")},
		{"empty token", "/v1/hooks/" + f.ID.String() + "?token="},
		{"wrong token", hookPath(f.ID, api.NewSecret())},
		{"another flow's token", hookPath(f.ID, other.HookSecret)},
		{"token prefix", hookPath(f.ID, f.HookSecret[:len(f.HookSecret)-1])},
		{"unknown flow", hookPath(uuid.New(), f.HookSecret)},
		{"malformed flow id", "/v1/hooks/not-a-uuid?token=" + url.QueryEscape(f.HookSecret)},
	} {
		r := b.env.DoInvalid(t, nil, "POST", tc.path, `{"a": 1}`) // a malformed id breaks the document
		if r.Code != http.StatusUnauthorized || r.Status != "error" {
			t.Errorf("%s: want 401, got %d %s", tc.name, r.Code, r.Raw)
		}
		if tc.name != "no token" && tc.name != "empty token" {
			messages = append(messages, r.Message)
		}
	}
	// A wrong secret and an unknown flow look the same.
	for _, m := range messages[1:] {
		if m != messages[0] {
			t.Errorf("401 messages differ, which tells whether a flow exists: %q", messages)
			break
		}
	}
	// Hooks never accept an API token instead of the hook secret.
	r := b.env.Do(t, b.tenant, "POST", hookPath(f.ID, ""), `{}`)
	if r.Code != http.StatusUnauthorized {
		t.Errorf("hook with only a Bearer token: want 401, got %d %s", r.Code, r.Raw)
	}
	b.wantExecutions(t, b.tenant, f.ID, 0, "refused hook calls")
}

func TestHookDuplicateDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.createHooked(t, b.tenant, simpleFlow("dedup", b.target.URL))
	body := `{"n": 1}`
	sig := signed(f.HookSecret, "msg_dup", time.Now(), body)
	first := b.hook(t, hookPath(f.ID, ""), body, http.StatusAccepted, sig...)
	again := b.hook(t, hookPath(f.ID, ""), body, http.StatusAccepted, sig...)
	// The same webhook-id with the token scheme is the same delivery too.
	third := b.hook(t, hookPath(f.ID, f.HookSecret), `{"n": 2}`, http.StatusAccepted, "webhook-id", "msg_dup")
	if first.Duplicate || !again.Duplicate || !third.Duplicate || again.ExecutionID != first.ExecutionID || third.ExecutionID != first.ExecutionID {
		t.Errorf("repeated webhook-id: want the first execution, marked duplicate; got %+v, %+v, %+v", first, again, third)
	}
	k1 := b.hook(t, hookPath(f.ID, f.HookSecret), body, http.StatusAccepted, "Idempotency-Key", "order-7")
	k2 := b.hook(t, hookPath(f.ID, f.HookSecret), body, http.StatusAccepted, "Idempotency-Key", "order-7")
	if k1.Duplicate || !k2.Duplicate || k1.ExecutionID != k2.ExecutionID || k1.ExecutionID == first.ExecutionID {
		t.Errorf("repeated Idempotency-Key: got %+v then %+v", k1, k2)
	}
	// A manual trigger's Idempotency-Key is another namespace.
	r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks/"+f.ID.String()+"/trigger", nil, "Idempotency-Key", "order-7")
	var manual flow.Execution
	r.Decode(t, &manual)
	if r.Code != http.StatusAccepted || manual.ID == k1.ExecutionID {
		t.Errorf("manual trigger with a hook's key: want a new execution, got %d %s", r.Code, r.Raw)
	}
	b.hookInvalid(t, hookPath(f.ID, f.HookSecret), body, http.StatusBadRequest, "Idempotency-Key", strings.Repeat("k", api.MaxIdempotencyKeyLen+1))
	b.wantExecutions(t, b.tenant, f.ID, 3, "two deliveries, one manual")
}

func TestHookRefusesTemplatesStoppedAndDeleted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tplDef := simpleFlow("template", b.target.URL)
	tplDef["is_template"] = true
	tpl := b.createHooked(t, b.tenant, tplDef)
	stopped := b.createHooked(t, b.tenant, simpleFlow("stopped", b.target.URL))
	deleted := b.createHooked(t, b.tenant, simpleFlow("deleted", b.target.URL))
	if r := b.env.Do(t, b.tenant, "POST", "/v1/integrations/"+stopped.ID.String()+"/stop", nil); r.Code != http.StatusOK {
		t.Fatalf("stop: %d %s", r.Code, r.Raw)
	}
	if r := b.env.Do(t, b.tenant, "DELETE", "/v1/webhooks/"+deleted.ID.String(), nil); r.Code != http.StatusOK {
		t.Fatalf("delete: %d %s", r.Code, r.Raw)
	}
	for _, tc := range []struct {
		f    *hookedFlow
		word string
	}{{tpl, "template"}, {stopped, "stopped"}, {deleted, "deleted"}} {
		r := b.env.Do(t, nil, "POST", hookPath(tc.f.ID, tc.f.HookSecret), `{}`)
		if r.Code != http.StatusConflict || !strings.Contains(r.Message, tc.word) {
			t.Errorf("hook a %s flow: want 409 naming it, got %d %s", tc.word, r.Code, r.Raw)
		}
		// A wrong secret still answers 401: the state is not revealed.
		if r := b.env.Do(t, nil, "POST", hookPath(tc.f.ID, "whsec_wrong"), `{}`); r.Code != http.StatusUnauthorized {
			t.Errorf("hook a %s flow with a wrong secret: want 401, got %d", tc.word, r.Code)
		}
		b.wantExecutions(t, b.tenant, tc.f.ID, 0, tc.word+" flow")
	}
	if r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks/"+tpl.ID.String()+"/trigger", nil); r.Code != http.StatusConflict {
		t.Errorf("trigger a template: want 409, got %d %s", r.Code, r.Raw)
	}
}

func TestHookSecretRotate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.createHooked(t, b.tenant, simpleFlow("rotating", b.target.URL))
	rotate := "/v1/webhooks/" + f.ID.String() + "/hook-secret"
	if r := b.env.DoInvalid(t, nil, "POST", rotate, nil); r.Code != http.StatusUnauthorized {
		t.Errorf("rotate without a token: want 401, got %d", r.Code)
	}
	if r := b.env.Do(t, b.env.NewTenant(t), "POST", rotate, nil); r.Code != http.StatusNotFound {
		t.Errorf("rotate another company's flow: want 404, got %d", r.Code)
	}
	r := b.env.Do(t, b.tenant, "POST", rotate, nil)
	if r.Code != http.StatusOK {
		t.Fatalf("rotate: %d %s", r.Code, r.Raw)
	}
	var got struct {
		FlowID     uuid.UUID `json:"flow_id"`
		HookSecret string    `json:"hook_secret"`
		HookPath   string    `json:"hook_path"`
	}
	r.Decode(t, &got)
	if got.FlowID != f.ID || !strings.HasPrefix(got.HookSecret, "whsec_") || got.HookSecret == f.HookSecret || got.HookPath != "/v1/hooks/"+f.ID.String() {
		t.Fatalf("rotate answer: %s", r.Raw)
	}
	b.hook(t, hookPath(f.ID, f.HookSecret), `{}`, http.StatusUnauthorized)
	b.hook(t, hookPath(f.ID, ""), `{}`, http.StatusUnauthorized, signed(f.HookSecret, "m1", time.Now(), `{}`)...)
	b.hook(t, hookPath(f.ID, got.HookSecret), `{}`, http.StatusAccepted)
	b.hook(t, hookPath(f.ID, ""), `{}`, http.StatusAccepted, signed(got.HookSecret, "m2", time.Now(), `{}`)...)
	// The secret is never shown by reads.
	flow := b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+f.ID.String(), nil)
	if strings.Contains(string(flow.Raw), got.HookSecret) || strings.Contains(string(flow.Raw), "hook_secret") {
		t.Errorf("GET flow shows the hook secret: %s", flow.Raw)
	}
	if r := b.env.Do(t, b.tenant, "DELETE", "/v1/webhooks/"+f.ID.String(), nil); r.Code != http.StatusOK {
		t.Fatalf("delete: %d", r.Code)
	}
	if r := b.env.Do(t, b.tenant, "POST", rotate, nil); r.Code != http.StatusConflict {
		t.Errorf("rotate a deleted flow: want 409, got %d %s", r.Code, r.Raw)
	}
}

func TestHookBodyLimitsAndJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.createHooked(t, b.tenant, simpleFlow("limits", b.target.URL))
	big := `{"x":"` + strings.Repeat("x", api.MaxBodyBytesDefault) + `"}`
	b.hook(t, hookPath(f.ID, f.HookSecret), big, http.StatusRequestEntityTooLarge)
	b.hookInvalid(t, hookPath(f.ID, f.HookSecret), `{"unfinished": `, http.StatusBadRequest)
	b.hookInvalid(t, hookPath(f.ID, f.HookSecret), `name=value`, http.StatusBadRequest)
	// Authentication comes before the body is judged.
	b.hookInvalid(t, hookPath(f.ID, "whsec_wrong"), `{"unfinished": `, http.StatusUnauthorized)
	b.wantExecutions(t, b.tenant, f.ID, 0, "refused bodies")
	// An empty body is a null payload; any JSON value is a payload.
	for _, body := range []string{"", `[1, 2]`, `"text"`} {
		a := b.hook(t, hookPath(f.ID, f.HookSecret), body, http.StatusAccepted)
		b.env.WaitExecution(t, b.tenant, a.ExecutionID, 20*time.Second, "success")
	}
}

func TestHookRateLimitPerFlow(t *testing.T) {
	t.Parallel()
	env := flowdtest.New(t, &flowdtest.Options{APIConfig: func(c *api.Config) {
		c.HookRateLimit = 0.001
		c.HookRateBurst = 2
	}})
	target := flowdtest.NewTarget(t)
	b := &testBundle{env: env, tenant: env.NewTenant(t), target: target}
	f := b.createHooked(t, b.tenant, simpleFlow("limited", target.URL))
	g := b.createHooked(t, b.tenant, simpleFlow("neighbour", target.URL))
	b.hook(t, hookPath(f.ID, f.HookSecret), `{}`, http.StatusAccepted)
	b.hook(t, hookPath(f.ID, f.HookSecret), `{}`, http.StatusAccepted)
	r := env.Do(t, nil, "POST", hookPath(f.ID, f.HookSecret), `{}`)
	if r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("third call within the burst of 2: want 429 with Retry-After, got %d %s", r.Code, r.Raw)
	}
	// Unauthenticated calls do not spend a flow's budget; other flows have
	// their own.
	b.hook(t, hookPath(g.ID, "whsec_wrong"), `{}`, http.StatusUnauthorized)
	b.hook(t, hookPath(g.ID, g.HookSecret), `{}`, http.StatusAccepted)
	b.hook(t, hookPath(g.ID, g.HookSecret), `{}`, http.StatusAccepted)
	b.wantExecutions(t, b.tenant, f.ID, 2, "rate-limited flow")
}

// TestHookInboundRecords: an inbound flow started by a hook pulls records
// with the mapped variables and keeps them on the execution, mapped field
// by field, whole without fields, at most flow.MaxRecords.
func TestHookInboundRecords(t *testing.T) {
	t.Parallel()
	b := setup(t)
	items := make([]string, 0, flow.MaxRecords+5)
	for i := range flow.MaxRecords + 5 {
		items = append(items, fmt.Sprintf(`{"id": %d, "contact": {"email": "c%d@x.io"}}`, i, i))
	}
	items[1] = `{"id": 1}` // no contact: its mapped field is null
	rec := flowdtest.NewTarget(t)
	rec.JSON("/contacts", `{"data": {"items": [`+strings.Join(items, ",")+`]}}`)
	inbound := func(name string, fields map[string]any) map[string]any {
		records := map[string]any{"step": 1, "path": "data.items"}
		if fields != nil {
			records["fields"] = fields
		}
		return map[string]any{
			"name": name, "flow_direction": "inbound",
			"flow_mapping": map[string]any{"since": "since", "records": records},
			"steps": []any{map[string]any{
				"step_number": 1, "webhook_url": rec.URL + "/contacts", "webhook_method": "GET",
				"webhook_url_params": map[string]any{"since": "{{since}}"},
			}},
		}
	}
	mapped := b.createHooked(t, b.tenant, inbound("VTIGER BRING CONTACTS", map[string]any{"contact_id": "id", "mail": "contact.email"}))
	whole := b.createHooked(t, b.tenant, inbound("whole records", nil))

	a := b.hook(t, hookPath(mapped.ID, mapped.HookSecret), `{"since": "2026-01-01"}`, http.StatusAccepted)
	e := b.env.WaitExecution(t, b.tenant, a.ExecutionID, 20*time.Second, "success", "failed")
	if e.Status != "success" {
		t.Fatalf("inbound execution: %s %v", e.Status, e.ErrorMessage)
	}
	if got := received(rec); len(got) != 1 || got[0].Query != "since=2026-01-01" {
		t.Errorf("target received %+v, want one call with since=2026-01-01", got)
	}
	var records []map[string]any
	if err := json.Unmarshal(e.Records, &records); err != nil {
		t.Fatalf("records: %v: %s", err, e.Records)
	}
	if len(records) != flow.MaxRecords {
		t.Errorf("want %d records (the cap), got %d", flow.MaxRecords, len(records))
	}
	want := []map[string]any{
		{"contact_id": 0.0, "mail": "c0@x.io"},
		{"contact_id": 1.0, "mail": nil},
		{"contact_id": 2.0, "mail": "c2@x.io"},
	}
	if d := cmp.Diff(want, records[:3]); d != "" {
		t.Errorf("first records (-want +got):\n%s", d)
	}

	a = b.hook(t, hookPath(whole.ID, whole.HookSecret), `{"since": "2026-02-01"}`, http.StatusAccepted)
	e = b.env.WaitExecution(t, b.tenant, a.ExecutionID, 20*time.Second, "success", "failed")
	records = nil
	_ = json.Unmarshal(e.Records, &records)
	wantWhole := []map[string]any{{"id": 0.0, "contact": map[string]any{"email": "c0@x.io"}}, {"id": 1.0}}
	if e.Status != "success" || len(records) != flow.MaxRecords {
		t.Fatalf("whole records: %s, %d records", e.Status, len(records))
	}
	if d := cmp.Diff(wantWhole, records[:2]); d != "" {
		t.Errorf("records without fields are kept whole (-want +got):\n%s", d)
	}
}

func TestHookRefusesUnstorableJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := flowdtest.NewTarget(t)
	f := b.createHooked(t, b.tenant, mappedFlow(rec.URL))
	for _, body := range []string{
		`{"email": "a\u0000b"}`,
		`{"n": 1e400}`,
	} { // (a lone surrogate is stored as U+FFFD, as in flow definitions)
		r := b.env.DoInvalid(t, nil, "POST", hookPath(f.ID, f.HookSecret), body)
		if r.Code/100 != 4 || r.Status != "error" {
			t.Errorf("hook body %s: want a 4xx error, got %d %s", body, r.Code, r.Raw)
		}
	}
}

func TestHookUnauthorizedIsNoBearerChallenge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.createHooked(t, b.tenant, mappedFlow(b.target.URL))
	r := b.env.Do(t, nil, "POST", hookPath(f.ID, "wrong"), `{}`)
	if r.Code != http.StatusUnauthorized {
		t.Fatalf("want 401, got %d %s", r.Code, r.Raw)
	}
	if got := r.Header.Get("WWW-Authenticate"); got != "" {
		t.Errorf("hook 401 carries WWW-Authenticate %q; the hook takes a hook secret, not a Bearer token", got)
	}
}
