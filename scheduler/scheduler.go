package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/groupcommit"
	"github.com/flowd/flowd/store"
)

// QueueExecutions is the River queue executions run on.
const QueueExecutions = "flowd_executions"

// Defaults of Config, chosen from `make bench` measurements (README,
// Performance).
const (
	WorkersDefault = 200
	// FetchCooldownDefault is River's minimum: River sends an insert
	// notification at most once per cooldown and a producer fetches at most
	// once per cooldown, so a job inserted just after a notification waits
	// for the next one. At 10 ms that wait was most of the light-load
	// latency (README "Round six").
	FetchCooldownDefault     = 1 * time.Millisecond
	FetchPollIntervalDefault = 50 * time.Millisecond
	JobMaxAttemptsDefault    = 50
	// RescueStuckJobsAfterDefault is River's own stuck-job rescue, kept as
	// a last resort far beyond any execution's running time.
	RescueStuckJobsAfterDefault = 7 * 24 * time.Hour
	// SoftStopTimeoutDefault is how long Stop lets running executions
	// finish their steps in flight before River cancels them.
	SoftStopTimeoutDefault = 30 * time.Second
)

// HardStopWait is how long Stop waits, once SoftStopTimeout has passed and
// River has cancelled the executions still running, for them to record
// their interrupted attempts and return (engine gives that record 10 s).
const HardStopWait = 15 * time.Second

// Config configures a Scheduler; zero values mean defaults.
type Config struct {
	// Worker runs executions. Nil makes an insert-only client (no jobs are
	// worked in this process).
	Worker *engine.Worker
	// Workers is the number of executions this process runs at once.
	Workers int
	// FetchCooldown and FetchPollInterval are River's fetch settings.
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// ID names this process's River client (recorded on attempts).
	ID     string
	Logger *slog.Logger
	// CronDisabled turns off this process's schedule loop (cron.go); the
	// loops of other processes still run every slot.
	CronDisabled bool
	// CronTick is the longest the schedule loop sleeps between passes
	// (it wakes earlier for a slot that is due sooner); default CronTickDefault.
	CronTick time.Duration
	// HeartbeatInterval and RescueAfter drive the rescue of dead
	// processes' executions (rescue.go); defaults 5 s and 30 s.
	HeartbeatInterval time.Duration
	RescueAfter       time.Duration
	// SoftStopTimeout is River's Config.SoftStopTimeout: on Stop, running
	// executions launch no new step and get this long to finish the steps
	// in flight; then River cancels them (hard stop). Default
	// SoftStopTimeoutDefault.
	SoftStopTimeout time.Duration
	// Middleware is River's middleware (telemetry.Tracing.RiverMiddleware:
	// trace context carried in the jobs), in order, outermost first.
	Middleware []rivertype.Middleware
	// Tracer spans the trigger transaction; nil means no spans.
	Tracer trace.Tracer
	// Events, when set, is told of every event Publish stores (metrics).
	Events EventObserver
	// JobRetention caps how long River keeps finished jobs (its job
	// cleaner's CompletedJobRetentionPeriod, CancelledJobRetentionPeriod
	// and DiscardedJobRetentionPeriod): give it FLOWD_RETENTION, so that
	// no job outlives its execution. 0 leaves River's defaults (24 h,
	// 24 h and 7 days). An execution keeps everything flowd shows; a
	// finished job serves only River's UI.
	JobRetention time.Duration
}

// EventObserver is told of each event Publish stores, with the number of
// executions it started.
type EventObserver interface {
	EventPublished(executions int)
}

// riverRetention is River's retention period def capped by keep (0: no
// cap).
func riverRetention(def, keep time.Duration) time.Duration {
	if keep <= 0 {
		return def
	}
	return min(def, keep)
}

// reindexSchedule is how often River's reindexer rebuilds river_job's
// indexes when flowd caps River's retention to keep (JobRetention): once
// per retention period, at least a minute apart; nil (River's default,
// daily at midnight UTC) when River keeps its own 24 h.
//
// Why: GIN never removes a key from its entry tree, and River indexes each
// job's args with GIN; every flowd job's args hold a new execution id, so
// river_job_args_index grows by every job ever inserted, whatever the
// cleaner deletes (measured in the soak: +4 MiB a minute at 1,300 jobs/s
// while the table itself stayed flat). Rebuilt once per retention, it
// holds at most about two retentions' worth of ids.
func reindexSchedule(keep time.Duration) river.PeriodicSchedule {
	if keep <= 0 || keep >= riverCompletedRetention {
		return nil
	}
	return river.PeriodicInterval(max(keep, reindexIntervalMin))
}

