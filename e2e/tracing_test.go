package e2e

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/telemetry"
)

// Secrets the traced flows use; none may appear in any exported span.
const (
	traceAPIKey = "sk_live_tracing_0123456789"
	traceBearer = "bearer_tracing_abcdefghij"
)

// TestTracingAcrossProcesses follows one execution of a 3-step flow from
// the API request, served by this process (the insert-only flowd), into a
// separate `flowd worker` process, both exporting to an OTLP/HTTP receiver:
// one trace, continued from the caller's traceparent, with the request,
// the trigger transaction, River's insert and work, each run of the
// execution (step 2 fails once, so the job runs again after its snooze)
// and an HTTP client span per step attempt, whose traceparent the target
// receives. A second flow with propagate_trace false, triggered through
// its hook with the hook secret in the query string, sends no traceparent.
// No secret (a URL parameter, an Authorization header, the API token, the
// hook secret) is in any attribute.
func TestTracingAcrossProcesses(t *testing.T) {
	t.Parallel()
	recv := newOTLPReceiver(t)
	tr, err := telemetry.New(context.Background(), telemetry.Config{EndpointURL: recv.URL + "/v1/traces", ServiceName: "flowd-api"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	b := setup(t, func(o *flowdtest.Options) {
		o.APIConfig = func(c *api.Config) { c.Wrap = tr.Handler }
		o.Scheduler = func(c *scheduler.Config) { c.Middleware, c.Tracer = tr.RiverMiddleware(), tr.Tracer() }
	})
	b.startWorker(t, "traced", "OTEL_EXPORTER_OTLP_ENDPOINT="+recv.URL, "OTEL_SERVICE_NAME=flowd-worker",
		"OTEL_BSP_SCHEDULE_DELAY=100")
	b.target.Handle("/t2", func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // retried after the flow's retry_delay (1 s)
			return
		}
		fmt.Fprint(w, `{"ok": true}`)
	})

	traced := b.env.CreateFlow(t, b.tenant, map[string]any{
		"name": t.Name(), "retry_delay": 1, "retry_delay_unit": "seconds",
		"predefinedVariables": []map[string]any{{"name": "api_key", "value": traceAPIKey}, {"name": "bearer_token", "value": traceBearer}},
		"steps": []map[string]any{
			{"step_number": 1, "webhook_method": "GET", "webhook_url": b.target.URL + "/t1?api_key={{api_key}}&page=1",
				"webhook_headers": map[string]any{"Authorization": "Bearer {{bearer_token}}"}},
			{"step_number": 2, "depends_on_step": 1, "webhook_method": "POST", "webhook_url": b.target.URL + "/t2", "retry_limit": 1,
				"webhook_body": map[string]any{"note": "{{bearer_token}}"}},
			{"step_number": 3, "depends_on_step": 2, "webhook_method": "PUT", "webhook_url": b.target.URL + "/t3"},
		},
	}).ID

	// The caller's own trace: flowd's spans must join it.
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	exec := b.env.Trigger(t, b.tenant, traced, nil, "traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")

	hookFlow, hookSecret := b.createHookFlow(t)
	hookResp := b.env.Do(t, nil, "POST", "/v1/hooks/"+hookFlow.String()+"?token="+hookSecret, map[string]any{"x": 1})
	if hookResp.Code != http.StatusAccepted {
		t.Fatalf("hook: %d %s", hookResp.Code, hookResp.Raw)
	}
	var hookExec struct {
		ExecutionID uuid.UUID `json:"execution_id"`
	}
	hookResp.Decode(t, &hookExec)

	b.env.WaitExecution(t, b.tenant, exec.ID, time.Minute, "success")
	b.env.WaitExecution(t, b.tenant, hookExec.ExecutionID, time.Minute, "success")

	// Every span of the execution: the request's, the worker's 4 attempts
	// and its group commits.
	var spans []*span
	flowdtest.WaitFor(t, 30*time.Second, "the spans of both processes", func() bool {
		_ = tr.ForceFlush(context.Background())
		spans = recv.Spans()
		works, runs := byName(spans, callerTrace, "river.work"), byName(spans, callerTrace, "flowd.execution.run")
		return len(byName(spans, callerTrace, "GET", "POST", "PUT")) == 4 && len(works) >= 2 && len(runs) == len(works) &&
			len(byName(spans, callerTrace, "POST /v1/webhooks/{id}/trigger")) == 1 &&
			len(byName(spans, "", "POST /v1/hooks/{flow_id}")) == 1 &&
			len(linkedCommits(spans, byName(spans, callerTrace, "flowd.execution.run"))) > 0
	})

	// The API process: request → trigger transaction → River insert.
	request := one(t, byName(spans, callerTrace, "POST /v1/webhooks/{id}/trigger"))
	checkSpan(t, request, "flowd-api", callerSpan, map[string]string{
		"http.request.method": "POST", "http.route": "/v1/webhooks/{id}/trigger",
		"url.path": "/v1/webhooks/" + traced.String() + "/trigger", "http.response.status_code": "202"})
	trigger := one(t, byName(spans, callerTrace, "flowd.trigger"))
	checkSpan(t, trigger, "flowd-api", request.spanID, map[string]string{
		"flowd.execution_id": exec.ID.String(), "flowd.flow_id": traced.String(), "flowd.trigger": "manual"})
	insert := one(t, byName(spans, callerTrace, "river.insert_many"))
	checkSpan(t, insert, "flowd-api", trigger.spanID, nil)

	// The worker process: each run of the job (two: step 2 waited for its
	// retry) is River's work span, a child of the insert, and flowd's run
	// span under it; each attempt is a client span of its run.
	works := byName(spans, callerTrace, "river.work")
	runs := byName(spans, callerTrace, "flowd.execution.run")
	if len(works) < 2 || len(runs) != len(works) {
		t.Fatalf("river.work spans %d, flowd.execution.run spans %d: want 2 or more each, as many runs as works", len(works), len(runs))
	}
	runIDs := map[string]bool{}
	for _, w := range works {
		checkSpan(t, w, "flowd-worker", insert.spanID, nil)
	}
	for _, r := range runs {
		if !slices.ContainsFunc(works, func(w *span) bool { return w.spanID == r.parentID }) {
			t.Errorf("run span %s has parent %s, not a river.work span", r.spanID, r.parentID)
		}
		checkSpan(t, r, "flowd-worker", r.parentID, map[string]string{"flowd.execution_id": exec.ID.String(), "flowd.flow_id": traced.String()})
		runIDs[r.spanID] = true
	}
	type key struct{ step, attempt string }
	attempts := map[key]*span{}
	for _, s := range byName(spans, callerTrace, "GET", "POST", "PUT") {
		if s.kind != tracepb.Span_SPAN_KIND_CLIENT {
			t.Errorf("attempt span %s: kind %v, want client", s.name, s.kind)
		}
		if !runIDs[s.parentID] {
			t.Errorf("attempt span %s has parent %s, not a run span", s.name, s.parentID)
		}
		if s.service != "flowd-worker" || s.attrs["flowd.execution_id"] != exec.ID.String() {
			t.Errorf("attempt span %s: service %q, execution %q", s.name, s.service, s.attrs["flowd.execution_id"])
		}
		attempts[key{s.attrs["flowd.step_number"], s.attrs["flowd.attempt"]}] = s
	}
	wantAttempts := []struct {
		step, attempt, method, path, status string
		failed                              bool
	}{
		{"1", "1", "GET", "/t1", "200", false},
		{"2", "1", "POST", "/t2", "503", true},
		{"2", "2", "POST", "/t2", "200", false},
		{"3", "1", "PUT", "/t3", "200", false},
	}
	for _, w := range wantAttempts {
		s := attempts[key{w.step, w.attempt}]
		if s == nil {
			t.Errorf("no span for step %s attempt %s", w.step, w.attempt)
			continue
		}
		if s.name != w.method || s.attrs["http.request.method"] != w.method || s.attrs["http.response.status_code"] != w.status ||
			!strings.HasPrefix(s.attrs["url.full"], b.target.URL+w.path) || s.statusError != w.failed ||
			s.attrs["server.address"] != "127.0.0.1" {
			t.Errorf("step %s attempt %s span: name %q attrs %v error %v", w.step, w.attempt, s.name, s.attrs, s.statusError)
		}
	}
	if got := attempts[key{"1", "1"}].attrs["url.full"]; strings.Contains(got, traceAPIKey) || !strings.Contains(got, "page=1") {
		t.Errorf("step 1 url.full %q: want the api_key masked and the rest kept", got)
	}

	// The target joined the trace: each request's traceparent names the
	// trace and the span of its attempt.
	for _, w := range wantAttempts {
		reqs := b.target.Requests(w.path)
		var matched bool
		for _, r := range reqs {
			want := "00-" + callerTrace + "-" + attempts[key{w.step, w.attempt}].spanID + "-01"
			if r.Header.Get("Traceparent") == want {
				matched = true
			}
		}
		if !matched {
			t.Errorf("no request to %s carried traceparent of step %s attempt %s; got %v", w.path, w.step, w.attempt, traceparents(reqs))
		}
	}

	// The group commits link to the runs they wrote for.
	if len(linkedCommits(spans, runs)) == 0 {
		t.Errorf("no flowd.group_commit span links to a run span")
	}

	// propagate_trace false: spans, but no traceparent on the wire.
	hookReq := one(t, byName(spans, "", "POST /v1/hooks/{flow_id}"))
	if hookReq.attrs["url.path"] != "/v1/hooks/"+hookFlow.String() {
		t.Errorf("hook request span url.path %q", hookReq.attrs["url.path"])
	}
	for _, r := range b.target.Requests("/np") {
		if r.Header.Get("Traceparent") != "" || r.Header.Get("Tracestate") != "" {
			t.Errorf("propagate_trace false: the target got traceparent %q", r.Header.Get("Traceparent"))
		}
	}
	if len(b.target.Requests("/np")) == 0 {
		t.Errorf("the hook flow's step was not sent")
	}

	// No secret in any attribute of any span.
	secrets := map[string]string{"api_key": traceAPIKey, "bearer_token": traceBearer, "API token": b.tenant.Token, "hook secret": hookSecret}
	for _, s := range recv.Spans() {
		for k, v := range s.attrs {
			for what, secret := range secrets {
				if strings.Contains(v, secret) {
					t.Errorf("span %s (%s) attribute %s holds the %s: %q", s.name, s.service, k, what, v)
				}
			}
		}
	}
}

