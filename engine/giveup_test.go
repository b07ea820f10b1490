package engine_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/flowdtest"
)

// An execution whose job keeps being cut short (its workers crash) is
// failed with a clear message once the job has run MaxRuns times, instead
// of River discarding the job and leaving the execution in progress.
func TestExecutionAbandonedAfterMaxRuns(t *testing.T) {
	t.Parallel()
	b := setupRunWith(t, &flowdtest.Options{OwnDatabase: true, NoWorker: true})
	id := b.createFlow(t, flowDef("crashy", []any{step(1, "GET", b.tg.URL+"/x", nil)}, nil))
	e := b.trigger(t, id, nil)

	w := engine.NewWorker(b.env.Store, &engine.WorkerConfig{HTTPClient: http.DefaultClient, MaxRuns: 3})
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	job := &river.Job[engine.ExecutionArgs]{
		JobRow: &rivertype.JobRow{ID: e.JobID, Attempt: 4, State: rivertype.JobStateRunning, ScheduledAt: time.Now()},
		Args:   engine.ExecutionArgs{ExecutionID: e.ID},
	}
	if err := w.Work(context.Background(), job); err != nil {
		t.Fatalf("Work: %v", err)
	}
	got := b.env.WaitExecution(t, b.tenant, e.ID, 5*time.Second, "failed")
	if got.ErrorMessage == nil || !strings.Contains(*got.ErrorMessage, "abandoned after 3 runs") || got.FinishedAt == nil {
		t.Errorf("want failed with a message naming the 3 runs, got %+v %v", got.ExecutionSummary, got.ErrorMessage)
	}
	if n := len(b.tg.Requests("/x")); n != 0 {
		t.Errorf("an abandoned execution sent %d requests", n)
	}
	if got.Steps[1].Status != "failed" {
		t.Errorf("step 1 %q, want failed", got.Steps[1].Status)
	}
}