// reindexIntervalMin bounds reindexSchedule for very short retentions:
// rebuilding River's indexes (concurrently, one by one) more than once a
// minute would cost more than the bloat it removes.
const reindexIntervalMin = time.Minute

// River's own defaults of its job cleaner's retention periods.
const (
	riverCompletedRetention = 24 * time.Hour
	riverCancelledRetention = 24 * time.Hour
	riverDiscardedRetention = 7 * 24 * time.Hour
)

// Scheduler owns the River client.
type Scheduler struct {
	client *river.Client[pgx.Tx]
	store  *store.Store
	cfg    Config
	log    *slog.Logger
	cron   *cronLoop
	rescue *rescuer
	// filters caches the compiled event filters of Publish.
	filters *flow.FilterCache
	// triggers and events are the group commits of Trigger and Publish
	// (trigger.go).
	triggers *groupcommit.Group[*pendingTrigger]
	events   *groupcommit.Group[*pendingEvent]
	runInfo  *runInfoCache
}

// New returns a Scheduler on pool.
func New(pool *pgxpool.Pool, st *store.Store, cfg *Config) (*Scheduler, error) {
	c := *cfg
	c.Workers = cmp.Or(c.Workers, WorkersDefault)
	c.FetchCooldown = cmp.Or(c.FetchCooldown, FetchCooldownDefault)
	c.FetchPollInterval = cmp.Or(c.FetchPollInterval, FetchPollIntervalDefault)
	c.CronTick = cmp.Or(c.CronTick, CronTickDefault)
	c.SoftStopTimeout = cmp.Or(c.SoftStopTimeout, SoftStopTimeoutDefault)
	if c.Tracer == nil {
		c.Tracer = noop.Tracer{}
	}
	log := cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	rc := &river.Config{
		ID:                c.ID,
		Logger:            log.With("component", "river"),
		FetchCooldown:     c.FetchCooldown,
		FetchPollInterval: c.FetchPollInterval,
		JobTimeout:        -1,
		MaxAttempts:       JobMaxAttemptsDefault,
		// An execution job runs as long as its execution has steps in
		// flight, which can be hours; River must not take it from a live
		// worker. Jobs of dead workers are rescued by flowd's heartbeat
		// rescuer instead.
		RescueStuckJobsAfter: RescueStuckJobsAfterDefault,
		SoftStopTimeout:      c.SoftStopTimeout,
		Middleware:           c.Middleware,

		CompletedJobRetentionPeriod: riverRetention(riverCompletedRetention, c.JobRetention),
		CancelledJobRetentionPeriod: riverRetention(riverCancelledRetention, c.JobRetention),
		DiscardedJobRetentionPeriod: riverRetention(riverDiscardedRetention, c.JobRetention),
		ReindexerSchedule:           reindexSchedule(c.JobRetention),
	}
	if c.Worker != nil {
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, c.Worker); err != nil {
			return nil, fmt.Errorf("add worker: %w", err)
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{QueueExecutions: {MaxWorkers: c.Workers}}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	s := &Scheduler{client: client, store: st, cfg: c, log: log, filters: flow.NewFilterCache(0), runInfo: newRunInfoCache()}
	s.triggers, s.events = newTriggerGroup(s), newPublishGroup(s)
	s.triggers.Start()
	s.events.Start()
	return s, nil
}

// Client returns the River client (for the River UI).
func (s *Scheduler) Client() *river.Client[pgx.Tx] { return s.client }

// Start starts working jobs (when the Scheduler has a worker), the rescuer
// of dead processes' executions, and the schedule loop (unless
// CronDisabled). Cancelling ctx does not stop them: shutdown goes through
// StopSchedules and Stop, in the order they document.
func (s *Scheduler) Start(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	if s.cfg.Worker != nil {
		if err := s.cfg.Worker.Start(ctx); err != nil {
			return err
		}
		s.rescue = newRescuer(s.store, s.client.ID(), s.cfg.HeartbeatInterval, s.cfg.RescueAfter, s.cfg.Worker.RunningJobs, s.log)
		s.rescue.start(ctx)
		if err := s.client.Start(ctx); err != nil {
			return err
		}
	}
	if !s.cfg.CronDisabled && s.cron == nil {
		s.cron = startCron(ctx, s)
	}
	return nil
}

// StopSchedules stops this process's schedule loop (and waits for its pass
// in progress): no execution is started by a schedule slot any more. It is
// the scheduler's part of "stop accepting"; Stop calls it too.
func (s *Scheduler) StopSchedules() {
	if s.cron != nil {
		s.cron.stop()
		s.cron = nil
	}
}

// StopTimeout is how long Stop may take when every execution returns once
// cancelled: SoftStopTimeout plus HardStopWait. Give Stop a context at
// least this long.
func (s *Scheduler) StopTimeout() time.Duration { return s.cfg.SoftStopTimeout + HardStopWait }

// Stop is the scheduler's part of the shutdown, after the API has drained
// (Trigger answers ErrStopped from now on). Its steps run in this order, each logged ("shutdown: <step>") and begun
// when the one before has ended:
//
//  1. stop River: the schedule loop stops, no job is fetched any more,
//     running executions launch no new step (engine.Worker.Drain) and get
//     SoftStopTimeout (River's own soft stop) to finish the steps in flight,
//     record them and hand back to the queue; then River cancels what still
//     runs (hard stop): those executions record their interrupted attempts
//     and are retried by River, by any process.
//  2. wait for runs: every engine.Worker.Work has returned (River may give
//     up on a job before its Work returns, when ctx ends first).
//  3. close the committer: the last checkpoints are written; a run that
//     outlived ctx gets engine.ErrStopped from its checkpoints instead of
//     a panic, and its execution is left for the rescue.
//  4. stop the heartbeat: this process is marked stopped, so that what it
//     still holds is rescued by another process at once.
//
// ctx bounds the whole (see StopTimeout); when it ends, the remaining
// steps still run, without waiting. The pool must stay open until Stop
// returns.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.StopSchedules()
	s.triggers.Stop() // the API has drained: no trigger or publish waits any more
	s.events.Stop()
	if s.cfg.Worker == nil {
		return nil
	}
	s.cfg.Worker.Drain() // first: once the step is logged, no run launches a step
	s.log.Info("shutdown: stop River", "soft_stop_timeout", s.cfg.SoftStopTimeout.String())
	err := s.client.Stop(ctx)
	if err != nil {
		err = fmt.Errorf("stop River: %w", err)
		s.log.Warn("River did not stop in time; going on with the shutdown", "error", err)
	}
	s.log.Info("shutdown: wait for runs")
	if werr := s.cfg.Worker.Wait(ctx); werr != nil {
		s.log.Warn("executions still running; they are left for another process", "error", werr)
		err = cmp.Or(err, werr)
	}
	s.log.Info("shutdown: close committer")
	_ = s.cfg.Worker.Stop(ctx)
	s.log.Info("shutdown: stop heartbeat")
	s.rescue.stop(ctx)
	return err
}

