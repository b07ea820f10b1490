package engine_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

// stopBundle is an insert-only flowd on a database of the test's own (no
// River worker takes its jobs), a worker the test drives by calling Work
// itself, and a target whose /hold requests wait at a gate.
type stopBundle struct {
	*runBundle
	w    *engine.Worker
	hold *flowdtest.Gate
}

func setupStop(t *testing.T) *stopBundle {
	t.Helper()
	return setupStopWith(t, &engine.WorkerConfig{})
}

// setupStopWith is setupStop with a worker configured by cfg (its HTTP
// client and logger set here).
func setupStopWith(t *testing.T, cfg *engine.WorkerConfig) *stopBundle {
	t.Helper()
	b := &stopBundle{runBundle: setupRunWith(t, &flowdtest.Options{OwnDatabase: true, NoWorker: true})}
	b.hold = b.tg.Gate(t, "/hold")
	c := *cfg
	c.HTTPClient, c.Logger = http.DefaultClient, flowdtest.Logger()
	b.w = engine.NewWorker(b.env.Store, &c)
	if err := b.w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.w.Stop(context.Background()) })
	return b
}

// work runs the job of execution e in the background, as River would, and
// returns the channel its result arrives on.
func (b *stopBundle) work(e *flow.Execution, attempt int) <-chan error {
	job := &river.Job[engine.ExecutionArgs]{
		JobRow: &rivertype.JobRow{ID: e.JobID, Attempt: attempt, State: rivertype.JobStateRunning, ScheduledAt: time.Now()},
		Args:   engine.ExecutionArgs{ExecutionID: e.ID},
	}
	done := make(chan error, 1)
	go func() { done <- b.w.Work(context.Background(), job) }()
	return done
}

// startHeld triggers a one-step flow on /hold and works it until its
// request is at the target.
func (b *stopBundle) startHeld(t *testing.T) (*flow.Execution, <-chan error) {
	t.Helper()
	id := b.createFlow(t, flowDef("held", []any{step(1, "GET", b.tg.URL+"/hold", nil)}, nil))
	e := b.trigger(t, id, nil)
	done := b.work(e, 1)
	flowdtest.WaitFor(t, 30*time.Second, "the step's request at the target", func() bool { return b.hold.Arrived() == 1 })
	return e, done
}

// Stop returns only once every Work in progress has returned, and closes
// the committer after it: the step that finishes during the stop is
// recorded. A Work that begins after the stop is refused with ErrStopped.
func TestWorkerStopWaitsForRuns(t *testing.T) {
	t.Parallel()
	b := setupStop(t)
	e, done := b.startHeld(t)

	b.w.Drain()
	stopped := make(chan error, 1)
	go func() { stopped <- b.w.Stop(context.Background()) }()
	b.hold.Open()
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
	select {
	case err := <-done:
		var snooze *river.JobSnoozeError
		if !errors.As(err, &snooze) {
			t.Errorf("Work of a drained execution returned %v, want a snooze (handed back)", err)
		}
	default:
		t.Fatal("Stop returned while a Work was still running")
	}
	select {
	case err := <-b.work(e, 2):
		if !errors.Is(err, engine.ErrStopped) {
			t.Errorf("Work after Stop returned %v, want ErrStopped", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Work after Stop did not return")
	}
	got := b.env.WaitExecution(t, b.tenant, e.ID, 10*time.Second, "in_progress")
	if a := attemptsOf(got, 1); len(a) != 1 || a[0].Outcome != "success" || got.Steps[1].Status != flow.StepSuccess {
		t.Errorf("the step finished during the stop is not recorded: steps %+v, attempts %+v", got.Steps[1], a)
	}
}

// A run that outlives Stop (its context given up on, ctx of Stop ended)
// checkpoints into a stopped committer: it gets ErrStopped, not a panic
// from a send on a closed channel.
func TestWorkOutlivingStopGetsErrStopped(t *testing.T) {
	t.Parallel()
	b := setupStop(t)
	_, done := b.startHeld(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Stop gives up on the run at once
	if err := b.w.Stop(ctx); err == nil {
		t.Error("Stop with a run in progress and an ended context returned nil")
	}
	b.hold.Open()
	select {
	case err := <-done:
		if !errors.Is(err, engine.ErrStopped) {
			t.Errorf("Work outliving Stop returned %v, want ErrStopped", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Work outliving Stop did not return")
	}
}

// Stop closes the step client's idle keep-alive connections: a stopped
// worker leaves no connection open at a target (each would hold two
// goroutines and their buffers until the target closed it).
func TestWorkerStopClosesIdleConnections(t *testing.T) {
	t.Parallel()
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	b := &stopBundle{runBundle: setupRunWith(t, &flowdtest.Options{OwnDatabase: true, NoWorker: true})}
	b.w = engine.NewWorker(b.env.Store, &engine.WorkerConfig{HTTPClient: &http.Client{Transport: &http.Transport{}}, Logger: flowdtest.Logger()})
	if err := b.w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := b.createFlow(t, flowDef("keep-alive", []any{step(1, "GET", srv.URL+"/ok", nil)}, nil))
	e := b.trigger(t, id, nil)
	if err := <-b.work(e, 1); err != nil {
		t.Fatalf("Work: %v", err)
	}
	if n := open.Load(); n != 1 {
		t.Fatalf("%d connections open at the target after the step, want its keep-alive connection", n)
	}
	if err := b.w.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	flowdtest.WaitFor(t, 10*time.Second, "the idle connection closed by Stop", func() bool { return open.Load() == 0 })
}
