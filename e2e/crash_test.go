package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/flowdtest"
)

// TestKillDuringRequest kills (SIGKILL) the worker process whose step
// request is in flight. With the default heartbeat (5 s) and rescue delay
// (30 s), the other worker process hands the execution back to the queue
// and runs it within 60 s of the death; the target sees the step again with
// the same Idempotency-Key, the records show the lost attempt and the
// success, and no job is left behind.
func TestKillDuringRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	hold := b.target.Gate(t, "/hold") // held until the worker dies and its connection closes
	flowID := b.createFlow(t, []map[string]any{{
		"webhook_method": "POST", "webhook_url": b.target.URL + "/hold", "webhook_body": map[string]any{"n": 1},
		"webhook_timeout": 300, "timeout": 600,
	}}, false)
	workers := []*proc{b.startWorker(t, "w1"), b.startWorker(t, "w2")}

	execID := b.trigger(t, flowID)
	flowdtest.WaitFor(t, 30*time.Second, "the step's request at the target", func() bool { return hold.Arrived() == 1 })
	holder := b.jobWorker(t, execID)
	var victim, survivor *proc
	for _, w := range workers {
		if w.clientID == holder {
			victim = w
		} else {
			survivor = w
		}
	}
	if victim == nil {
		t.Fatalf("the job is held by %q, not by one of the workers", holder)
	}
	victim.signal(t, syscall.SIGKILL)
	killedAt := time.Now()
	victim.wait(t, 10*time.Second)
	hold.Open() // the survivor's request passes

	counts := b.waitFinished(t, flowID, 1, 60*time.Second)
	t.Logf("execution finished %s after the kill", time.Since(killedAt).Round(time.Second))
	if counts["success"] != 1 {
		t.Fatalf("execution statuses %v, want success", counts)
	}
	b.waitQueueSettled(t, 10*time.Second)

	wantKey := execID.String() + ":1"
	reqs := b.target.Requests("")
	if len(reqs) < 2 {
		t.Errorf("the target saw the step %d times, want at least 2 (held, then again)", len(reqs))
	}
	for i, r := range reqs {
		if r.Header.Get("Idempotency-Key") != wantKey {
			t.Errorf("delivery %d: Idempotency-Key %q, want %q", i, r.Header.Get("Idempotency-Key"), wantKey)
		}
	}
	e := b.execution(t, execID)
	type rec struct{ Outcome, Worker string }
	var got []rec
	for _, a := range e.Attempts {
		got = append(got, rec{a.Outcome, a.WorkerID})
	}
	want := []rec{{"interrupted", victim.clientID}, {"success", survivor.clientID}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("attempts recorded (-want +got):\n%s", d)
	}
	if len(scanLines(survivor.log(), "execution handed back to the queue")) != 1 {
		t.Errorf("the survivor did not log the rescue:\n%s", tail(survivor.log(), 20))
	}
}