// Cancel stops an execution, in tx (a Store.InTx transaction, which the
// caller's audit entry joins): it is marked cancelled and its job
// cancelled in one transaction; a running job's context is cancelled by
// River, which aborts its in-flight HTTP requests. No further step is
// sent.
func (s *Scheduler) Cancel(ctx context.Context, tx *store.Store, companyID, id uuid.UUID) (*flow.Execution, error) {
	e, err := tx.ExecutionCancel(ctx, companyID, id)
	if err != nil {
		return nil, err
	}
	if e.JobID == 0 {
		return e, nil
	}
	_, err = s.client.JobCancelTx(ctx, tx.Tx(), e.JobID)
	if err != nil && !errors.Is(err, rivertype.ErrNotFound) {
		return nil, fmt.Errorf("cancel job %d: %w", e.JobID, err)
	}
	return e, nil
}

// Retry re-runs a failed or cancelled execution from its failed steps, in
// tx (a Store.InTx transaction, which the caller's audit entry joins):
// steps that succeeded keep their results and are not sent again
// (flow.RetryState).
func (s *Scheduler) Retry(ctx context.Context, tx *store.Store, companyID, id uuid.UUID) (*flow.Execution, error) {
	e, err := tx.ExecutionLock(ctx, companyID, id)
	if err != nil {
		return nil, err
	}
	next, err := flow.RetryState(e)
	if err != nil {
		return nil, err
	}
	// A failed execution's job has returned (River may not have marked
	// it completed yet); a cancelled one's may still be recording its
	// interrupted attempts, and must not run next to a new job.
	if e.Status == flow.ExecutionStatusCancelled && e.JobID != 0 {
		job, err := s.client.JobGetTx(ctx, tx.Tx(), e.JobID)
		if err == nil && job.State == rivertype.JobStateRunning {
			return nil, fmt.Errorf("%w: execution is still stopping; retry it in a moment", store.ErrConflict)
		}
	}
	res, err := s.client.InsertTx(ctx, tx.Tx(), engine.ExecutionArgs{ExecutionID: e.ID},
		&river.InsertOpts{Queue: QueueExecutions})
	if err != nil {
		return nil, fmt.Errorf("enqueue execution: %w", err)
	}
	if err := tx.ExecutionRequeue(ctx, companyID, next.Update(e.ID), res.Job.ID); err != nil {
		return nil, err
	}
	return tx.ExecutionGet(ctx, companyID, id)
}
