package engine_test

// End-to-end tests of the execution engine: real PostgreSQL, real River
// workers, the real API, and httptest servers as the steps' targets.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

type runBundle struct {
	env    *flowdtest.Env
	tenant *flowdtest.Tenant
	// tg is the target the test's steps call.
	tg *flowdtest.Target
}

// setupRun returns a new tenant of the package's shared flowd.
func setupRun(t *testing.T) *runBundle {
	t.Helper()
	return newRunBundle(t, flowdtest.Shared(t))
}

// setupRunWith returns a new tenant of a flowd of the test's own, made
// with opts.
func setupRunWith(t *testing.T, opts *flowdtest.Options) *runBundle {
	t.Helper()
	return newRunBundle(t, flowdtest.New(t, opts))
}

func newRunBundle(t *testing.T, env *flowdtest.Env) *runBundle {
	t.Helper()
	return &runBundle{env: env, tenant: env.NewTenant(t), tg: flowdtest.NewTarget(t)}
}

func (b *runBundle) createFlow(t *testing.T, def map[string]any) uuid.UUID {
	t.Helper()
	return b.env.CreateFlow(t, b.tenant, def).ID
}

func (b *runBundle) trigger(t *testing.T, flowID uuid.UUID, body any, headers ...string) *flow.Execution {
	t.Helper()
	e := b.env.Trigger(t, b.tenant, flowID, body, headers...)
	if e.Status != "scheduled" {
		t.Fatalf("triggered execution status %q, want scheduled", e.Status)
	}
	return e
}

func (b *runBundle) run(t *testing.T, def map[string]any, statuses ...string) *flow.Execution {
	t.Helper()
	id := b.createFlow(t, def)
	e := b.trigger(t, id, nil)
	if len(statuses) == 0 {
		statuses = []string{"success", "failed", "cancelled"}
	}
	return b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, statuses...)
}

