package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/redact"
)

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
	return r.w.commit.submit(ctx, &commitReq{attempts: attempts, update: r.update()}, true)
}

func (r *run) execute(ctx context.Context) error {
	w := r.w
	starting := r.state.ExecutedAt == nil
	r.state = flow.Begin(r.state, time.Now())
	if starting {
		w.obs.ExecutionStarted()
	}
	var pending []flow.StepAttempt // attempt records not yet durable
	r.state, pending = flow.RecoverOrphans(r.plan, r.state, r.prevWorker, r.exec.UpdatedAt)
	for i := range pending {
		rec := &pending[i]
		rec.ID = uuid.New()
		rec.ExecutionID = r.exec.ID
		rec.RequestURL = redact.URL(r.plan.Steps[rec.StepNumber].Step.WebhookURL, nil)
		w.log.Warn("step attempt lost with its worker; sending it again",
			"execution_id", r.exec.ID, "step_number", rec.StepNumber, "attempt", rec.Attempt, "worker_id", r.prevWorker)
	}

	results := make(chan attemptResult)
	inflight := 0
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
			// request may have been sent (flow.RecoverOrphans).
			err := r.checkpoint(ctx, pending)
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
			for _, a := range d.Start {
				inflight++
				ps, vars, secrets := r.plan.Steps[a.Step], r.scope.Vars(a.Attempt, now), r.signing.Active(now)
				mask := r.masker(vars)
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

		res := <-results
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
	w.log.Info("step attempt",
		"execution_id", r.exec.ID, "flow_id", r.exec.FlowID, "step_number", res.step,
		"attempt", res.rec.Attempt, "outcome", res.rec.Outcome, "status_code", status,
		"duration_ms", res.rec.DurationMS, "error", res.rec.Error)
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
