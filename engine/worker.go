package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/redact"
)

// ExecutionArgs are the arguments of the River job that runs one execution.
type ExecutionArgs struct {
	ExecutionID uuid.UUID `json:"execution_id"`
}

// Kind is the River job kind of an execution run.
func (ExecutionArgs) Kind() string { return "flowd.execution" }

// Store is what the worker needs from the database. A job names its
// execution by id only, so the worker reads across companies, through the
// functions named for it.
type Store interface {
	// ExecutionsGetForRun calls found for each of the executions ids that
	// exists, with its flow's signing secrets or the error of reading it.
	ExecutionsGetForRun(ctx context.Context, ids []uuid.UUID, found func(id uuid.UUID, e *flow.Execution, signing flow.SigningSecrets, err error)) error
	FlowDefinitionForRun(ctx context.Context, flowID uuid.UUID, version int) (*flow.Definition, error)
	ExecutionCommit(ctx context.Context, attempts []flow.StepAttempt, updates []flow.ExecutionUpdate) error
}

// Observer receives the worker's events for metrics. Every method must be
// cheap and safe for concurrent use.
type Observer interface {
	ExecutionStarted()
	ExecutionFinished(status string)
	StepAttempted(outcome string, statusCode int, d time.Duration)
	StepsInFlight(delta int)
	QueueLag(d time.Duration)
	RetryScheduled(kind string)
}

type nopObserver struct{}

func (nopObserver) ExecutionStarted()                        {}
func (nopObserver) ExecutionFinished(string)                 {}
func (nopObserver) StepAttempted(string, int, time.Duration) {}
func (nopObserver) StepsInFlight(int)                        {}
func (nopObserver) QueueLag(time.Duration)                   {}
func (nopObserver) RetryScheduled(string)                    {}

// Defaults of WorkerConfig.
const (
	MaxConcurrentRequestsDefault = 256
	MaxResponseBytesDefault      = 1 << 20
	MaxStoredBytesDefault        = 64 << 10
	CommitShardsDefault          = 1
	MaxCommitBatchDefault        = 256
	MaxRunsDefault               = 25
	StartGraceDefault            = 100 * time.Millisecond
	UserAgentDefault             = "flowd/1.0 (+https://github.com/flowd/flowd)"
)

// WorkerConfig configures a Worker; zero values mean the defaults above.
type WorkerConfig struct {
	// HTTPClient sends the steps' requests. It should be the SSRF-guarded
	// client of package netguard. Required.
	HTTPClient *http.Client
	// MaxConcurrentRequests bounds the HTTP requests in flight in this
	// process, across all executions.
	MaxConcurrentRequests int
	// MaxResponseBytes bounds the response bytes read per attempt; the rest
	// is discarded.
	MaxResponseBytes int64
	// MaxStoredBytes bounds the request and response bodies stored per
	// attempt.
	MaxStoredBytes int
	// CommitShards is the number of group-commit goroutines (and of the
	// group read's). One by default: while its transaction is in flight
	// the next batch gathers, so batches are larger and transactions fewer
	// than with two shards half as full (README "Round six").
	CommitShards int
	// MaxCommitBatch bounds the executions written in one transaction.
	MaxCommitBatch int
	// MaxRuns bounds how often one execution's job may be run before it
	// ends cleanly: each worker crash, rescue or database error that cuts
	// a run short counts (snoozes do not). Past it the execution fails
	// with an error saying so, instead of River discarding the job and
	// leaving the execution in progress for ever.
	MaxRuns int
	// StartGrace is how long the first requests of an execution that
	// never started may be in flight before its state (in_progress, the
	// steps running) is written for operators to see; a first step that
	// answers sooner has its outcome written instead, in one checkpoint
	// (README "Round seven"). Durability does not depend on it: a run that
	// dies before writing anything leaves its job's record (flow.RecoverUnstarted).
	StartGrace time.Duration
	// WorkerID is recorded on each attempt (the River client id).
	WorkerID string
	// UserAgent is sent on every request.
	UserAgent string
	Logger    *slog.Logger
	Observer  Observer
	// Tracer spans each run of an execution, each step attempt (an HTTP
	// client span) and each group commit; nil means no spans.
	Tracer trace.Tracer
}