func step(n int, method, url string, extra map[string]any) map[string]any {
	s := map[string]any{"step_number": n, "webhook_method": method, "webhook_url": url}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func flowDef(name string, steps []any, extra map[string]any) map[string]any {
	f := map[string]any{"name": name, "steps": steps, "retry_delay": 1, "retry_delay_unit": "seconds"}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// waitJobLetGo waits until the River job of an execution is no longer
// running (its Work returned).
func waitJobLetGo(t *testing.T, env *flowdtest.Env, execID uuid.UUID) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var state string
		err := env.Pool.QueryRow(context.Background(), `SELECT j.state::text FROM executions e
			JOIN river_job j ON j.id = e.job_id WHERE e.id = $1`, execID).Scan(&state)
		if err != nil {
			t.Fatalf("read the job of execution %s: %v", execID, err)
		}
		if state != "running" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job of execution %s still runs after 20s", execID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func attemptsOf(e *flow.Execution, stepNumber int) []flow.StepAttempt {
	var out []flow.StepAttempt
	for _, a := range e.Attempts {
		if a.StepNumber == stepNumber {
			out = append(out, a)
		}
	}
	return out
}

func TestChainPassesVariables(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.tg.JSON("/login", `{"session": {"token": "tok-123"}}`)
	b.tg.JSON("/contacts", `{"total": 42, "items": [{"id": 1}]}`)
	def := flowDef("chain", []any{
		step(1, "POST", b.tg.URL+"/login", map[string]any{"webhook_body": map[string]any{"user": "{{user}}"}}),
		step(2, "GET", b.tg.URL+"/contacts", map[string]any{
			"depends_on_step":    1,
			"webhook_headers":    map[string]any{"Authorization": "Bearer {{token}}"},
			"webhook_url_params": map[string]any{"page": "{{page}}"},
		}),
		step(3, "POST", b.tg.URL+"/push", map[string]any{
			"depends_on_step": 2,
			"webhook_body":    map[string]any{"count": "{{total}}", "label": "total={{total}}", "first": "{{items}}"},
		}),
	}, map[string]any{
		"predefinedVariables": []any{map[string]any{"name": "user", "value": "admin"}, map[string]any{"name": "page", "value": 2}},
		"variables": []any{
			map[string]any{"name": "token", "location": "session.token", "stepId": 1, "type": "body", "dataType": "string"},
			map[string]any{"name": "total", "location": "total", "stepId": 2, "type": "body", "dataType": "integer"},
			map[string]any{"name": "items", "location": "items", "stepId": 2, "type": "body", "dataType": "array"},
		},
	})
	e := b.run(t, def)
	if e.Status != "success" {
		t.Fatalf("execution %s: %v", e.Status, e.ErrorMessage)
	}
	if got := b.tg.Requests("/contacts"); len(got) != 1 || got[0].Header.Get("Authorization") != "Bearer tok-123" || got[0].Query != "page=2" {
		t.Fatalf("step 2 request: %+v", got)
	}
	push := b.tg.Requests("/push")
	if len(push) != 1 {
		t.Fatalf("step 3 sent %d times", len(push))
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(push[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"count": float64(42), "label": "total=42", "first": []any{map[string]any{"id": float64(1)}}}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("step 3 body (-want +got):\n%s", d)
	}
	if ct := push[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := push[0].Header.Get("User-Agent"); !strings.HasPrefix(ua, "flowd/") {
		t.Errorf("User-Agent %q", ua)
	}
	if k := push[0].Header.Get("Idempotency-Key"); k != fmt.Sprintf("%s:3", e.ID) {
		t.Errorf("Idempotency-Key %q", k)
	}
	// The record of step 2 hides the bearer token but keeps the rest.
	a2 := attemptsOf(e, 2)
	if len(a2) != 1 || a2[0].RequestHeaders["Authorization"] != "[redacted]" || a2[0].ResponseStatus == nil || *a2[0].ResponseStatus != 200 {
		t.Errorf("step 2 record: %+v", a2)
	}
	if e.ExecutedAt == nil || e.FinishedAt == nil || e.AttemptNumber != 1 {
		t.Errorf("execution timestamps/attempt: %+v", e.ExecutionSummary)
	}
}

func TestParallelBranchesJoin(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	var arrived sync.WaitGroup
	arrived.Add(2)
	both := make(chan struct{})
	go func() { arrived.Wait(); close(both) }()
	branch := func(body string) func(http.ResponseWriter, *http.Request, int) {
		return func(w http.ResponseWriter, r *http.Request, n int) {
			arrived.Done()
			select { // each branch waits until the other has arrived too
			case <-both:
			case <-time.After(30 * time.Second):
				http.Error(w, "branches did not overlap", 500)
				return
			}
			fmt.Fprint(w, body)
		}
	}
	b.tg.Handle("/a", branch(`{"a": "from-a"}`))
	b.tg.Handle("/b", branch(`{"b": "from-b"}`))
	def := flowDef("diamond", []any{
		step(1, "GET", b.tg.URL+"/a", nil),
		step(2, "GET", b.tg.URL+"/b", nil),
		step(3, "POST", b.tg.URL+"/join", map[string]any{"depends_on_step": 1, "webhook_body": map[string]any{"a": "{{a}}", "b": "{{b}}"}}),
	}, map[string]any{"variables": []any{
		map[string]any{"name": "a", "location": "a", "stepId": 1, "type": "body"},
		map[string]any{"name": "b", "location": "b", "stepId": 2, "type": "body"},
	}})
	e := b.run(t, def)
	if e.Status != "success" {
		t.Fatalf("execution %s: %v", e.Status, *e.ErrorMessage)
	}
	join := b.tg.Requests("/join")
	if len(join) != 1 || join[0].Body != `{"a":"from-a","b":"from-b"}` {
		t.Errorf("join body: %+v", join)
	}
}

func TestSuccessConditions(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.tg.Handle("/r", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Result", "fine")
		w.WriteHeader(201)
		fmt.Fprint(w, `{"data": {"state": "ok", "n": 3}}`)
	})
	for _, tc := range []struct {
		name string
		cond any
		ok   bool
	}{
		{"default 2xx", nil, true},
		{"status int", map[string]any{"status_code": 201}, true},
		{"status int wrong", map[string]any{"status_code": 200}, false},
		{"status list", map[string]any{"status_code": []any{200, 201}}, true},
		{"status list wrong", map[string]any{"status_code": []any{200, 204}}, false},
		{"key exists", map[string]any{"response_key": "data.state"}, true},
		{"key missing", map[string]any{"response_key": "data.nope"}, false},
		{"key equals", map[string]any{"response_key": "data.n", "expected_value": 3}, true},
		{"key differs", map[string]any{"response_key": "data.state", "expected_value": "bad"}, false},
		{"expression", map[string]any{"expression": `status == 201 && body.data.n > 2 && headers["x-result"] == "fine"`}, true},
		{"expression false", map[string]any{"expression": `body.data.n > 5`}, false},
		{"all must hold", map[string]any{"status_code": 201, "response_key": "data.state", "expected_value": "nope"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			extra := map[string]any{}
			if tc.cond != nil {
				extra["success_condition"] = tc.cond
			}
			e := b.run(t, flowDef("cond "+tc.name, []any{step(1, "GET", b.tg.URL+"/r", extra)}, nil))
			want := map[bool]string{true: "success", false: "failed"}[tc.ok]
			if e.Status != want {
				t.Errorf("status %s, want %s (error %v)", e.Status, want, e.ErrorMessage)
			}
			if !tc.ok && (e.ErrorMessage == nil || !strings.Contains(*e.ErrorMessage, "step 1")) {
				t.Errorf("error_message should name step 1: %v", e.ErrorMessage)
			}
		})
	}
}

func TestDataTypes(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.tg.Handle("/v", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Count", "17")
		fmt.Fprint(w, `{"s": "abc", "i": 12, "f": 1.5, "b": true, "bs": "false", "o": {"k": 1}, "a": [1, 2], "ns": "7"}`)
	})
	for _, tc := range []struct {
		name, typ, location, dataType, custom string
		want                                  string // JSON of the value step 2 receives, or "" when the step must fail
		errPart                               string
	}{
		{"string", "body", "s", "string", "", `"abc"`, ""},
		{"number to string", "body", "i", "string", "", `"12"`, ""},
		{"integer", "body", "i", "integer", "", `12`, ""},
		{"numeric string to integer", "body", "ns", "integer", "", `7`, ""},
		{"float to integer fails", "body", "f", "integer", "", "", "integer"},
		{"number", "body", "f", "number", "", `1.5`, ""},
		{"boolean", "body", "b", "boolean", "", `true`, ""},
		{"string boolean", "body", "bs", "boolean", "", `false`, ""},
		{"object", "body", "o", "object", "", `{"k":1}`, ""},
		{"array", "body", "a", "array", "", `[1,2]`, ""},
		{"string to number fails", "body", "s", "number", "", "", "number"},
		{"object from array fails", "body", "a", "object", "", "", "object"},
		{"header", "header", "X-Count", "integer", "", `17`, ""},
		{"status", "status", "", "integer", "", `200`, ""},
		{"custom", "custom", "", "string", "fixed", `"fixed"`, ""},
		{"missing with default", "body", "nope", "string", "dflt", `"dflt"`, ""},
		{"missing without default fails", "body", "nope", "string", "", "", "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := "/sink-" + strings.ReplaceAll(tc.name, " ", "-")
			v := map[string]any{"name": "v", "location": tc.location, "stepId": 1, "type": tc.typ, "dataType": tc.dataType}
			if tc.custom != "" {
				v["customValue"] = tc.custom
			}
			e := b.run(t, flowDef("types "+tc.name, []any{
				step(1, "GET", b.tg.URL+"/v", nil),
				step(2, "POST", b.tg.URL+path, map[string]any{"depends_on_step": 1, "webhook_body": map[string]any{"v": "{{v}}"}}),
			}, map[string]any{"variables": []any{v}}))
			if tc.want == "" {
				if e.Status != "failed" || e.ErrorMessage == nil || !strings.Contains(*e.ErrorMessage, `"v"`) || !strings.Contains(*e.ErrorMessage, tc.errPart) {
					t.Fatalf("want failure naming variable v and %q, got %s %v", tc.errPart, e.Status, e.ErrorMessage)
				}
				if n := len(b.tg.Requests(path)); n != 0 {
					t.Errorf("dependent step sent %d times after a failed extraction", n)
				}
				return
			}
			if e.Status != "success" {
				t.Fatalf("status %s: %v", e.Status, *e.ErrorMessage)
			}
			got := b.tg.Requests(path)
			if len(got) != 1 || got[0].Body != `{"v":`+tc.want+`}` {
				t.Errorf("step 2 body: want {\"v\":%s}, got %+v", tc.want, got)
			}
		})
	}
}

func TestStepRetriesKeepIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.tg.Handle("/flaky", func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 2 {
			http.Error(w, `{"error":"try again"}`, 500)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	e := b.run(t, flowDef("flaky", []any{step(1, "POST", b.tg.URL+"/flaky", map[string]any{"retry_limit": 2, "timeout": 60})}, nil))
	if e.Status != "success" {
		t.Fatalf("status %s: %v", e.Status, e.ErrorMessage)
	}
	reqs := b.tg.Requests("/flaky")
	if len(reqs) != 3 {
		t.Fatalf("want 3 deliveries, got %d", len(reqs))
	}
	key := fmt.Sprintf("%s:1", e.ID)
	for i, r := range reqs {
		if r.Header.Get("Idempotency-Key") != key {
			t.Errorf("delivery %d Idempotency-Key %q, want %q", i, r.Header.Get("Idempotency-Key"), key)
		}
		if i > 0 && r.At.Sub(reqs[i-1].At) < 900*time.Millisecond {
			t.Errorf("retry %d came after %s, want >= 1s retry delay", i, r.At.Sub(reqs[i-1].At))
		}
	}
	att := attemptsOf(e, 1)
	var outcomes []string
	for _, a := range att {
		outcomes = append(outcomes, fmt.Sprintf("%d:%s", a.Attempt, a.Outcome))
	}
	if d := cmp.Diff([]string{"1:failed", "2:failed", "3:success"}, outcomes); d != "" {
		t.Errorf("attempt records (-want +got):\n%s", d)
	}
}

func TestExecutionRetryRerunsOnlyFailedStep(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.tg.JSON("/first", `{"id": 5}`)
	b.tg.Handle("/second", func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			http.Error(w, "down", 503)
			return
		}
		fmt.Fprint(w, `{}`)
	})
	e := b.run(t, flowDef("exec retry", []any{
		step(1, "GET", b.tg.URL+"/first", nil),
		step(2, "POST", b.tg.URL+"/second", map[string]any{"depends_on_step": 1, "webhook_body": map[string]any{"id": "{{id}}"}}),
	}, map[string]any{"max_retries": 1, "variables": []any{map[string]any{"name": "id", "location": "id", "stepId": 1, "type": "body", "dataType": "integer"}}}))
	if e.Status != "success" || e.AttemptNumber != 2 {
		t.Fatalf("want success on attempt 2, got %s attempt %d: %v", e.Status, e.AttemptNumber, e.ErrorMessage)
	}
	if n := len(b.tg.Requests("/first")); n != 1 {
		t.Errorf("succeeded step 1 sent %d times, want 1", n)
	}
	second := b.tg.Requests("/second")
	if len(second) != 2 || second[1].Body != `{"id":5}` {
		t.Errorf("step 2 deliveries: %+v", second)
	}
}

