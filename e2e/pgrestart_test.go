package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/flowdtest"
)

// TestPostgresRestart restarts PostgreSQL (pg_ctl restart -m fast: every
// connection is cut) while two worker processes run 200 executions of a
// 3-step chain. All 200 succeed, each step has exactly one success attempt
// in the records, and no job is left behind. The test runs its own
// throwaway cluster: the shared server is never restarted.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: worker processes are slow; skipped with -short")
	}
	c := startCluster(t)
	b := setupOn(t, c.createDatabase(t, "flowd"))
	b.target.Handle("/step", func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprint(w, `{"ok": true}`)
	})
	step := func() map[string]any {
		return map[string]any{"webhook_method": "POST", "webhook_url": b.target.URL + "/step", "webhook_body": map[string]any{"x": 1}}
	}
	flowID := b.createFlow(t, []map[string]any{step(), step(), step()}, true)
	env := []string{"FLOWD_WORKERS=20", "FLOWD_HEARTBEAT_INTERVAL=1s", "FLOWD_RESCUE_AFTER=10s"}
	b.startWorker(t, "w1", env...)
	b.startWorker(t, "w2", env...)

	const n = 200
	for range n {
		b.trigger(t, flowID)
	}
	flowdtest.WaitFor(t, 60*time.Second, "a quarter of the steps sent", func() bool { return len(b.target.Requests("")) >= 3*n/4 })
	before := b.statusCounts(t, flowID)
	restartAt := time.Now()
	c.restart(t)
	t.Logf("PostgreSQL restarted in %s; executions before: %v", time.Since(restartAt).Round(time.Millisecond), before)
	if before["success"] == n {
		t.Fatal("every execution finished before the restart; the test proves nothing")
	}

	counts := b.waitFinished(t, flowID, n, 3*time.Minute)
	t.Logf("all finished %s after the restart; the target saw %d requests for %d steps",
		time.Since(restartAt).Round(time.Second), len(b.target.Requests("")), 3*n)
	if d := cmp.Diff(map[string]int{"success": n}, counts); d != "" {
		t.Errorf("execution statuses (-want +got):\n%s", d)
	}
	b.checkOneSuccessPerStep(t, flowID, 3)
	b.waitQueueSettled(t, time.Minute)
}