// createHookFlow creates a one-step flow with propagate_trace false and
// returns it with its hook secret.
func (b *bundle) createHookFlow(t *testing.T) (uuid.UUID, string) {
	t.Helper()
	r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks", map[string]any{
		"name": t.Name() + " hook", "propagate_trace": false, "flow_direction": "inbound",
		"steps": []map[string]any{{"step_number": 1, "webhook_method": "POST", "webhook_url": b.target.URL + "/np"}},
	})
	var created struct {
		ID             uuid.UUID `json:"id"`
		HookSecret     string    `json:"hook_secret"`
		PropagateTrace bool      `json:"propagate_trace"`
	}
	r.Decode(t, &created)
	if r.Code != http.StatusCreated || created.PropagateTrace || created.HookSecret == "" {
		t.Fatalf("create hook flow: %d %s", r.Code, r.Raw)
	}
	return created.ID, created.HookSecret
}

// byName returns the spans of the trace (any trace for "") with one of
// the names.
func byName(spans []*span, traceID string, names ...string) []*span {
	var out []*span
	for _, s := range spans {
		if (traceID == "" || s.traceID == traceID) && slices.Contains(names, s.name) {
			out = append(out, s)
		}
	}
	return out
}

// linkedCommits returns the group commit spans linked to one of runs.
func linkedCommits(spans, runs []*span) []*span {
	var out []*span
	for _, s := range spans {
		if s.name == "flowd.group_commit" && slices.ContainsFunc(runs, func(r *span) bool { return slices.Contains(s.links, r.spanID) }) {
			out = append(out, s)
		}
	}
	return out
}