func TestExecutionFailsAfterMaxRetries(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.tg.Handle("/down", func(w http.ResponseWriter, r *http.Request, n int) { http.Error(w, "down", 500) })
	e := b.run(t, flowDef("always down", []any{
		step(1, "GET", b.tg.URL+"/down", nil),
		step(2, "GET", b.tg.URL+"/never", map[string]any{"depends_on_step": 1}),
	}, map[string]any{"max_retries": 1}))
	if e.Status != "failed" || e.AttemptNumber != 2 || e.FinishedAt == nil || e.ErrorMessage == nil ||
		!strings.Contains(*e.ErrorMessage, "step 1") || !strings.Contains(*e.ErrorMessage, "500") {
		t.Fatalf("want failed after 2 attempts naming step 1 and the status: %+v %v", e.ExecutionSummary, e.ErrorMessage)
	}
	if n := len(b.tg.Requests("/never")); n != 0 {
		t.Errorf("dependent of a failed step sent %d times", n)
	}
	if e.Steps[2].Status != "skipped" {
		t.Errorf("step 2 state %q, want skipped", e.Steps[2].Status)
	}
}

func TestWebhookTimeout(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	// The target never answers (the gate stays closed): without the 1 s
	// timeout the execution would not end.
	b.tg.Gate(t, "/slow")
	e := b.run(t, flowDef("slow", []any{step(1, "GET", b.tg.URL+"/slow", map[string]any{"webhook_timeout": 1})}, nil))
	if e.Status != "failed" || !strings.Contains(*e.ErrorMessage, "timed out") {
		t.Fatalf("want a timeout failure, got %s %v", e.Status, e.ErrorMessage)
	}
}

