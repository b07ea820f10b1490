package engine_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/flowdtest"
)

// TestStepAttemptLogLines runs a flow whose steps carry secrets (an
// Authorization header, an api_key variable in the URL) through a flowd
// logging JSON at debug level as `flowd serve` does, and checks the one
// line per step attempt and that no secret reaches the log.
//
// Its flowd has a database of its own: on the package's database another
// flowd's worker (the shared one, which lives as long as the test binary)
// could run the execution and log it elsewhere.
func TestStepAttemptLogLines(t *testing.T) {
	t.Parallel()
	b, logs := setupLogged(t, &flowdtest.Options{OwnDatabase: true})
	env, tn := b.env, b.tenant

	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok": true}`)
	}))
	t.Cleanup(target.Close)
	// A port nothing listens on: the step fails with a connection error,
	// whose text would name the URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	const headerSecret, keySecret = "hdr-SECRET-7f3a9", "key-SECRET-c41d2"
	f := env.CreateFlow(t, tn, map[string]any{
		"name": "secrets", "retry_delay": 1, "retry_delay_unit": "seconds", "max_retries": 0,
		"predefinedVariables": []any{map[string]any{"name": "api_key", "value": "placeholder"}},
		"steps": []any{
			map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": target.URL + "/contacts?api_key={{api_key}}",
				"webhook_headers": map[string]any{"Authorization": "Bearer " + headerSecret}},
			map[string]any{"step_number": 2, "webhook_method": "POST", "depends_on_step": 1,
				"webhook_url": "http://" + closed + "/push/{{api_key}}?api_key={{api_key}}", "retry_limit": 0},
			// Not a URL once rendered: the error quotes it.
			map[string]any{"step_number": 3, "webhook_method": "GET", "webhook_url": "{{api_key}}/contacts"},
		},
	})
	e := env.Trigger(t, tn, f.ID, map[string]any{"variables": map[string]any{"api_key": keySecret}})
	env.WaitExecution(t, tn, e.ID, 30*time.Second, "failed")

	text := logs.String()
	checkNoSecrets(t, map[string]string{"the log lines": text}, map[string]string{"header": headerSecret, "key": keySecret})
	type line struct {
		Msg        string `json:"msg"`
		Execution  string `json:"execution_id"`
		Flow       string `json:"flow_id"`
		StepNumber int    `json:"step_number"`
		Attempt    int    `json:"attempt"`
		Outcome    string `json:"outcome"`
		StatusCode int    `json:"status_code"`
		Error      string `json:"error"`
	}
	var got []line
	for raw := range strings.Lines(text) {
		var keys map[string]any
		if err := json.Unmarshal([]byte(raw), &keys); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, raw)
		}
		if keys["msg"] != "step attempt" || keys["execution_id"] != e.ID.String() {
			continue
		}
		for _, k := range []string{"time", "level", "execution_id", "flow_id", "step_number", "attempt", "outcome", "status_code", "duration_ms", "error"} {
			if _, ok := keys[k]; !ok {
				t.Errorf("step attempt line lacks %q: %s", k, raw)
			}
		}
		var l line
		_ = json.Unmarshal([]byte(raw), &l)
		got = append(got, l)
	}
	slices.SortFunc(got, func(a, b line) int { return a.StepNumber - b.StepNumber })
	if len(got) == 3 {
		if !strings.Contains(got[1].Error, "send request") {
			t.Errorf("step 2 error %q does not say what failed", got[1].Error)
		}
		if !strings.Contains(got[2].Error, `"[redacted]/contacts"`) {
			t.Errorf("step 3 error %q does not show the masked URL", got[2].Error)
		}
		got[1].Error, got[2].Error = "(checked)", "(checked)"
	}
	want := []line{
		{"step attempt", e.ID.String(), f.ID.String(), 1, 1, "success", 200, ""},
		{"step attempt", e.ID.String(), f.ID.String(), 2, 1, "failed", 0, "(checked)"},
		{"step attempt", e.ID.String(), f.ID.String(), 3, 1, "failed", 0, "(checked)"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("step attempt lines (-want +got):\n%s", d)
	}
}