// Worker is the River worker that runs executions. One job runs one
// execution attempt: it sends the steps that are ready, concurrently where
// the graph allows, checkpoints every attempt through the group committer,
// and returns when the execution has ended or must wait (a step retry or an
// execution retry, which snooze the job instead of holding a goroutine).
type Worker struct {
	river.WorkerDefaults[ExecutionArgs]

	store    Store
	cfg      WorkerConfig
	log      *slog.Logger
	obs      Observer
	tracer   trace.Tracer
	sem      chan struct{}
	plans    *planCache
	read     *reader
	commit   *committer
	draining atomic.Bool
	active   sync.Map // River job id → struct{}: the jobs inside Work

	// runs counts the calls of Work in progress. runMu orders its Add
	// against Wait: once stopping is set no Work begins, so no Add races
	// the Wait of idle's goroutine.
	runMu    sync.Mutex
	stopping bool
	runs     sync.WaitGroup
	idle     chan struct{} // closed once stopping and every Work returned
}

// ErrStopped is returned by Work once the worker is stopping, and by every
// checkpoint of a run that outlived Stop (River gave up on its job): the
// execution is left for another process (its job is retried or rescued).
var ErrStopped = errors.New("worker stopped")

// NewWorker returns a Worker. Start must be called before River works jobs.
func NewWorker(store Store, cfg *WorkerConfig) *Worker {
	c := *cfg
	// Zero, and for the numbers a negative value, mean the default.
	c.MaxConcurrentRequests = cmp.Or(max(c.MaxConcurrentRequests, 0), MaxConcurrentRequestsDefault)
	c.MaxResponseBytes = cmp.Or(max(c.MaxResponseBytes, 0), MaxResponseBytesDefault)
	c.MaxStoredBytes = cmp.Or(max(c.MaxStoredBytes, 0), MaxStoredBytesDefault)
	c.CommitShards = cmp.Or(max(c.CommitShards, 0), CommitShardsDefault)
	c.MaxCommitBatch = cmp.Or(max(c.MaxCommitBatch, 0), MaxCommitBatchDefault)
	c.MaxRuns = cmp.Or(max(c.MaxRuns, 0), MaxRunsDefault)
	c.StartGrace = cmp.Or(max(c.StartGrace, 0), StartGraceDefault)
	c.UserAgent = cmp.Or(c.UserAgent, UserAgentDefault)
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	log := cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	obs := c.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	tracer := c.Tracer
	if tracer == nil {
		tracer = noop.Tracer{}
	}
	return &Worker{
		store:  store,
		cfg:    c,
		log:    log,
		obs:    obs,
		tracer: tracer,
		sem:    make(chan struct{}, c.MaxConcurrentRequests),
		plans:  newPlanCache(store),
		read:   newReader(store, c.CommitShards, c.MaxCommitBatch),
		commit: newCommitter(store, c.CommitShards, c.MaxCommitBatch, log, tracer),
	}
}

// Start starts the group read and the group committer.
func (w *Worker) Start(ctx context.Context) error {
	w.read.start()
	w.commit.start()
	return nil
}

// Drain makes running executions stop launching new steps: once their
// in-flight steps are recorded they hand the execution back to the queue.
// Call it before River's soft stop.
func (w *Worker) Drain() { w.draining.Store(true) }

// Wait makes Work refuse new jobs (ErrStopped) and running executions
// launch no new step (Drain), and waits until every call of Work in
// progress has returned, or ctx ends. Call it after River has stopped:
// River may give up on a job whose Work has not returned yet.
func (w *Worker) Wait(ctx context.Context) error {
	w.Drain()
	w.runMu.Lock()
	w.stopping = true
	if w.idle == nil {
		w.idle = make(chan struct{})
		go func() {
			w.runs.Wait()
			close(w.idle)
		}()
	}
	idle := w.idle
	w.runMu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for %d running executions: %w", len(w.RunningJobs()), context.Cause(ctx))
	}
}

// Stop waits for the runs (Wait), then stops the group read and the group
// committer, which writes what is queued, and closes the step client's
// idle keep-alive connections (each holds two goroutines and its buffers
// for as long as the target keeps it open). A run still going when ctx
// ends can no longer record anything: its checkpoints fail with
// ErrStopped, and its execution is left for another process.
func (w *Worker) Stop(ctx context.Context) error {
	err := w.Wait(ctx)
	w.read.stop()
	w.commit.stop()
	w.cfg.HTTPClient.CloseIdleConnections()
	return err
}