func TestWholeStepTimeout(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.tg.Gate(t, "/slow") // never opened
	e := b.run(t, flowDef("step timeout", []any{step(1, "GET", b.tg.URL+"/slow", map[string]any{"webhook_timeout": 1, "timeout": 2, "retry_limit": 10})}, nil))
	if e.Status != "failed" || !strings.Contains(*e.ErrorMessage, "timeout") {
		t.Fatalf("want a step timeout failure, got %s %v", e.Status, e.ErrorMessage)
	}
	if n := len(b.tg.Requests("/slow")); n > 2 {
		t.Errorf("%d attempts within a 2s step timeout", n)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.tg.Handle("/busy", func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(429)
			return
		}
		fmt.Fprint(w, `{}`)
	})
	e := b.run(t, flowDef("busy", []any{step(1, "GET", b.tg.URL+"/busy", map[string]any{"retry_limit": 1})}, map[string]any{"retry_delay": 0}))
	if e.Status != "success" {
		t.Fatalf("status %s: %v", e.Status, e.ErrorMessage)
	}
	reqs := b.tg.Requests("/busy")
	if len(reqs) != 2 || reqs[1].At.Sub(reqs[0].At) < 1900*time.Millisecond {
		t.Fatalf("want the retry >= 2s after a 429 with Retry-After: 2, got %d requests", len(reqs))
	}
}

