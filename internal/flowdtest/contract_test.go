package flowdtest

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/flowd/flowd/api"
)

// recordingTB is a test whose failures are kept instead of failing it, so
// that the contract check's own failures can be asserted.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, fmt.Sprint(args...))
}

func (r *recordingTB) Errorf(format string, args ...any) { r.Error(fmt.Sprintf(format, args...)) }

func (r *recordingTB) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.failed...)
}

// tamper makes the API break its own document on purpose, for
// GET /healthz?tamper=<what>.
func tamper(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		what := r.URL.Query().Get("tamper")
		if r.URL.Path != "/healthz" || what == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch what {
		case "status":
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte(`{"status": "error", "message": "teapot", "errors": [{"field": "body", "message": "x"}]}`))
		case "field":
			_, _ = w.Write([]byte(`{"status": "ok", "message": "up", "uptime": 5}`))
		case "required":
			_, _ = w.Write([]byte(`{"status": "ok"}`))
		case "type":
			_, _ = w.Write([]byte(`{"status": "fine", "message": "up"}`))
		}
	})
}

func setup(t *testing.T) *Env {
	t.Helper()
	return New(t, &Options{NoWorker: true, APIConfig: func(c *api.Config) { c.Wrap = tamper }})
}

// TestContractCatchesViolations: an undeclared status, an undeclared field
// or a missing required field in an answer, and a request the document
// does not allow, each fail the test that sent the request; a request that
// breaks the document on purpose (DoInvalid) has only its answer checked.
func TestContractCatchesViolations(t *testing.T) {
	t.Parallel()
	env := setup(t)
	tn := env.NewTenant(t)
	flow := map[string]any{"name": "f", "steps": []any{map[string]any{"step_number": 1, "webhook_url": "http://a.io", "webhook_method": "GET"}}}
	unknownField := map[string]any{"name": "f", "colour": "red", "steps": flow["steps"]}
	for _, tc := range []struct {
		name    string
		invalid bool // DoInvalid
		tn      *Tenant
		method  string
		path    string
		body    any
		want    string // in the failure; "" for none
	}{
		{"valid exchange", false, nil, "GET", "/healthz", nil, ""},
		{"valid create", false, tn, "POST", "/v1/webhooks", flow, ""},
		{"undeclared status", false, nil, "GET", "/healthz?tamper=status", nil, "418"},
		{"undeclared answer field", false, nil, "GET", "/healthz?tamper=field", nil, "uptime"},
		{"missing required answer field", false, nil, "GET", "/healthz?tamper=required", nil, "message"},
		{"answer field out of its enum", false, nil, "GET", "/healthz?tamper=type", nil, "status"},
		{"request with an unknown field", false, tn, "POST", "/v1/webhooks", unknownField, "colour"},
		{"request without a token", false, nil, "GET", "/v1/webhooks", nil, "uthoriz"},
		{"request for a route the document lacks", false, tn, "GET", "/v1/nothing-here", nil, "/v1/nothing-here"},
		{"invalid on purpose: only the answer is checked", true, tn, "POST", "/v1/webhooks", unknownField, ""},
		{"invalid on purpose, no token", true, nil, "GET", "/v1/webhooks", nil, ""},
		{"invalid on purpose, unknown route: an error envelope", true, tn, "GET", "/v1/nothing-here", nil, ""},
		{"invalid on purpose, the answer is still checked", true, nil, "GET", "/healthz?tamper=status", nil, "418"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordingTB{TB: t}
			if tc.invalid {
				env.DoInvalid(rec, tc.tn, tc.method, tc.path, tc.body)
			} else {
				env.Do(rec, tc.tn, tc.method, tc.path, tc.body)
			}
			got := rec.failures()
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("want no contract failure, got %q", got)
			case tc.want != "" && len(got) != 1:
				t.Errorf("want one contract failure mentioning %q, got %q", tc.want, got)
			case tc.want != "" && !strings.Contains(got[0], tc.want):
				t.Errorf("the failure does not mention %q: %q", tc.want, got[0])
			}
		})
	}
}

// TestContractCatchesStrayRequests: a request sent past Env.Do (a raw
// client) is checked too; its violation fails the next test that ends.
func TestContractCatchesStrayRequests(t *testing.T) {
	t.Parallel()
	env := setup(t)
	resp, err := http.Get(env.URL + "/healthz?tamper=field")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rec := &recordingTB{TB: t}
	env.contract.reportStray(rec)
	if got := rec.failures(); len(got) != 1 || !strings.Contains(got[0], "uptime") || !strings.Contains(got[0], "the test that sent it is unknown") {
		t.Errorf("want one stray failure naming the field, got %q", got)
	}
	rec = &recordingTB{TB: t}
	env.contract.reportStray(rec)
	if got := rec.failures(); len(got) != 0 {
		t.Errorf("a stray failure is reported once, got it again: %q", got)
	}
	// Env.Client names the test, like Do.
	rec = &recordingTB{TB: t}
	resp, err = env.Client(rec).Get(env.URL + "/healthz?tamper=required")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := rec.failures(); len(got) != 1 {
		t.Errorf("Env.Client: want one failure, got %q", got)
	}
}

// TestContractLeavesOutsideRoutesAlone: the routes README lists as outside
// the document are served untouched (not held, not checked).
func TestContractLeavesOutsideRoutesAlone(t *testing.T) {
	t.Parallel()
	served := map[string]bool{}
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served[r.URL.Path] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("not json"))
	})
	env := New(t, &Options{NoWorker: true, Mounts: map[string]http.Handler{"/metrics": h, "/ui/": h, "/riverui/": h}})
	for _, p := range []string{"/metrics", "/ui/flows", "/riverui/"} {
		rec := &recordingTB{TB: t}
		resp, err := env.Client(rec).Get(env.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := rec.failures(); len(got) != 0 || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d, failures %q", p, resp.StatusCode, got)
		}
	}
	if len(served) != 3 {
		t.Errorf("served %v, want the three outside routes", served)
	}
	if outside("/v1/webhooks") || outside("/metricsx") || !outside("/ui/x") {
		t.Error("outside() is wrong")
	}
}

// TestValidatorStaysInTests: the OpenAPI validator is a test dependency;
// the flowd binary links neither it nor this package.
func TestValidatorStaysInTests(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/flowd/flowd/cmd/flowd").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps listed %d packages", len(deps))
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "github.com/pb33f/") || p == "github.com/flowd/flowd/internal/flowdtest" {
			t.Errorf("cmd/flowd depends on %s", p)
		}
	}
}
