package e2e

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSIGTERMDrains sends SIGTERM to a worker process in the middle of
// executions of a 3-step chain: it stops launching steps, lets the steps in
// flight finish and records them, exits 0 well within the grace period, and
// a process started afterwards runs what is left. Every step of every
// execution succeeds exactly once in the records.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.target.handle("/slow", func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprint(w, `{"ok": true}`)
	})
	step := func() map[string]any {
		return map[string]any{"webhook_method": "GET", "webhook_url": b.target.URL + "/slow"}
	}
	flowID := b.createFlow(t, []map[string]any{step(), step(), step()}, true)
	const n = 20
	const grace = 20 * time.Second
	first := b.startWorker(t, "first", "FLOWD_SHUTDOWN_GRACE="+grace.String())
	for range n {
		b.trigger(t, flowID)
	}
	waitFor(t, 30*time.Second, "10 requests at the target", func() bool { return b.target.count() >= 10 })

	first.signal(t, syscall.SIGTERM)
	termAt := time.Now()
	if code := first.wait(t, grace+10*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM: %d, want 0", code)
	}
	took := time.Since(termAt)
	t.Logf("first worker exited %s after SIGTERM", took.Round(time.Millisecond))
	if took >= grace {
		t.Errorf("the worker took %s to stop, the grace period is %s: in-flight steps were cut", took, grace)
	}
	// Nothing the first process sent was cut short, and it launched nothing
	// once it began to stop (the time it logged; a step launched at that
	// instant may start a few milliseconds later).
	stopAt := logTime(t, first, "shutting down: stop fetching jobs")
	var cut, late int
	err := b.pool.QueryRow(t.Context(), `SELECT
			count(*) FILTER (WHERE a.outcome <> 'success'),
			count(*) FILTER (WHERE a.started_at > $3)
		FROM step_attempts a JOIN executions e ON e.id = a.execution_id
		WHERE e.flow_id = $1 AND a.worker_id = $2`, flowID, first.clientID, stopAt.Add(100*time.Millisecond)).Scan(&cut, &late)
	if err != nil {
		t.Fatal(err)
	}
	if cut != 0 || late != 0 {
		t.Errorf("first worker: %d attempts not successful (cut short), %d started after SIGTERM; want 0 and 0", cut, late)
	}
	done := b.statusCounts(t, flowID)["success"]
	if done == n {
		t.Fatalf("all %d executions finished before the first worker stopped; nothing was left to hand over", n)
	}

	second := b.startWorker(t, "second")
	counts := b.waitFinished(t, flowID, n, 60*time.Second)
	if d := cmp.Diff(map[string]int{"success": n}, counts); d != "" {
		t.Errorf("execution statuses (-want +got):\n%s", d)
	}
	b.checkOneSuccessPerStep(t, flowID, 3)
	byWorker := b.workerCounts(t, flowID)
	if byWorker[first.clientID] == 0 || byWorker[second.clientID] == 0 {
		t.Errorf("attempts by worker %v: want some by each process", byWorker)
	}
	b.waitQueueSettled(t, 10*time.Second)
}

// TestSIGTERMSlowStepRequeued sends SIGTERM to a worker process whose step
// request lasts longer than the grace period: after the grace the request
// is cancelled, recorded as interrupted, and the execution is handed back;
// another process sends the step again (same Idempotency-Key) and the
// execution succeeds.
func TestSIGTERMSlowStepRequeued(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arrived := make(chan struct{})
	b.target.handle("/slow-first", func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			close(arrived)
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return
		}
		fmt.Fprint(w, `{"ok": true}`)
	})
	flowID := b.createFlow(t, []map[string]any{{
		"webhook_method": "GET", "webhook_url": b.target.URL + "/slow-first", "webhook_timeout": 120, "timeout": 600,
	}}, false)
	const grace = 2 * time.Second
	first := b.startWorker(t, "first", "FLOWD_SHUTDOWN_GRACE="+grace.String())
	execID := b.trigger(t, flowID)
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the step's request did not arrive")
	}
	second := b.startWorker(t, "second")
	first.signal(t, syscall.SIGTERM)
	termAt := time.Now()
	if code := first.wait(t, grace+20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM: %d, want 0", code)
	}
	if took := time.Since(termAt); took < grace {
		t.Errorf("the worker stopped %s after SIGTERM, before the %s grace period ended", took, grace)
	}

	counts := b.waitFinished(t, flowID, 1, 60*time.Second)
	if counts["success"] != 1 {
		t.Fatalf("execution statuses %v, want success", counts)
	}
	e := b.execution(t, execID)
	type rec struct{ Outcome, Worker string }
	var got []rec
	for _, a := range e.Attempts {
		got = append(got, rec{a.Outcome, a.WorkerID})
	}
	want := []rec{{"interrupted", first.clientID}, {"success", second.clientID}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("attempts recorded (-want +got):\n%s", d)
	}
	wantKey := execID.String() + ":1"
	for i, r := range b.target.requests() {
		if r.Key != wantKey {
			t.Errorf("delivery %d: Idempotency-Key %q, want %q", i, r.Key, wantKey)
		}
	}
	b.waitQueueSettled(t, 10*time.Second)
}