// begin counts a call of Work in, unless the worker is stopping.
func (w *Worker) begin() bool {
	w.runMu.Lock()
	defer w.runMu.Unlock()
	if w.stopping {
		return false
	}
	w.runs.Add(1)
	return true
}

// RunningJobs returns the ids of the River jobs this worker is running now
// (the rescuer hands back this process's running jobs that are not among
// them: River lost track of them).
func (w *Worker) RunningJobs() []int64 {
	var ids []int64
	w.active.Range(func(k, _ any) bool {
		ids = append(ids, k.(int64))
		return true
	})
	return ids
}

// Timeout disables River's job timeout: steps carry their own timeouts.
func (w *Worker) Timeout(*river.Job[ExecutionArgs]) time.Duration { return -1 }

// NextRetry spaces River's retries of an execution job (infrastructure
// faults: database down, crash) at 1, 2, 4 ... seconds up to 30 s, so a
// restarted database is picked up again quickly.
func (w *Worker) NextRetry(job *river.Job[ExecutionArgs]) time.Time {
	d := time.Duration(math.Min(30, math.Pow(2, float64(job.Attempt-1)))) * time.Second
	return time.Now().Add(d)
}

// Work runs one execution job, in a span of its own (a child of River's
// work span, which continues the trace of the trigger).
func (w *Worker) Work(ctx context.Context, job *river.Job[ExecutionArgs]) (err error) {
	if !w.begin() {
		return markNothingSent(nil, fmt.Errorf("run execution %s: %w", job.Args.ExecutionID, ErrStopped))
	}
	defer w.runs.Done()
	w.active.Store(job.ID, struct{}{})
	defer w.active.Delete(job.ID)
	ctx, span := w.tracer.Start(ctx, "flowd.execution.run")
	recording := span.IsRecording() // tracing off or not sampled: build no attributes
	if recording {
		span.SetAttributes(attrExecutionID.String(job.Args.ExecutionID.String()), attribute.Int("flowd.run", job.Attempt))
	}
	var r *run
	defer func() { endRun(span, r, err) }()
	defer func() { err = markNothingSent(r, err) }() // runs first: the span sees the marked error
	if job.Attempt == 1 && !job.ScheduledAt.IsZero() {
		w.obs.QueueLag(time.Since(job.ScheduledAt))
	}
	exec, signing, err := w.read.get(ctx, job.Args.ExecutionID)
	if err != nil {
		return err
	}
	now := time.Now()
	switch d := flow.PickUp(&exec.ExecutionSummary, now); d.Kind {
	case flow.Ended:
		return nil
	case flow.WaitUntil:
		return river.JobSnooze(d.At.Sub(now))
	}
	plan, err := w.plans.get(ctx, exec.FlowID, exec.FlowVersion)
	if err != nil {
		return err
	}
	if recording {
		span.SetAttributes(attrFlowID.String(exec.FlowID.String()), attribute.Int("flowd.flow_version", exec.FlowVersion),
			attribute.Int("flowd.execution.attempt", exec.AttemptNumber))
	}
	r = newRun(w, exec, plan, signing)
	if job.Attempt > w.cfg.MaxRuns {
		return r.giveUp(ctx, job.Attempt-1)
	}
	if n := len(job.AttemptedBy); n >= 2 {
		r.prevWorker = job.AttemptedBy[n-2]
	}
	r.prevMaySend = job.Attempt > 1 && !prevRunSentNothing(job)
	return r.execute(ctx)
}

// nothingSentPrefix starts the error of a run that sent no request (River
// keeps it in the job's errors): the next run knows that this one did not
// send the first requests of an execution that never started
// (prevRunSentNothing).
const nothingSentPrefix = "no request sent: "

// markNothingSent prefixes err with nothingSentPrefix when the run (nil:
// it never began) sent no request. River's snooze and cancel are left as
// they are.
func markNothingSent(r *run, err error) error {
	var snooze *rivertype.JobSnoozeError
	var cancel *rivertype.JobCancelError
	if err == nil || (r != nil && r.sent) || errors.As(err, &snooze) || errors.As(err, &cancel) {
		return err
	}
	return fmt.Errorf("%s%w", nothingSentPrefix, err)
}

