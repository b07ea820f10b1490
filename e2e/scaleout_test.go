package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/scheduler"
)

// TestScaleOut runs 1,000 short executions on three worker processes
// sharing one database: every execution succeeds, each step has exactly one
// success attempt recorded, and more than one process did the work.
func TestScaleOut(t *testing.T) {
	b := setup(t)
	flowID := b.createFlow(t, []map[string]any{
		{"webhook_method": "GET", "webhook_url": b.target.URL + "/one"},
		{"webhook_method": "POST", "webhook_url": b.target.URL + "/two", "webhook_body": map[string]any{"n": 2}},
	}, true)
	workers := []*proc{b.startWorker(t, "w1"), b.startWorker(t, "w2"), b.startWorker(t, "w3")}

	const n = 1000
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				_, _, err := b.env.Sched.Trigger(context.Background(), scheduler.TriggerRequest{
					CompanyID: b.tenant.CompanyID, FlowID: flowID,
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("trigger: %v", err)
	}
	counts := b.waitFinished(t, flowID, n, 3*time.Minute)
	t.Logf("%d executions (%d steps) on 3 workers in %s", n, 2*n, time.Since(start).Round(time.Millisecond))
	if d := cmp.Diff(map[string]int{"success": n}, counts); d != "" {
		t.Errorf("execution statuses (-want +got):\n%s", d)
	}
	b.checkOneSuccessPerStep(t, flowID, 2)
	byWorker := b.workerCounts(t, flowID)
	t.Logf("attempts by worker: %v", byWorker)
	busy := 0
	for _, w := range workers {
		if byWorker[w.clientID] > 0 {
			busy++
		}
	}
	if busy < 2 || len(byWorker) != busy {
		t.Errorf("attempts by worker %v: want the work spread over more than one of the 3 processes, and only them", byWorker)
	}
	if got := len(b.target.Requests("")); got != 2*n {
		t.Errorf("the target saw %d requests, want %d (no process died: no step is sent twice)", got, 2*n)
	}
	b.waitQueueSettled(t, 30*time.Second)
}
