package engine_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

// TestBinaryResponseRecorded: a target that answers bytes PostgreSQL's
// text and jsonb refuse (a NUL, invalid UTF-8, an escaped NUL in JSON that
// a variable extracts) must not keep its execution from being recorded.
// It used to fail every group commit it was in, so the execution stayed
// in progress and its step was sent again and again.
func TestBinaryResponseRecorded(t *testing.T) {
	t.Parallel()
	env := flowdtest.Shared(t)
	tn := env.NewTenant(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/json" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"v": "a\u0000b"}`))
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte("a\x00b\xff\xfec"))
	}))
	t.Cleanup(target.Close)
	f := env.CreateFlow(t, tn, map[string]any{
		"name":      "binary",
		"variables": []any{map[string]any{"name": "v", "location": "v", "stepId": 2, "type": "body", "dataType": "string"}},
		"steps": []any{
			map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": target.URL + "/bin"},
			map[string]any{"step_number": 2, "webhook_method": "GET", "webhook_url": target.URL + "/json", "depends_on_step": 1},
		},
	})
	e := env.Trigger(t, tn, f.ID, nil)
	got := env.WaitExecution(t, tn, e.ID, 30*time.Second, flow.ExecutionStatusSuccess, flow.ExecutionStatusFailed)
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