func one(t *testing.T, spans []*span) *span {
	t.Helper()
	if len(spans) != 1 {
		t.Fatalf("want one span, got %d", len(spans))
	}
	return spans[0]
}

// checkSpan checks a span's process, parent and attributes.
func checkSpan(t *testing.T, s *span, service, parentID string, attrs map[string]string) {
	t.Helper()
	if s.service != service || s.parentID != parentID {
		t.Errorf("span %s: service %q parent %q, want %q and %q", s.name, s.service, s.parentID, service, parentID)
	}
	for k, v := range attrs {
		if s.attrs[k] != v {
			t.Errorf("span %s: %s = %q, want %q", s.name, k, s.attrs[k], v)
		}
	}
}

func traceparents(reqs []flowdtest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Header.Get("Traceparent"))
	}
	return out
}

// otlpReceiver is an OTLP/HTTP traces endpoint (POST /v1/traces, protobuf)
// that keeps every span it is sent, decoded with the OTLP types, as a
// collector would receive them.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*span
}

// span is a received span with its ids in hex and its attributes as
// strings.
type span struct {
	service                   string
	name                      string
	kind                      tracepb.Span_SpanKind
	traceID, spanID, parentID string
	links                     []string // the linked spans' ids
	attrs                     map[string]string
	statusError               bool
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.add(&req)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *otlpReceiver) add(req *coltracepb.ExportTraceServiceRequest) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := attrMap(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := &span{
					service: service, name: s.GetName(), kind: s.GetKind(),
					traceID: hex.EncodeToString(s.GetTraceId()), spanID: hex.EncodeToString(s.GetSpanId()),
					parentID:    hex.EncodeToString(s.GetParentSpanId()),
					attrs:       attrMap(s.GetAttributes()),
					statusError: s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR,
				}
				for _, l := range s.GetLinks() {
					sp.links = append(sp.links, hex.EncodeToString(l.GetSpanId()))
				}
				// Resource attributes are exported too: a secret there
				// would leak as well.
				for k, v := range attrMap(rs.GetResource().GetAttributes()) {
					sp.attrs["resource."+k] = v
				}
				rc.spans = append(rc.spans, sp)
			}
		}
	}
}

// attrMap renders OTLP attributes as strings (numbers in decimal).
func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = anyValueString(kv.GetValue())
	}
	return m
}

func anyValueString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		if x.BoolValue {
			return "true"
		}
		return "false"
	case *commonpb.AnyValue_ArrayValue:
		out := ""
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				out += ","
			}
			out += anyValueString(e)
		}
		return out
	}
	return v.String()
}

// Spans returns the spans received so far.
func (rc *otlpReceiver) Spans() []*span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*span(nil), rc.spans...)
}
