package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/tidwall/gjson"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/redact"
)

// run is one job's work on one execution: the in-memory state of its steps,
// which the worker alone changes while the job runs and checkpoints through
// the committer after every attempt.
type run struct {
	w         *Worker
	exec      *flow.Execution
	plan      *flow.Plan
	states    map[int]*flow.StepState
	base      map[string]any // predefined < flow_mapping (trigger variables are applied last)
	trigger   map[string]any
	extracted map[string]any
	records   json.RawMessage
	// prevWorker is the process that ran the job before this one, if any.
	prevWorker string
}

func newRun(w *Worker, exec *flow.Execution, plan *flow.Plan) *run {
	r := &run{w: w, exec: exec, plan: plan, states: map[int]*flow.StepState{}, extracted: map[string]any{}}
	for _, n := range plan.Order {
		st := exec.Steps[n]
		if st == nil {
			st = &flow.StepState{Status: flow.StepPending}
		}
		r.states[n] = st
	}
	r.base = map[string]any{}
	for _, pv := range plan.Def.PredefinedVariables {
		r.base[pv.Name] = decodeValue(pv.Value)
	}
	for name, path := range mappingPaths(plan.Def.FlowMapping) {
		if res := gjson.GetBytes(exec.Payload, path); res.Exists() {
			r.base[name] = normalize(res.Value())
		}
	}
	r.trigger = map[string]any{}
	if m, ok := decodeValue(exec.Variables).(map[string]any); ok {
		r.trigger = m
	}
	for _, n := range plan.Order { // step order: later steps' values win on equal names
		if vs := r.states[n].Vars; len(vs) > 0 && r.states[n].Status == flow.StepSuccess {
			if m, ok := decodeValue(vs).(map[string]any); ok {
				for k, v := range m {
					r.extracted[k] = v
				}
			}
		}
	}
	return r
}

// mappingPaths returns flow_mapping's variable → gjson path entries (the
// reserved "records" key excluded).
func mappingPaths(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return out
	}
	for k, v := range m {
		var path string
		if k == "records" || json.Unmarshal(v, &path) != nil {
			continue
		}
		out[k] = path
	}
	return out
}

// vars returns the variables a step attempt sees, in the SPEC's precedence:
// trigger variables > extracted > flow_mapping > predefined, plus built-ins.
func (r *run) vars(attempt int) map[string]any {
	v := make(map[string]any, len(r.base)+len(r.extracted)+len(r.trigger)+4)
	for k, x := range r.base {
		v[k] = x
	}
	for k, x := range r.extracted {
		v[k] = x
	}
	for k, x := range r.trigger {
		v[k] = x
	}
	v["$execution_id"] = r.exec.ID.String()
	v["$flow_id"] = r.exec.FlowID.String()
	v["$attempt"] = int64(attempt)
	v["$now"] = time.Now().UTC().Format(time.RFC3339)
	return v
}

func decodeValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return normalize(v)
}

