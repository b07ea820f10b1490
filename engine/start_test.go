package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

// stored reads what the database holds of an execution: its status,
// whether executed_at is set, and the status of its step 1.
func (b *stopBundle) stored(t *testing.T, id uuid.UUID) (status string, executed bool, step1 string) {
	t.Helper()
	err := b.env.Pool.QueryRow(context.Background(), `SELECT status, executed_at IS NOT NULL, coalesce(steps->'1'->>'status', '')
		FROM executions WHERE id = $1`, id).Scan(&status, &executed, &step1)
	if err != nil {
		t.Fatal(err)
	}
	return status, executed, step1
}

// The first request of an execution that never started leaves before
// anything is written: with a StartGrace longer than the test, the
// database still holds the execution as triggered while the request is at
// the target, and the one checkpoint after it writes the start and the
// outcome together.
func TestFirstRequestLeavesBeforeAnyWrite(t *testing.T) {
	t.Parallel()
	b := setupStopWith(t, &engine.WorkerConfig{StartGrace: time.Hour})
	e, done := b.startHeld(t)
	if status, executed, step1 := b.stored(t, e.ID); status != "scheduled" || executed || step1 != "" {
		t.Errorf("stored while the first request is at the target: status %q, executed_at set %v, step 1 %q; want the trigger's row unchanged",
			status, executed, step1)
	}
	b.hold.Open()
	if err := <-done; err != nil {
		t.Fatalf("Work: %v", err)
	}
	got := b.env.WaitExecution(t, b.tenant, e.ID, 10*time.Second, "success")
	if got.ExecutedAt == nil || len(attemptsOf(got, 1)) != 1 || attemptsOf(got, 1)[0].Outcome != "success" {
		t.Errorf("after the run: executed_at %v, attempts %+v", got.ExecutedAt, attemptsOf(got, 1))
	}
}

// A first request that outlasts StartGrace has its execution shown
// in_progress, the step running, while it is still in flight.
func TestSlowFirstStepShownRunning(t *testing.T) {
	t.Parallel()
	b := setupStopWith(t, &engine.WorkerConfig{StartGrace: time.Millisecond})
	e, done := b.startHeld(t)
	flowdtest.WaitFor(t, 10*time.Second, "the execution in_progress with step 1 running", func() bool {
		status, executed, step1 := b.stored(t, e.ID)
		return status == "in_progress" && executed && step1 == string(flow.StepRunning)
	})
	b.hold.Open()
	if err := <-done; err != nil {
		t.Fatalf("Work: %v", err)
	}
	b.env.WaitExecution(t, b.tenant, e.ID, 10*time.Second, "success")
}

// A run of an execution that never started, after a run that may have
// sent its first request (a crash: no error recorded), records that
// attempt as lost with the previous worker before sending it again; after
// a run that said it sent nothing, it records nothing more.
func TestRunAfterUnwrittenStart(t *testing.T) {
	t.Parallel()
	b := setupStopWith(t, &engine.WorkerConfig{WorkerID: "w-now"})
	id := b.createFlow(t, flowDef("unwritten", []any{step(1, "GET", b.tg.URL+"/ok", nil)}, nil))
	for _, tc := range []struct {
		name   string
		errors []rivertype.AttemptError
		want   []string // outcome/worker of each attempt
	}{
		{"crash", nil, []string{"interrupted/w-dead", "success/w-now"}},
		{"rescued", []rivertype.AttemptError{{Attempt: 1, Error: "flowd rescuer w-x: worker w-dead is silent; job handed back to the queue"}},
			[]string{"interrupted/w-dead", "success/w-now"}},
		{"error before sending", []rivertype.AttemptError{{Attempt: 1, Error: "no request sent: read execution: connection refused"}},
			[]string{"success/w-now"}},
	} {
		e := b.trigger(t, id, nil)
		job := &river.Job[engine.ExecutionArgs]{
			JobRow: &rivertype.JobRow{ID: e.JobID, Attempt: 2, AttemptedBy: []string{"w-dead", "w-now"}, Errors: tc.errors,
				State: rivertype.JobStateRunning, ScheduledAt: time.Now()},
			Args: engine.ExecutionArgs{ExecutionID: e.ID},
		}
		if err := b.w.Work(context.Background(), job); err != nil {
			t.Fatalf("%s: Work: %v", tc.name, err)
		}
		got := b.env.WaitExecution(t, b.tenant, e.ID, 10*time.Second, "success")
		var recs []string
		for _, a := range attemptsOf(got, 1) {
			recs = append(recs, a.Outcome+"/"+a.WorkerID)
		}
		if d := cmp.Diff(tc.want, recs); d != "" {
			t.Errorf("%s: attempts (-want +got):\n%s", tc.name, d)
		}
	}
}

// A run that sends nothing and fails says so in its error (River keeps it
// in the job's errors for the next run), and errors.Is still finds the
// cause.
func TestErrorBeforeSendingSaysNothingSent(t *testing.T) {
	t.Parallel()
	b := setupStop(t)
	e := b.trigger(t, b.createFlow(t, flowDef("stopped", []any{step(1, "GET", b.tg.URL+"/ok", nil)}, nil)), nil)
	if err := b.w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := <-b.work(e, 1)
	if !errors.Is(err, engine.ErrStopped) || err == nil || !strings.HasPrefix(err.Error(), "no request sent: ") {
		t.Errorf("Work on a stopped worker: %v; want ErrStopped, its message starting %q", err, "no request sent: ")
	}
	if n := len(b.tg.Requests("")); n != 0 {
		t.Errorf("the target saw %d requests", n)
	}
}
