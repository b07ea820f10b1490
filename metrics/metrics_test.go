package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/metrics"
	"github.com/flowd/flowd/scheduler"
)

type testBundle struct {
	env    *flowdtest.Env
	tenant *flowdtest.Tenant
	m      *metrics.Metrics
	target *flowdtest.Target
}

// setup starts a flowd of the test's own whose worker and API report to a
// fresh registry served at GET /metrics, and a target answering /ok with
// 200 and /fail with 500.
func setup(t *testing.T) *testBundle {
	t.Helper()
	m := metrics.New()
	env := flowdtest.New(t, &flowdtest.Options{
		Observer:  m,
		Mounts:    map[string]http.Handler{"GET /metrics": m.Handler("")},
		APIConfig: func(c *api.Config) { c.Wrap = m.Instrument },
	})
	target := flowdtest.NewTarget(t)
	target.Handle("/fail", func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Error(w, `{"error": "down"}`, http.StatusInternalServerError)
	})
	return &testBundle{env: env, tenant: env.NewTenant(t), m: m, target: target}
}

// run creates a flow, triggers it and waits for it to end.
func (b *testBundle) run(t *testing.T, def map[string]any) *flow.Execution {
	t.Helper()
	e := b.env.Trigger(t, b.tenant, b.env.CreateFlow(t, b.tenant, def).ID, nil)
	return b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success", "failed", "cancelled")
}

// scrape reads the metrics text of the env.
func (b *testBundle) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(b.env.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics text: %v", err)
	}
	return fams
}

// find returns the metric of family name whose labels are exactly labels.
func find(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if cmp.Equal(got, labels) {
			return m
		}
	}
	return nil
}

// value is the counter or gauge value of a metric, or -1 when absent.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	m := find(fams, name, labels)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

// count is the sample count of a histogram, or -1 when absent.
func count(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	m := find(fams, name, labels)
	if m == nil || m.Histogram == nil {
		return -1
	}
	return float64(m.Histogram.GetSampleCount())
}

// TestWorkerAndAPIMetrics is not parallel on purpose: every flowd started
// on the package's database works the same queue, so another one running
// at the same time could run these executions and count them elsewhere.
func TestWorkerAndAPIMetrics(t *testing.T) {
	b := setup(t)
	ok := b.run(t, map[string]any{
		"name": "two steps", "retry_delay": 1, "retry_delay_unit": "seconds",
		"steps": []any{
			map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": b.target.URL + "/ok"},
			map[string]any{"step_number": 2, "webhook_method": "POST", "webhook_url": b.target.URL + "/ok", "depends_on_step": 1},
		},
	})
	if ok.Status != "success" {
		t.Fatalf("first execution %s: %v", ok.Status, ok.ErrorMessage)
	}
	// One step retry (retry_limit 1), no execution retry (max_retries 0).
	bad := b.run(t, map[string]any{
		"name": "failing step", "retry_delay": 1, "retry_delay_unit": "seconds", "max_retries": 0,
		"steps": []any{
			map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": b.target.URL + "/fail", "retry_limit": 1},
		},
	})
	if bad.Status != "failed" {
		t.Fatalf("second execution %s, want failed", bad.Status)
	}
	if r := b.env.DoInvalid(t, nil, "GET", "/v1/webhooks", nil); r.Code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/webhooks without a token: %d", r.Code)
	}

	// The worker reports an execution's end just after committing it, so
	// the counter may lag the API by a moment.
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(10 * time.Second); ; {
		fams = b.scrape(t)
		if value(fams, "flowd_executions_finished_total", map[string]string{"status": "failed"}) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	none := map[string]string{}
	got := map[string]float64{
		"started":                value(fams, "flowd_executions_started_total", none),
		"finished success":       value(fams, "flowd_executions_finished_total", map[string]string{"status": "success"}),
		"finished failed":        value(fams, "flowd_executions_finished_total", map[string]string{"status": "failed"}),
		"finished cancelled":     value(fams, "flowd_executions_finished_total", map[string]string{"status": "cancelled"}),
		"attempts success 2xx":   value(fams, "flowd_step_attempts_total", map[string]string{"outcome": "success", "status_class": "2xx"}),
		"attempts failed 5xx":    value(fams, "flowd_step_attempts_total", map[string]string{"outcome": "failed", "status_class": "5xx"}),
		"step duration count":    count(fams, "flowd_step_duration_seconds", none),
		"retries step":           value(fams, "flowd_retries_scheduled_total", map[string]string{"kind": "step"}),
		"retries execution":      value(fams, "flowd_retries_scheduled_total", map[string]string{"kind": "execution"}),
		"steps in flight":        value(fams, "flowd_steps_in_flight", none),
		"queue lag count":        count(fams, "flowd_queue_lag_seconds", none),
		"api create 2xx":         value(fams, "flowd_http_requests_total", map[string]string{"route": "POST /v1/webhooks", "status_class": "2xx"}),
		"api trigger 2xx":        value(fams, "flowd_http_requests_total", map[string]string{"route": "POST /v1/webhooks/{id}/trigger", "status_class": "2xx"}),
		"api list 4xx":           value(fams, "flowd_http_requests_total", map[string]string{"route": "GET /v1/webhooks", "status_class": "4xx"}),
		"api trigger time count": count(fams, "flowd_http_request_duration_seconds", map[string]string{"route": "POST /v1/webhooks/{id}/trigger"}),
	}
	want := map[string]float64{
		"started":              2,
		"finished success":     1,
		"finished failed":      1,
		"finished cancelled":   0,
		"attempts success 2xx": 2,
		"attempts failed 5xx":  2,
		"step duration count":  4,
		"retries step":         1,
		"retries execution":    0,
		"steps in flight":      0,
		// One per job run: the step retry snoozes the failing execution's
		// job, which then runs a second time.
		"queue lag count":        3,
		"api create 2xx":         2,
		"api trigger 2xx":        2,
		"api list 4xx":           1,
		"api trigger time count": 2,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}
	for _, name := range []string{"go_goroutines", "process_open_fds"} {
		if fams[name] == nil {
			t.Errorf("collector metric %s missing", name)
		}
	}
	// No label carries a flow or execution id (the API routes are patterns).
	ids := []string{ok.ID.String(), ok.FlowID.String(), bad.ID.String(), bad.FlowID.String()}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				for _, id := range ids {
					if strings.Contains(lp.GetValue(), id) {
						t.Errorf("%s has label %s=%q", name, lp.GetName(), lp.GetValue())
					}
				}
			}
		}
	}
}

func TestMetricsToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(metrics.New().Handler("scrape-secret-123"))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Basic c2NyYXBlLXNlY3JldC0xMjM=", http.StatusUnauthorized},
		{"Bearer scrape-secret-123", http.StatusOK},
		{"bearer  scrape-secret-123", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.header, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusOK && !strings.Contains(string(body), "flowd_steps_in_flight 0") {
			t.Errorf("Authorization %q: no metrics in\n%s", tc.header, body)
		}
	}
}

func TestStatusClass(t *testing.T) {
	t.Parallel()
	got := map[int]string{}
	for _, c := range []int{0, 101, 200, 204, 301, 404, 429, 500, 599, 600} {
		got[c] = metrics.StatusClass(c)
	}
	want := map[int]string{0: "none", 101: "none", 200: "2xx", 204: "2xx", 301: "3xx", 404: "4xx", 429: "4xx", 500: "5xx", 599: "5xx", 600: "none"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("StatusClass (-want +got):\n%s", d)
	}
}

func TestServer(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.ExecutionStarted()
	srv := metrics.NewServer("127.0.0.1:0", m.Handler(""), nil)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "\nflowd_executions_started_total 1\n") {
		t.Errorf("GET /metrics: %d\n%s", code, body)
	}
	if code, _ := get("/v1/webhooks"); code != http.StatusNotFound {
		t.Errorf("GET /v1/webhooks on the metrics listener: %d, want 404", code)
	}
}

// TestEventMetrics: publishing counts the event and the executions it
// started, without a type label. On a database of its own, insert-only:
// the executions are not run, and no other test's are.
func TestEventMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	env := flowdtest.New(t, &flowdtest.Options{
		OwnDatabase: true,
		NoWorker:    true,
		Scheduler:   func(c *scheduler.Config) { c.Events = m },
		Mounts:      map[string]http.Handler{"GET /metrics": m.Handler("")},
	})
	b := &testBundle{env: env, tenant: env.NewTenant(t), m: m}
	for _, name := range []string{"hubspot", "pipedrive"} {
		env.CreateFlow(t, b.tenant, map[string]any{"name": name, "events": []string{"call.*"},
			"steps": []any{map[string]any{"step_number": 1, "webhook_method": "POST", "webhook_url": "https://crm.example.com/" + name}}})
	}
	publish := func(typ, key string) {
		if r := env.Do(t, b.tenant, "POST", "/v1/events", map[string]any{"type": typ}, "Idempotency-Key", key); r.Code != http.StatusAccepted {
			t.Fatalf("publish %s: %d %s", typ, r.Code, r.Raw)
		}
	}
	publish("call.ended", "k-1")
	publish("call.ended", "k-1") // a repeat starts nothing and is not counted
	publish("lead.created", "k-2")
	fams := b.scrape(t)
	for name, want := range map[string]float64{"flowd_events_published_total": 2, "flowd_event_executions_started_total": 2} {
		if got := value(fams, name, map[string]string{}); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