// normalize turns json.Number into int64 when integral, else float64, all
// the way down, so templates and expressions see plain Go numbers.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case float64:
		if x == float64(int64(x)) && x < 1<<53 && x > -(1<<53) {
			return int64(x)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

func (r *run) update(status string) *flow.ExecutionUpdate {
	steps := make(map[int]*flow.StepState, len(r.states))
	for n, st := range r.states {
		c := *st
		steps[n] = &c
	}
	return &flow.ExecutionUpdate{
		ID:            r.exec.ID,
		Status:        status,
		AttemptNumber: r.exec.AttemptNumber,
		Steps:         steps,
		ErrorMessage:  r.exec.ErrorMessage,
		ExecutedAt:    r.exec.ExecutedAt,
		NextRetryAt:   r.exec.NextRetryAt,
		FinishedAt:    r.exec.FinishedAt,
		Records:       r.records,
	}
}

func terminal(status string) bool {
	switch status {
	case flow.StepSuccess, flow.StepFailed, flow.StepSkipped, flow.StepCancelled:
		return true
	}
	return false
}

// ready marks the steps whose dependencies can no longer succeed as
// skipped and returns the steps that can be sent now, and the earliest
// time a waiting step becomes due.
func (r *run) ready(now time.Time) (launch []int, nextDue time.Time) {
	for _, n := range r.plan.Order {
		st := r.states[n]
		if st.Status != flow.StepPending && st.Status != flow.StepWaiting {
			continue
		}
		depsOK := true
		for _, d := range r.plan.Steps[n].Deps {
			ds := r.states[d]
			switch ds.Status {
			case flow.StepFailed, flow.StepSkipped, flow.StepCancelled:
				st.Status = flow.StepSkipped
				st.Error = fmt.Sprintf("skipped: step %d did not succeed", d)
				st.FinishedAt = &now
				st.NextAttemptAt = nil
			}
			if ds.Status != flow.StepSuccess {
				depsOK = false
			}
		}
		if st.Status == flow.StepSkipped || !depsOK {
			continue
		}
		if st.NextAttemptAt != nil && now.Before(*st.NextAttemptAt) {
			if nextDue.IsZero() || st.NextAttemptAt.Before(nextDue) {
				nextDue = *st.NextAttemptAt
			}
			continue
		}
		launch = append(launch, n)
	}
	return launch, nextDue
}

func (r *run) execute(ctx context.Context) error {
	now := time.Now()
	w := r.w
	if r.exec.Status == flow.ExecutionStatusScheduled && r.exec.NextRetryAt != nil {
		// An execution retry starts: a new attempt of the execution.
		r.exec.AttemptNumber++
		r.exec.NextRetryAt = nil
	}
	if r.exec.ExecutedAt == nil {
		r.exec.ExecutedAt = &now
		w.obs.ExecutionStarted()
	}
	r.exec.Status = flow.ExecutionStatusInProgress

	results := make(chan attemptResult)
	inflight := 0
	pending := r.recoverOrphans()
	first := true
	for {
		now := time.Now() // a fresh variable: states keep pointers to it
		launch, nextDue := r.ready(now)
		if w.draining.Load() || ctx.Err() != nil {
			launch = nil
		}
		type job struct {
			ps       *flow.PlannedStep
			vars     map[string]any
			attempt  int
			deadline time.Time
		}
		var jobs []job
		for _, n := range launch {
			st := r.states[n]
			ps := r.plan.Steps[n]
			if st.FirstStartedAt == nil {
				st.FirstStartedAt = &now
			}
			st.Attempts++
			st.Status = flow.StepRunning
			st.NextAttemptAt = nil
			deadline := st.FirstStartedAt.Add(time.Duration(ps.Step.Timeout) * time.Second)
			jobs = append(jobs, job{ps, r.vars(st.Attempts), st.Attempts, deadline})
		}

		if inflight == 0 && len(jobs) == 0 {
			return r.finish(ctx, pending, nextDue)
		}
		if len(pending) > 0 || len(jobs) > 0 {
			// Attempt records must be durable before what depends on them is
			// sent, and a step is marked running before its request leaves, so
			// that a worker that dies mid-request leaves a record saying the
			// request may have been sent (recoverOrphans).
			err := w.commit.submit(ctx, &commitReq{attempts: pending, update: r.update(flow.ExecutionStatusInProgress)}, true)
			if err != nil && ctx.Err() != nil {
				// Cancelled or stopping while checkpointing: nothing new was
				// sent; record what was, and hand back.
				for _, j := range jobs {
					st := r.states[j.ps.Step.StepNumber]
					st.Status = flow.StepPending
					st.Attempts--
				}
				for ; inflight > 0; inflight-- {
					res := <-results
					r.apply(&res)
					pending = append(pending, res.rec)
				}
				return r.interrupted(ctx, pending)
			}
			if err != nil {
				return r.abort(ctx, inflight, results, fmt.Errorf("record attempts: %w", err))
			}
			pending = nil
		} else if first {
			_ = w.commit.submit(ctx, &commitReq{update: r.update(flow.ExecutionStatusInProgress)}, false)
		}
		first = false
		for _, j := range jobs {
			inflight++
			go func() {
				results <- w.sendStep(ctx, j.ps, j.vars, r.exec.ID, j.attempt, r.plan.Def.SigningSecret, j.deadline)
			}()
		}

		res := <-results
		inflight--
		r.apply(&res)
		pending = append(pending, res.rec)
		if ctx.Err() != nil {
			// Cancelled by an operator or the process is stopping: collect the
			// other in-flight attempts, record them, and hand back.
			for ; inflight > 0; inflight-- {
				res := <-results
				r.apply(&res)
				pending = append(pending, res.rec)
			}
			return r.interrupted(ctx, pending)
		}
	}
}

// orphanedAttemptError is the error of the record of an attempt whose
// process stopped before recording its outcome.
const orphanedAttemptError = "the worker running this attempt stopped before recording its outcome " +
	"(crash, kill or lost database); the request may have reached the target: it is sent again " +
	"with the same Idempotency-Key and does not count against retry_limit"

// recoverOrphans makes the steps a previous run left running (its process
// died, or lost the database, in the middle of a request) pending again, so
// that they are sent again, and returns a record of each lost attempt so
// that the execution tells that the request may have been sent.
func (r *run) recoverOrphans() []flow.StepAttempt {
	var recs []flow.StepAttempt
	for _, n := range r.plan.Order {
		st := r.states[n]
		if st.Status != flow.StepRunning {
			continue
		}
		ps := r.plan.Steps[n]
		msg := orphanedAttemptError
		if r.prevWorker != "" {
			msg = fmt.Sprintf("worker %s stopped before recording the outcome of this attempt "+
				"(crash, kill or lost database); the request may have reached the target: it is sent again "+
				"with the same Idempotency-Key and does not count against retry_limit", r.prevWorker)
		}
		recs = append(recs, flow.StepAttempt{
			ID:               uuid.New(),
			ExecutionID:      r.exec.ID,
			StepNumber:       n,
			Attempt:          max(st.Attempts, 1),
			ExecutionAttempt: r.exec.AttemptNumber,
			Outcome:          "interrupted",
			RequestMethod:    ps.Step.WebhookMethod,
			RequestURL:       redact.URL(ps.Step.WebhookURL, nil),
			Error:            msg,
			WorkerID:         r.prevWorker,
			StartedAt:        r.exec.UpdatedAt,
		})
		r.w.log.Warn("step attempt lost with its worker; sending it again",
			"execution_id", r.exec.ID, "step_number", n, "attempt", max(st.Attempts, 1), "worker_id", r.prevWorker)
		st.Status = flow.StepPending
		st.Attempts = max(st.Attempts-1, 0)
	}
	return recs
}

// apply folds one attempt's result into the step states.
func (r *run) apply(res *attemptResult) {
	w := r.w
	res.rec.ExecutionAttempt = r.exec.AttemptNumber
	now := time.Now()
	st := r.states[res.step]
	ps := r.plan.Steps[res.step]
	status := 0
	if res.rec.ResponseStatus != nil {
		status = *res.rec.ResponseStatus
	}
	if res.cancelled {
		res.rec.Outcome = "interrupted"
	}
	w.obs.StepAttempted(res.rec.Outcome, status, time.Duration(res.rec.DurationMS)*time.Millisecond)
	w.log.Info("step attempt",
		"execution_id", r.exec.ID, "flow_id", r.exec.FlowID, "step_number", res.step,
		"attempt", res.rec.Attempt, "outcome", res.rec.Outcome, "status_code", status,
		"duration_ms", res.rec.DurationMS, "error", res.rec.Error)
	switch {
	case res.cancelled:
		// Not counted: the attempt was cut short by a cancel or a stop.
		st.Status = flow.StepPending
		st.Attempts--
		return
	case res.ok:
		st.Status = flow.StepSuccess
		st.FinishedAt = &now
		st.Error = ""
		st.Permanent = false
		if len(res.extracted) > 0 {
			b, _ := json.Marshal(res.extracted)
			st.Vars = b
			for k, v := range res.extracted {
				r.extracted[k] = normalize(v)
			}
		}
		r.collectRecords(res)
		return
	}
	st.Error = res.rec.Error // the reason with secret values masked
	if !res.permanent && st.Attempts < 1+ps.Step.RetryLimit {
		delay := r.plan.Def.RetryDelayDuration()
		if res.retryAfter > delay {
			delay = res.retryAfter
		}
		next := now.Add(delay)
		deadline := st.FirstStartedAt.Add(time.Duration(ps.Step.Timeout) * time.Second)
		if next.Before(deadline) {
			st.Status = flow.StepWaiting
			st.NextAttemptAt = &next
			w.obs.RetryScheduled("step")
			return
		}
		st.Error += fmt.Sprintf(" (no retry: the step timeout of %ds ends before the next attempt)", ps.Step.Timeout)
		st.Permanent = true
	}
	if res.permanent {
		st.Permanent = true
	}
	st.Status = flow.StepFailed
	st.FinishedAt = &now
}

// finish decides what happens once no step is in flight: wait for a step
// retry, schedule an execution retry, or end the execution.
func (r *run) finish(ctx context.Context, pending []flow.StepAttempt, nextDue time.Time) error {
	w := r.w
	now := time.Now()
	if w.draining.Load() || ctx.Err() != nil {
		return r.interrupted(ctx, pending)
	}
	if !nextDue.IsZero() {
		// A step waits for its retry: checkpoint and snooze the job.
		if err := w.commit.submit(ctx, &commitReq{attempts: pending, update: r.update(flow.ExecutionStatusInProgress)}, true); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		return river.JobSnooze(max(nextDue.Sub(now), 0))
	}
	var failed []int
	allSuccess := true
	permanent := false
	for _, n := range r.plan.Order {
		st := r.states[n]
		if st.Status != flow.StepSuccess {
			allSuccess = false
		}
		if st.Status == flow.StepFailed {
			failed = append(failed, n)
			permanent = permanent || st.Permanent
		}
	}
	status := flow.ExecutionStatusSuccess
	switch {
	case allSuccess:
		r.exec.ErrorMessage = nil
		r.exec.FinishedAt = &now
	case len(failed) > 0:
		sort.Ints(failed)
		msg := fmt.Sprintf("step %d failed: %s", failed[0], r.states[failed[0]].Error)
		r.exec.ErrorMessage = &msg
		if !permanent && r.exec.AttemptNumber <= r.plan.Def.MaxRetries {
			status = flow.ExecutionStatusScheduled
			next := now.Add(r.plan.Def.RetryDelayDuration())
			r.exec.NextRetryAt = &next
			for _, st := range r.states {
				if st.Status == flow.StepFailed || st.Status == flow.StepSkipped {
					*st = flow.StepState{Status: flow.StepPending}
				}
			}
			w.obs.RetryScheduled("execution")
		} else {
			status = flow.ExecutionStatusFailed
			r.exec.FinishedAt = &now
		}
	default:
		// Nothing failed, nothing runs, yet not all succeeded: a step was
		// interrupted and is pending again; let River run the job again.
		if err := w.commit.submit(ctx, &commitReq{attempts: pending, update: r.update(flow.ExecutionStatusInProgress)}, true); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		return river.JobSnooze(0)
	}
	if err := w.commit.submit(ctx, &commitReq{attempts: pending, update: r.update(status)}, true); err != nil {
		return fmt.Errorf("record execution end: %w", err)
	}
	if status == flow.ExecutionStatusScheduled {
		return river.JobSnooze(max(r.exec.NextRetryAt.Sub(now), 0))
	}
	w.obs.ExecutionFinished(status)
	return nil
}

// interrupted records what the cut-short attempts sent and gives the
// execution back: cancelled for an operator cancel, to the queue otherwise.
func (r *run) interrupted(ctx context.Context, pending []flow.StepAttempt) error {
	w := r.w
	cause := context.Cause(ctx)
	cancelled := errors.Is(cause, river.ErrJobCancelledRemotely)
	status := flow.ExecutionStatusInProgress
	if cancelled {
		status = flow.ExecutionStatusCancelled
		now := time.Now()
		for _, st := range r.states {
			if !terminal(st.Status) {
				st.Status = flow.StepCancelled
				st.FinishedAt = &now
				st.NextAttemptAt = nil
			}
		}
		for i := range pending {
			if pending[i].Outcome == "interrupted" {
				pending[i].Outcome = "cancelled"
			}
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := w.commit.submit(cctx, &commitReq{attempts: pending, update: r.update(status)}, true)
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
func (r *run) abort(ctx context.Context, inflight int, results chan attemptResult, err error) error {
	for ; inflight > 0; inflight-- {
		<-results
	}
	return err
}

// MaxRecords bounds the records an inbound flow keeps per execution.
const MaxRecords = 1000

// collectRecords applies flow_mapping.records to the response of the step
// it names: {"step": N, "path": "<gjson path to an array>", "fields":
// {"out": "<gjson path inside one record>"}}. Without fields each record is
// kept whole.
func (r *run) collectRecords(res *attemptResult) {
	m := gjson.GetBytes(r.plan.Def.FlowMapping, "records")
	if !m.IsObject() || int(m.Get("step").Int()) != res.step {
		return
	}
	arr := gjson.GetBytes(res.body, m.Get("path").String())
	if !arr.IsArray() {
		return
	}
	fields := m.Get("fields")
	out := []any{}
	arr.ForEach(func(_, item gjson.Result) bool {
		if len(out) >= MaxRecords {
			return false
		}
		if !fields.IsObject() {
			out = append(out, item.Value())
			return true
		}
		rec := map[string]any{}
		fields.ForEach(func(k, p gjson.Result) bool {
			if v := item.Get(p.String()); v.Exists() {
				rec[k.String()] = v.Value()
			} else {
				rec[k.String()] = nil
			}
			return true
		})
		out = append(out, rec)
		return true
	})
	b, err := json.Marshal(out)
	if err == nil {
		r.records = b
	}
}

// giveUp fails an execution whose job was cut short runs times (worker
// crashes, rescues, database errors): whatever makes it fail, running it
// again will not help.
func (r *run) giveUp(ctx context.Context, runs int) error {
	now := time.Now()
	msg := fmt.Sprintf("execution abandoned after %d runs that did not finish (worker crashes or database errors); "+
		"retry it once the cause is fixed", runs)
	r.exec.ErrorMessage = &msg
	r.exec.FinishedAt = &now
	if r.exec.ExecutedAt == nil {
		r.exec.ExecutedAt = &now
	}
	for _, st := range r.states {
		if !terminal(st.Status) {
			st.Status = flow.StepFailed
			st.Error = msg
			st.FinishedAt = &now
			st.NextAttemptAt = nil
		}
	}
	if err := r.w.commit.submit(ctx, &commitReq{update: r.update(flow.ExecutionStatusFailed)}, true); err != nil {
		return fmt.Errorf("record abandoned execution: %w", err)
	}
	r.w.log.Error("execution abandoned", "execution_id", r.exec.ID, "flow_id", r.exec.FlowID, "runs", runs)
	r.w.obs.ExecutionFinished(flow.ExecutionStatusFailed)
	return nil
}
