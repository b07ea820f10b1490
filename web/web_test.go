package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/web"
)

const operatorToken = "operator-token-for-tests"

type testBundle struct {
	env    *flowdtest.Env
	tenant *flowdtest.Tenant
	target *flowdtest.Target
	// slow holds the target's /slow requests until it is opened.
	slow *flowdtest.Gate
}

// setup starts a flowd of the test's own with the execution view at /ui/
// and River's UI at /riverui/, and a target: every path answers JSON, /fail
// with status 500, /slow once slow is opened.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with the flowd's options changed by tweak (nil: none).
func setupWith(t *testing.T, tweak func(*flowdtest.Options)) *testBundle {
	t.Helper()
	opts := &flowdtest.Options{MountsFor: func(e *flowdtest.Env) map[string]http.Handler {
		ui, err := web.NewRiverUI(e.Sched.Client(), operatorToken, flowdtest.Logger())
		if err != nil {
			t.Fatalf("river UI: %v", err)
		}
		if err := ui.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		return map[string]http.Handler{
			web.Prefix:              web.New(e.Store, &web.Config{Logger: flowdtest.Logger()}),
			web.RiverUIPrefix + "/": ui,
		}
	}}
	if tweak != nil {
		tweak(opts)
	}
	env := flowdtest.New(t, opts)
	b := &testBundle{env: env, tenant: env.NewTenant(t), target: flowdtest.NewTarget(t)}
	b.target.Handle("", func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprintf(w, `{"path": %q, "token": "tok-1"}`, r.URL.Path)
	})
	b.slow = b.target.Gate(t, "/slow")
	return b
}

// createFlow creates a flow for tn and returns its id.
func (b *testBundle) createFlow(t *testing.T, tn *flowdtest.Tenant, def map[string]any) string {
	t.Helper()
	return b.env.CreateFlow(t, tn, def).ID.String()
}

// trigger starts an execution of the flow and returns it.
func (b *testBundle) trigger(t *testing.T, tn *flowdtest.Tenant, flowID string) *flow.Execution {
	t.Helper()
	return b.env.Trigger(t, tn, uuid.MustParse(flowID), nil)
}

// twoSteps is a flow whose step 2 waits for step 1 and sends a secret
// Authorization header and an api_key variable in its URL.
func (b *testBundle) twoSteps(name string) map[string]any {
	return map[string]any{
		"name": name, "retry_delay": 1, "retry_delay_unit": "seconds",
		"predefinedVariables": []any{map[string]any{"name": "api_key", "value": "key-SECRET-42"}},
		"steps": []any{
			map[string]any{"step_number": 2, "webhook_method": "POST", "webhook_url": b.target.URL + "/second?api_key={{api_key}}",
				"depends_on_step": 1, "webhook_headers": map[string]any{"Authorization": "Bearer hdr-SECRET-99"},
				"webhook_body": map[string]any{"hello": "world"}},
			map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": b.target.URL + "/first"},
		},
	}
}

// get fetches a page with Basic credentials whose password is token ("":
// no credentials).
func (b *testBundle) get(t *testing.T, path, token string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", b.env.URL+path, nil)
	if token != "" {
		req.SetBasicAuth("flowd", token)
	}
	code, hdr, body := flowdtest.Send(t, req)
	return code, hdr, string(body)
}

// inOrder tells whether the parts occur in s one after the other.
func inOrder(s string, parts ...string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

func TestExecutionPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	flowID := b.createFlow(t, b.tenant, b.twoSteps(`<b>"Contacts"</b> & co`))
	e := b.trigger(t, b.tenant, flowID)
	b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success")

	code, hdr, page := b.get(t, "/ui/executions/"+e.ID.String(), b.tenant.Token)
	if code != http.StatusOK {
		t.Fatalf("execution page: %d\n%s", code, page)
	}
	for _, want := range []string{
		`<span id="execution-status" class="status status-success">success</span>`,
		`&lt;b&gt;&#34;Contacts&#34;&lt;/b&gt; &amp; co`,
		`href="/ui/flows/` + flowID + `"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("execution page lacks %s", want)
		}
	}
	// Steps in dependency order with their final statuses.
	if !inOrder(page, `id="step-1" data-step="1" data-status="success"`, `GET `+b.target.URL+`/first`,
		`id="step-2" data-step="2" data-status="success"`, `waits for step 1`, `POST `+b.target.URL+`/second`) {
		t.Errorf("steps not in order with their statuses:\n%s", page)
	}
	// The records as stored: redacted request, response body.
	for _, want := range []string{`Authorization: [redacted]`, `&#34;hello&#34;: &#34;world&#34;`, `&#34;path&#34;: &#34;/second&#34;`} {
		if !strings.Contains(page, want) {
			t.Errorf("execution page lacks %s", want)
		}
	}
	for _, secret := range []string{"hdr-SECRET-99", "key-SECRET-42", `<b>"Contacts"`} {
		if strings.Contains(page, secret) {
			t.Errorf("execution page shows %q", secret)
		}
	}
	if strings.Contains(page, `http-equiv="refresh"`) {
		t.Error("a finished execution's page refreshes")
	}
	got := map[string]string{}
	for _, h := range []string{"Content-Type", "Cache-Control", "X-Frame-Options", "X-Content-Type-Options"} {
		got[h] = hdr.Get(h)
	}
	want := map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("headers (-want +got):\n%s", d)
	}
	if !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", hdr.Get("Content-Security-Policy"))
	}
}

func TestFailedExecutionPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	flowID := b.createFlow(t, b.tenant, map[string]any{
		"name": "failing", "retry_delay": 1, "retry_delay_unit": "seconds", "max_retries": 0,
		"steps": []any{
			map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": b.target.URL + "/fail", "retry_limit": 1},
			map[string]any{"step_number": 2, "webhook_method": "GET", "webhook_url": b.target.URL + "/ok", "depends_on_step": 1},
		},
	})
	e := b.trigger(t, b.tenant, flowID)
	b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "failed")
	_, _, page := b.get(t, "/ui/executions/"+e.ID.String(), b.tenant.Token)
	if !inOrder(page, `status-failed">failed</span>`, `step 1 failed: success_condition not met: status 500 is not 2xx`,
		`data-status="failed"`, `Attempt 1:`, `500`, `Attempt 2:`, `500`,
		`data-status="skipped"`, `skipped: step 1 did not succeed`, `No attempt yet.`) {
		t.Errorf("failed execution page:\n%s", page)
	}
	if n := strings.Count(page, `<details class="attempt">`); n != 2 {
		t.Errorf("%d attempts shown, want 2", n)
	}
}

func TestRunningExecutionRefreshes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	flowID := b.createFlow(t, b.tenant, map[string]any{
		"name": "slow", "retry_delay": 1, "retry_delay_unit": "seconds",
		"steps": []any{map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": b.target.URL + "/slow", "webhook_timeout": 60, "timeout": 60}},
	})
	e := b.trigger(t, b.tenant, flowID)
	b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "in_progress")
	_, _, page := b.get(t, "/ui/executions/"+e.ID.String(), b.tenant.Token)
	if !strings.Contains(page, `<meta http-equiv="refresh" content="2">`) || !strings.Contains(page, `status-in_progress`) {
		t.Errorf("running execution page does not refresh:\n%s", page)
	}
	b.slow.Open()
	b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success")
	if _, _, page = b.get(t, "/ui/executions/"+e.ID.String(), b.tenant.Token); strings.Contains(page, `http-equiv="refresh"`) {
		t.Errorf("finished execution page still refreshes")
	}
}

func TestIndexAndFlowPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	flowID := b.createFlow(t, b.tenant, b.twoSteps("contacts sync"))
	e := b.trigger(t, b.tenant, flowID)
	b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success")

	code, _, page := b.get(t, "/ui/", b.tenant.Token)
	if code != http.StatusOK {
		t.Fatalf("index: %d\n%s", code, page)
	}
	// Both pages use one executions table; the index adds each row's flow.
	if !inOrder(page, `id="flows"`, `<a href="/ui/flows/`+flowID+`">contacts sync</a>`, `Recent executions`,
		`<th>Execution</th><th>Flow</th><th>Status</th>`, `<a href="/ui/executions/`+e.ID.String()+`">`, `<a href="/ui/flows/`+flowID+`">contacts sync</a>`) {
		t.Errorf("index lacks the flow and its execution with its flow:\n%s", page)
	}
	code, _, page = b.get(t, "/ui/flows/"+flowID, b.tenant.Token)
	if code != http.StatusOK || !inOrder(page, `id="steps"`, `GET `+b.target.URL+`/first`, `POST `+b.target.URL+`/second?api_key=[redacted]`,
		`<th>Execution</th><th>Status</th>`, `/ui/executions/`+e.ID.String()) {
		t.Errorf("flow page: %d\n%s", code, page)
	}
	// The step graph names the newest execution; the list must not.
	_, _, page = b.get(t, "/ui/flows/"+flowID+"?status=failed", b.tenant.Token)
	if _, list, ok := strings.Cut(page, "<h2>Executions"); !ok || strings.Contains(list, e.ID.String()) {
		t.Errorf("status=failed lists a successful execution:\n%s", page)
	}
}

func TestPageErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := b.env.NewTenant(t)
	otherFlow := b.createFlow(t, other, b.twoSteps("other company's flow"))
	otherExec := b.trigger(t, other, otherFlow)
	b.env.WaitExecution(t, other, otherExec.ID, 30*time.Second, "success")

	for _, tc := range []struct {
		name, path, token string
		want              int
		message           string
	}{
		{"no credentials", "/ui/", "", http.StatusUnauthorized, "flowd API token as the password"},
		{"unknown token", "/ui/", "fd_not-a-token", http.StatusUnauthorized, "flowd API token as the password"},
		{"no credentials on an execution", "/ui/executions/" + otherExec.ID.String(), "", http.StatusUnauthorized, "flowd API token"},
		{"another company's execution", "/ui/executions/" + otherExec.ID.String(), b.tenant.Token, http.StatusNotFound, "not found"},
		{"another company's flow", "/ui/flows/" + otherFlow, b.tenant.Token, http.StatusNotFound, "not found"},
		{"not a uuid", "/ui/executions/x%3Cy", b.tenant.Token, http.StatusBadRequest, "&#34;x&lt;y&#34; is not an execution id"},
		{"bad status filter", "/ui/flows/" + otherFlow + "?status=done", other.Token, http.StatusBadRequest, "status must be one of"},
		{"bad cursor", "/ui/flows/" + otherFlow + "?cursor=zzz", other.Token, http.StatusBadRequest, "cursor"},
		{"no such page", "/ui/nothing", b.tenant.Token, http.StatusNotFound, "no such page"},
		{"own execution", "/ui/executions/" + otherExec.ID.String(), other.Token, http.StatusOK, "success"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, page := b.get(t, tc.path, tc.token)
			if code != tc.want || !strings.Contains(page, tc.message) {
				t.Errorf("GET %s: %d, want %d with %q:\n%s", tc.path, code, tc.want, tc.message, page)
			}
			if code == http.StatusUnauthorized && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: %q", hdr.Get("WWW-Authenticate"))
			}
		})
	}
	// The index shows only the signed-in company's flows.
	if _, _, page := b.get(t, "/ui/", b.tenant.Token); strings.Contains(page, "other company") {
		t.Error("index lists another company's flow")
	}
	// A Bearer token works too (curl).
	req, _ := http.NewRequest("GET", b.env.URL+"/ui/", nil)
	req.Header.Set("Authorization", "Bearer "+other.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("Bearer token: %d", resp.StatusCode)
	}
}

// TestEventPage: an event's page lists the executions it started with
// their status and the filters that failed; each execution's page links
// back to the event; another company's event is not found.
func TestEventPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := func(name, filter string) string {
		def := map[string]any{"name": name, "events": []string{"call.ended"},
			"steps": []any{map[string]any{"step_number": 1, "webhook_method": "POST", "webhook_url": b.target.URL + "/crm"}}}
		if filter != "" {
			def["event_filter"] = filter
		}
		return b.createFlow(t, b.tenant, def)
	}
	crm := sub("crm", "")
	broken := sub("broken filter", "event.data.missing > 1")
	r := b.env.Do(t, b.tenant, "POST", "/v1/events", map[string]any{"type": "call.ended", "data": map[string]any{"duration": 42}})
	var ev flow.Event
	r.Decode(t, &ev)
	if len(ev.Executions) != 1 {
		t.Fatalf("publish: %s", r.Raw)
	}
	x := ev.Executions[0]
	b.env.WaitExecution(t, b.tenant, x.ID, 30*time.Second, "success")

	code, _, page := b.get(t, "/ui/events/"+ev.ID.String(), b.tenant.Token)
	if code != http.StatusOK {
		t.Fatalf("event page: %d\n%s", code, page)
	}
	if !inOrder(page, `<code>call.ended</code>`, `&#34;duration&#34;: 42`, `id="event-executions"`,
		`href="/ui/executions/`+x.ID.String()+`"`, `href="/ui/flows/`+crm+`"`, `status-success">success`,
		`id="filter-errors"`, `href="/ui/flows/`+broken+`"`, `&lt;nil&gt; &gt; int`) {
		t.Errorf("event page lacks its executions or filter errors in order:\n%s", page)
	}
	if strings.Contains(page, `http-equiv="refresh"`) {
		t.Error("an event whose executions ended refreshes")
	}
	_, _, page = b.get(t, "/ui/executions/"+x.ID.String(), b.tenant.Token)
	if !strings.Contains(page, `id="event-link" href="/ui/events/`+ev.ID.String()+`"`) {
		t.Errorf("execution page does not link to its event:\n%s", page)
	}
	if code, _, _ := b.get(t, "/ui/events/"+ev.ID.String(), b.env.NewTenant(t).Token); code != http.StatusNotFound {
		t.Errorf("another company's event page: %d, want 404", code)
	}
}