func TestCancelMidFlight(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	inFlight := make(chan struct{}, 1)
	aborted := make(chan struct{}, 1)
	b.tg.Handle("/hold", func(w http.ResponseWriter, r *http.Request, n int) {
		inFlight <- struct{}{}
		select {
		case <-r.Context().Done():
			aborted <- struct{}{}
		case <-time.After(20 * time.Second):
		}
	})
	id := b.createFlow(t, flowDef("cancel me", []any{
		step(1, "GET", b.tg.URL+"/hold", map[string]any{"webhook_timeout": 30}),
		step(2, "GET", b.tg.URL+"/after", map[string]any{"depends_on_step": 1}),
	}, nil))
	e := b.trigger(t, id, nil)
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("step 1 never arrived")
	}
	r := b.env.Do(t, b.tenant, "POST", "/v1/executions/"+e.ID.String()+"/cancel", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Code, r.Raw)
	}
	select {
	case <-aborted:
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight request was not aborted")
	}
	got := b.env.WaitExecution(t, b.tenant, e.ID, 10*time.Second, "cancelled")
	// Once the job is no longer running, its worker has let go: whatever it
	// would have sent, it has sent.
	waitJobLetGo(t, b.env, e.ID)
	if n := len(b.tg.Requests("/after")); n != 0 {
		t.Errorf("step 2 sent after cancel")
	}
	if got.FinishedAt == nil {
		t.Errorf("cancelled execution without finished_at")
	}
	if r := b.env.Do(t, b.tenant, "POST", "/v1/executions/"+e.ID.String()+"/cancel", nil); r.Code != http.StatusConflict {
		t.Errorf("second cancel: want 409, got %d", r.Code)
	}
	// A cancelled execution can be retried from its unfinished steps.
	b.tg.JSON("/hold", `{}`)
	// Until the worker has let go of the cancelled job, retry answers 409.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := b.env.Do(t, b.tenant, "POST", "/v1/executions/"+e.ID.String()+"/retry", nil)
		if r.Code == http.StatusAccepted {
			break
		}
		if r.Code != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("retry: %d %s", r.Code, r.Raw)
		}
	}
	done := b.env.WaitExecution(t, b.tenant, e.ID, 20*time.Second, "success", "failed")
	if done.Status != "success" || len(b.tg.Requests("/after")) != 1 {
		t.Errorf("retried execution: %s, step 2 sent %d times", done.Status, len(b.tg.Requests("/after")))
	}
}

func TestIdempotentTrigger(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	id := b.createFlow(t, flowDef("idem", []any{step(1, "GET", b.tg.URL+"/x", nil)}, nil))
	first := b.trigger(t, id, nil, "Idempotency-Key", "order-77")
	r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks/"+id.String()+"/trigger", nil, "Idempotency-Key", "order-77")
	var second flow.Execution
	r.Decode(t, &second)
	if r.Code != http.StatusAccepted || first.ID != second.ID {
		t.Fatalf("same key gave two executions: %s and %s", first.ID, second.ID)
	}
	other := b.trigger(t, id, nil, "Idempotency-Key", "order-78")
	if other.ID == first.ID {
		t.Fatal("different keys gave the same execution")
	}
	b.env.WaitExecution(t, b.tenant, first.ID, 20*time.Second, "success")
	b.env.WaitExecution(t, b.tenant, other.ID, 20*time.Second, "success")
	var list []flow.Execution
	b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+id.String()+"/executions", nil).Decode(t, &list)
	if len(list) != 2 || len(b.tg.Requests("/x")) != 2 {
		t.Errorf("want 2 executions and 2 deliveries, got %d and %d", len(list), len(b.tg.Requests("/x")))
	}
}