// prevRunSentNothing tells whether the job's previous run ended with an
// error saying it sent no request. Any other end (a crash, a rescue, an
// error after sending, a panic) may have sent some.
func prevRunSentNothing(job *river.Job[ExecutionArgs]) bool {
	for i := len(job.Errors) - 1; i >= 0; i-- {
		if e := job.Errors[i]; e.Attempt == job.Attempt-1 {
			return strings.HasPrefix(e.Error, nothingSentPrefix)
		}
	}
	return false
}

// run is one job's work on one execution. It decides nothing: the state
// machine of package flow says what to send and what an outcome leads to;
// run sends, checkpoints every new state through the committer, and turns
// the decision into what River expects back (nil, a snooze or a cancel).
type run struct {
	w       *Worker
	exec    *flow.Execution
	plan    *flow.Plan
	state   flow.State
	scope   *flow.Scope
	records json.RawMessage
	// mask masks the execution's secrets in what its attempts record
	// (masker); nil until first needed and after new variables.
	mask *redact.Masker
	// signing are the flow's outbound signing secrets as the run began.
	signing flow.SigningSecrets
	// prevWorker is the process that ran the job before this one, if any.
	prevWorker string
	// prevMaySend is true when the job ran before and that run may have
	// sent requests (prevRunSentNothing).
	prevMaySend bool
	// sent is true once this run has sent a request.
	sent bool
	// lazy is the first checkpoint of an execution that never started,
	// written only if its first requests outlast StartGrace; nil once
	// settled (settle).
	lazy *lazyStart
}

// lazyStart is a checkpoint held back for StartGrace.
type lazyStart struct {
	timer *time.Timer
	// queued is closed once the timer's checkpoint is queued with the
	// committer (whose queue keeps each execution's checkpoints in order).
	queued chan struct{}
}

// startLazily arms the first checkpoint of an execution that never
// started: the state as it is now (in_progress, the first steps running)
// is written only if nothing else is written within StartGrace. It is not
// waited for: nothing depends on it but what operators see.
func (r *run) startLazily(ctx context.Context) {
	req := &commitReq{update: r.update()}
	l := &lazyStart{queued: make(chan struct{})}
	l.timer = time.AfterFunc(r.w.cfg.StartGrace, func() {
		defer close(l.queued)
		_ = r.w.commit.submit(ctx, req, false)
	})
	r.lazy = l
}

// settle makes sure a held-back first checkpoint can no longer be queued
// after what comes next: stopped before it fired, or queued already.
func (r *run) settle() {
	if r.lazy == nil {
		return
	}
	if !r.lazy.timer.Stop() {
		<-r.lazy.queued
	}
	r.lazy = nil
}

func newRun(w *Worker, exec *flow.Execution, plan *flow.Plan, signing flow.SigningSecrets) *run {
	state := flow.NewState(plan, exec)
	return &run{w: w, exec: exec, plan: plan, state: state, scope: flow.NewScope(plan, exec, state), signing: signing}
}

// update is the current state as the committer writes it.
func (r *run) update() *flow.ExecutionUpdate {
	u := r.state.Update(r.exec.ID)
	u.Records = r.records
	return &u
}

// checkpoint records the state and the attempt records, and waits until
// they are durable.
func (r *run) checkpoint(ctx context.Context, attempts []flow.StepAttempt) error {
	r.settle()
	return r.w.commit.submit(ctx, &commitReq{attempts: attempts, update: r.update()}, true)
}

