package scheduler

import (
	"context"
	"log/slog"
	"time"

	"github.com/flowd/flowd/store"
)

// Defaults of the heartbeat and rescue settings of Config.
const (
	// HeartbeatIntervalDefault is how often a worker process records that
	// it is alive, and how often it looks for orphaned jobs.
	HeartbeatIntervalDefault = 5 * time.Second
	// RescueAfterDefault is how long a process may stay silent before its
	// running executions are handed to another process.
	RescueAfterDefault = 30 * time.Second
	// heartbeatRetention is how long the row of a dead process is kept
	// (for operators) before it is deleted.
	heartbeatRetention = time.Hour
	// gcEvery is the number of heartbeats between two deletions of dead
	// processes' rows.
	gcEvery = 60
)

// rescuer is the per-process heartbeat and the rescue of dead processes'
// jobs. River's own rescuer does not help here: it leaves alone jobs whose
// worker has no timeout (an execution job runs as long as its steps), and
// it would wait an hour anyway.
//
// Every interval the rescuer writes its heartbeat (flowd_workers), then
// hands back to the queue the running executions jobs whose process is
// silent for longer than after (store.JobRescueOrphans). A process dead at
// time T had its last heartbeat at or before T, is judged dead from
// T + after on, and is seen by the next round: its executions are queued
// again by T + after + interval (35 s with the defaults), and are fetched
// within River's FetchPollInterval.
//
// A rescuer rescues only once it has itself reached the database without a
// gap for after: when the database was down or unreachable, every
// process's heartbeat is stale for a moment, and rescuing then would run
// executions twice that live processes still hold.
type rescuer struct {
	store    *store.Store
	id       string
	interval time.Duration
	after    time.Duration
	running  func() []int64
	log      *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	lastBeat     time.Time // last successful heartbeat
	healthySince time.Time // start of the current run of heartbeats without a gap
}

func newRescuer(st *store.Store, id string, interval, after time.Duration, running func() []int64, log *slog.Logger) *rescuer {
	if interval <= 0 {
		interval = HeartbeatIntervalDefault
	}
	if after <= 0 {
		after = RescueAfterDefault
	}
	// A process must get at least two chances to beat before it is judged.
	after = max(after, 2*interval)
	return &rescuer{store: st, id: id, interval: interval, after: after, running: running, log: log}
}

// start writes the first heartbeat and starts the loop.
func (r *rescuer) start(ctx context.Context) {
	r.beat(ctx)
	ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.done = make(chan struct{})
	go r.loop(ctx)
}

// stop ends the loop and marks this process stopped, so that a job it
// still holds (one that did not stop in time) is rescued at once.
func (r *rescuer) stop(ctx context.Context) {
	if r == nil || r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.store.WorkerStopped(sctx, r.id); err != nil {
		r.log.Warn("marking this worker stopped", "error", err)
	}
}

func (r *rescuer) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !r.beat(ctx) {
			continue
		}
		if time.Since(r.healthySince) >= r.after {
			r.rescue(ctx)
		}
		if n%gcEvery == 0 {
			if _, err := r.store.WorkerDeleteDead(ctx, max(heartbeatRetention, 2*r.after)); err != nil && ctx.Err() == nil {
				r.log.Warn("deleting dead workers' heartbeats", "error", err)
			}
		}
	}
}

// beat writes the heartbeat and reports whether it was written.
func (r *rescuer) beat(ctx context.Context) bool {
	bctx, cancel := context.WithTimeout(ctx, r.interval)
	defer cancel()
	if err := r.store.WorkerHeartbeat(bctx, r.id); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("recording heartbeat", "error", err)
		}
		return false
	}
	now := time.Now()
	if r.lastBeat.IsZero() || now.Sub(r.lastBeat) > 2*r.interval {
		r.healthySince = now
	}
	r.lastBeat = now
	return true
}

func (r *rescuer) rescue(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, r.interval)
	defer cancel()
	jobs, err := r.store.JobRescueOrphans(rctx, store.RescueParams{
		Queue:   QueueExecutions,
		After:   r.after,
		Self:    r.id,
		Running: r.running(),
	})
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("rescuing jobs of dead workers", "error", err)
		}
		return
	}
	for _, j := range jobs {
		r.log.Warn("execution handed back to the queue: its worker stopped",
			"job_id", j.ID, "execution_id", j.ExecutionID, "dead_worker_id", j.Worker)
	}
}