func TestEditDuringRunKeepsDefinition(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	release := make(chan struct{})
	b.tg.Handle("/hold", func(w http.ResponseWriter, r *http.Request, n int) {
		<-release
		fmt.Fprint(w, `{}`)
	})
	def := flowDef("editable", []any{
		step(1, "GET", b.tg.URL+"/hold", nil),
		step(2, "GET", b.tg.URL+"/old", map[string]any{"depends_on_step": 1}),
	}, nil)
	id := b.createFlow(t, def)
	e := b.trigger(t, id, nil)
	deadline := time.Now().Add(10 * time.Second)
	for len(b.tg.Requests("/hold")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	def["steps"] = []any{step(1, "GET", b.tg.URL+"/hold", nil), step(2, "GET", b.tg.URL+"/new", map[string]any{"depends_on_step": 1})}
	if r := b.env.Do(t, b.tenant, "PUT", "/v1/webhooks/"+id.String(), def); r.Code != 200 {
		t.Fatalf("edit: %d %s", r.Code, r.Raw)
	}
	close(release)
	got := b.env.WaitExecution(t, b.tenant, e.ID, 20*time.Second, "success", "failed")
	if got.Status != "success" || len(b.tg.Requests("/old")) != 1 || len(b.tg.Requests("/new")) != 0 || got.FlowVersion != 1 {
		t.Errorf("running execution should keep version 1: status %s old=%d new=%d version=%d",
			got.Status, len(b.tg.Requests("/old")), len(b.tg.Requests("/new")), got.FlowVersion)
	}
	e2 := b.trigger(t, id, nil)
	b.env.WaitExecution(t, b.tenant, e2.ID, 20*time.Second, "success")
	if len(b.tg.Requests("/new")) != 1 {
		t.Errorf("a new execution should use version 2")
	}
}

func TestUnknownVariableAtRunTime(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	id := b.createFlow(t, flowDef("mapping", []any{
		step(1, "POST", b.tg.URL+"/x", map[string]any{"webhook_body": map[string]any{"email": "{{email}}"}}),
	}, map[string]any{"flow_mapping": map[string]any{"email": "contact.email"}, "max_retries": 3}))
	ok := b.trigger(t, id, map[string]any{"payload": map[string]any{"contact": map[string]any{"email": "a@b.io"}}})
	bad := b.trigger(t, id, map[string]any{"payload": map[string]any{"contact": map[string]any{}}})
	if got := b.env.WaitExecution(t, b.tenant, ok.ID, 20*time.Second, "success", "failed"); got.Status != "success" {
		t.Fatalf("mapped payload: %s %v", got.Status, got.ErrorMessage)
	}
	got := b.env.WaitExecution(t, b.tenant, bad.ID, 20*time.Second, "success", "failed")
	if got.Status != "failed" || !strings.Contains(*got.ErrorMessage, `"email"`) || got.AttemptNumber != 1 {
		t.Errorf("want a failure naming the variable without retries, got %s attempt %d %v", got.Status, got.AttemptNumber, got.ErrorMessage)
	}
	if n := len(b.tg.Requests("/x")); n != 1 {
		t.Errorf("want only the mapped execution sent, got %d requests", n)
	}
	// trigger variables win over flow_mapping
	tv := b.trigger(t, id, map[string]any{"variables": map[string]any{"email": "over@ride.io"}, "payload": map[string]any{"contact": map[string]any{"email": "a@b.io"}}})
	b.env.WaitExecution(t, b.tenant, tv.ID, 20*time.Second, "success")
	reqs := b.tg.Requests("/x")
	if last := reqs[len(reqs)-1].Body; last != `{"email":"over@ride.io"}` {
		t.Errorf("trigger variable should override the mapping: %s", last)
	}
}

// TestBinaryResponseRecorded: a target that answers bytes PostgreSQL's
// text and jsonb refuse (a NUL, invalid UTF-8, an escaped NUL in JSON that
// a variable extracts) must not keep its execution from being recorded.
// It used to fail every group commit it was in, so the execution stayed
// in progress and its step was sent again and again.
func TestBinaryResponseRecorded(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.tg.JSON("/json", `{"v": "a\u0000b"}`)
	b.tg.Handle("/bin", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte("a\x00b\xff\xfec"))
	})
	got := b.run(t, map[string]any{
		"name":      "binary",
		"variables": []any{map[string]any{"name": "v", "location": "v", "stepId": 2, "type": "body", "dataType": "string"}},
		"steps": []any{
			map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": b.tg.URL + "/bin"},
			map[string]any{"step_number": 2, "webhook_method": "GET", "webhook_url": b.tg.URL + "/json", "depends_on_step": 1},
		},
	})
	if got.Status != flow.ExecutionStatusSuccess || len(got.Attempts) != 2 {
		t.Fatalf("execution %s with %d attempts, want success with 2", got.Status, len(got.Attempts))
	}
	if body := got.Attempts[0].ResponseBody; body != "a\uFFFDb\uFFFD\uFFFDc" {
		t.Errorf("recorded body %q, want the bytes with U+FFFD for what text cannot hold", body)
	}
	var vars map[string]string
	if err := json.Unmarshal(got.Steps[2].Vars, &vars); err != nil || vars["v"] != "a\uFFFDb" {
		t.Errorf("extracted variables %s (%v), want v with U+FFFD for the NUL", got.Steps[2].Vars, err)
	}
}