func (r *run) execute(ctx context.Context) error {
	w := r.w
	defer r.settle()
	starting := r.state.ExecutedAt == nil
	r.state = flow.Begin(r.state, time.Now())
	if starting {
		w.obs.ExecutionStarted()
	}
	var pending []flow.StepAttempt // attempt records not yet durable
	r.state, pending = flow.RecoverOrphans(r.plan, r.state, r.prevWorker, r.exec.UpdatedAt)
	if starting && r.prevMaySend {
		// The run before this one began without writing anything (the
		// first checkpoint is held back, startLazily) and did not say it
		// sent nothing: its first requests may have left.
		pending = append(pending, flow.RecoverUnstarted(r.plan, r.state, r.prevWorker, r.exec.UpdatedAt, time.Now())...)
	}
	// lazy: this run's first checkpoint may be held back (startLazily).
	lazy := starting && len(pending) == 0
	for i := range pending {
		rec := &pending[i]
		rec.ID = flow.NewID()
		rec.ExecutionID = r.exec.ID
		rec.RequestURL = redact.URL(r.plan.Steps[rec.StepNumber].Step.WebhookURL, nil)
		w.log.Warn("step attempt lost with its worker; sending it again",
			"execution_id", r.exec.ID, "step_number", rec.StepNumber, "attempt", rec.Attempt, "worker_id", r.prevWorker)
	}

	results := make(chan attemptResult)
	inflight := 0
	var sent *attemptResult // the result of an attempt sent on this goroutine, not yet folded in
	// collect waits for the attempts still in flight and folds them in.
	collect := func() {
		for ; inflight > 0; inflight-- {
			res := <-results
			pending = append(pending, r.apply(&res))
		}
	}
	for {
		now := time.Now()
		before := r.state
		var d flow.Decision
		r.state, d = flow.Next(r.plan, r.state, now, w.draining.Load() || ctx.Err() != nil)
		switch d.Kind {
		case flow.Launch, flow.Await:
			if d.Kind == flow.Await && inflight == 0 {
				return fmt.Errorf("run execution %s: steps are running but no attempt is in flight", r.exec.ID)
			}
			if d.Kind == flow.Await && len(pending) == 0 {
				break
			}
			// Attempt records must be durable before what depends on them is
			// sent, and a step is marked running before its request leaves, so
			// that a worker that dies mid-request leaves a record saying the
			// request may have been sent (flow.RecoverOrphans). The first
			// requests of an execution that never started are the exception:
			// the job's own run count says that they may have left
			// (flow.RecoverUnstarted), so their checkpoint is held back and
			// usually merged into the next one.
			var err error
			if lazy && d.Kind == flow.Launch {
				r.startLazily(ctx)
			} else {
				err = r.checkpoint(ctx, pending)
			}
			lazy = false
			if err != nil && ctx.Err() != nil {
				// Cancelled or stopping while checkpointing: nothing new was
				// sent (the launch is withdrawn: the state is what a stopping
				// runner gets); record what was, and hand back.
				r.state, _ = flow.Next(r.plan, before, now, true)
				collect()
				return r.interrupted(ctx, pending)
			}
			if err != nil {
				return r.abort(inflight, results, fmt.Errorf("record attempts: %w", err))
			}
			pending = nil
			r.sent = r.sent || len(d.Start) > 0
			for _, a := range d.Start {
				inflight++
				ps, vars, secrets := r.plan.Steps[a.Step], r.scope.Vars(a.Attempt, now), r.signing.Active(now)
				mask := r.masker(vars)
				if inflight == 1 && len(d.Start) == 1 {
					// The only attempt in flight (a chain's next step): sent on
					// this goroutine, whose stack has already grown, instead of
					// a new one's that would grow again on every step (README
					// "Round five").
					res := w.sendStep(ctx, ps, vars, r.exec.ID, a.Attempt, secrets, r.plan.Def.PropagateTrace, a.Deadline, mask)
					sent = &res
					break
				}
				go func() {
					results <- w.sendStep(ctx, ps, vars, r.exec.ID, a.Attempt, secrets, r.plan.Def.PropagateTrace, a.Deadline, mask)
				}()
			}
		case flow.HandBack:
			return r.interrupted(ctx, pending)
		case flow.WaitUntil, flow.Requeue:
			// A step waits for its retry (or an interrupted step must run
			// again): checkpoint and snooze the job.
			if err := r.checkpoint(ctx, pending); err != nil {
				return fmt.Errorf("record attempts: %w", err)
			}
			if d.Kind == flow.Requeue {
				return river.JobSnooze(0)
			}
			return river.JobSnooze(max(d.At.Sub(now), 0))
		case flow.RetryExecution, flow.Succeeded, flow.Failed:
			if d.Kind == flow.RetryExecution {
				w.obs.RetryScheduled("execution")
			}
			if err := r.checkpoint(ctx, pending); err != nil {
				return fmt.Errorf("record execution end: %w", err)
			}
			if d.Kind == flow.RetryExecution {
				return river.JobSnooze(max(d.At.Sub(now), 0))
			}
			w.obs.ExecutionFinished(r.state.Status)
			return nil
		default:
			return fmt.Errorf("run execution %s: unexpected decision %s", r.exec.ID, d.Kind)
		}

		var res attemptResult
		if sent != nil {
			res, sent = *sent, nil
		} else {
			res = <-results
		}
		inflight--
		pending = append(pending, r.apply(&res))
		if ctx.Err() != nil {
			// Cancelled by an operator or the process is stopping: collect the
			// other in-flight attempts, record them, and hand back.
			collect()
			return r.interrupted(ctx, pending)
		}
	}
}

// masker returns the Masker of the execution's secrets: the values of the
// flow's secret variables (and of trigger variables overriding them) and
// of variables with sensitive names (redact.SecretValues). It is made once
// per run and again only after a step extracted variables, not per
// attempt; with no secret it masks nothing by value and costs nothing.
func (r *run) masker(vars map[string]any) *redact.Masker {
	if r.mask == nil {
		secrets := append(redact.SecretValues(vars), r.plan.Def.SecretValues(r.exec.Variables)...)
		r.mask = redact.NewMasker(secrets)
	}
	return r.mask
}

// apply folds one attempt's result into the state and returns its record.
func (r *run) apply(res *attemptResult) flow.StepAttempt {
	w := r.w
	res.rec.ExecutionAttempt = r.state.AttemptNumber
	if res.cancelled {
		res.rec.Outcome = flow.OutcomeInterrupted
	}
	status := 0
	if res.rec.ResponseStatus != nil {
		status = *res.rec.ResponseStatus
	}
	w.obs.StepAttempted(res.rec.Outcome, status, time.Duration(res.rec.DurationMS)*time.Millisecond)
	// Typed attributes: one line per attempt is the hottest log line, and
	// LogAttrs with them skips slog's conversion of each key and value.
	w.log.LogAttrs(context.Background(), slog.LevelInfo, "step attempt",
		slog.String("execution_id", r.exec.ID.String()), slog.String("flow_id", r.exec.FlowID.String()),
		slog.Int("step_number", res.step), slog.Int("attempt", res.rec.Attempt),
		slog.String("outcome", res.rec.Outcome), slog.Int("status_code", status),
		slog.Int64("duration_ms", res.rec.DurationMS), slog.String("error", res.rec.Error))
	r.state = flow.Apply(r.plan, r.state, flow.AttemptOutcome{
		Step:       res.step,
		Outcome:    res.rec.Outcome,
		Permanent:  res.permanent,
		RetryAfter: res.retryAfter,
		Error:      res.rec.Error, // the reason with secret values masked
		Extracted:  res.extracted,
	}, time.Now())
	switch r.state.Steps[res.step].Status {
	case flow.StepSuccess:
		r.scope.Add(res.extracted)
		if len(res.extracted) > 0 {
			r.mask = nil // a variable with a sensitive name may have come
		}
		if recs, ok := flow.CollectRecords(r.plan.Def.FlowMapping, res.step, res.body); ok {
			r.records = recs
		}
	case flow.StepWaiting:
		w.obs.RetryScheduled("step")
	}
	return res.rec
}

// interrupted records what the cut-short attempts sent and gives the
// execution back: cancelled for an operator cancel (flow.Cancel), to the
// queue otherwise.
func (r *run) interrupted(ctx context.Context, pending []flow.StepAttempt) error {
	w := r.w
	cancelled := errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely)
	if cancelled {
		r.state, pending = flow.Cancel(r.state, pending, time.Now())
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := r.checkpoint(cctx, pending)
	switch {
	case cancelled:
		w.obs.ExecutionFinished(flow.ExecutionStatusCancelled)
		return river.JobCancel(errors.New("execution cancelled by operator"))
	case err != nil:
		return fmt.Errorf("record interrupted attempts: %w", err)
	case ctx.Err() != nil:
		return context.Cause(ctx)
	default: // draining
		return river.JobSnooze(0)
	}
}

// abort waits for in-flight attempts after a failed checkpoint and returns
// err so that River runs the job again.
func (r *run) abort(inflight int, results chan attemptResult, err error) error {
	for ; inflight > 0; inflight-- {
		<-results
	}
	return err
}

// giveUp fails an execution whose job was cut short runs times
// (flow.GiveUp).
func (r *run) giveUp(ctx context.Context, runs int) error {
	r.state = flow.GiveUp(r.state, runs, time.Now())
	if err := r.checkpoint(ctx, nil); err != nil {
		return fmt.Errorf("record abandoned execution: %w", err)
	}
	r.w.log.Error("execution abandoned", "execution_id", r.exec.ID, "flow_id", r.exec.FlowID, "runs", runs)
	r.w.obs.ExecutionFinished(flow.ExecutionStatusFailed)
	return nil
}
