package flow

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
)

// The execution state machine. A runner (package engine) holds a State,
// asks Next what to do, sends the attempts it is told to, folds each
// attempt's outcome in with Apply, and records every new State. Each
// function here takes the plan, the state and the time (never read from
// the clock here) and returns a new State without changing the one it was
// given: a State handed to the committer stays as it was while the runner
// moves on (copy on write: changed steps are new values, the others are
// shared).

// State is the progress of one execution as the state machine reads and
// writes it: the fields of an Execution that running it changes.
type State struct {
	Status        string
	AttemptNumber int
	// Steps is the state of each step of the plan, by step number.
	Steps        map[int]*StepState
	ErrorMessage *string
	ExecutedAt   *time.Time
	NextRetryAt  *time.Time
	FinishedAt   *time.Time
}

// NewState returns the state of e with a state for every step of p: steps
// without one are pending (a new execution has none), steps p does not
// know are dropped.
func NewState(p *Plan, e *Execution) State {
	steps := make(map[int]*StepState, len(p.Order))
	for _, n := range p.Order {
		st := e.Steps[n]
		if st == nil {
			st = &StepState{Status: StepPending}
		}
		steps[n] = st
	}
	return State{
		Status:        e.Status,
		AttemptNumber: e.AttemptNumber,
		Steps:         steps,
		ErrorMessage:  e.ErrorMessage,
		ExecutedAt:    e.ExecutedAt,
		NextRetryAt:   e.NextRetryAt,
		FinishedAt:    e.FinishedAt,
	}
}

// Update returns s as the update of execution id that the committer writes.
// The update shares s's steps: neither may be changed afterwards.
func (s State) Update(id uuid.UUID) ExecutionUpdate {
	return ExecutionUpdate{
		ID:            id,
		Status:        s.Status,
		AttemptNumber: s.AttemptNumber,
		Steps:         s.Steps,
		ErrorMessage:  s.ErrorMessage,
		ExecutedAt:    s.ExecutedAt,
		NextRetryAt:   s.NextRetryAt,
		FinishedAt:    s.FinishedAt,
	}
}

// edit is one transition's copy of a State: the steps map is copied on the
// first change, and each changed step is a new value.
type edit struct {
	s      State
	orig   map[int]*StepState // the steps of the state the transition started from
	cloned bool               // s.Steps is this transition's own copy
}

func newEdit(s State) *edit { return &edit{s: s, orig: s.Steps} }

// step returns step n of the new state, ready to be changed.
func (e *edit) step(n int) *StepState {
	if e.cloned && e.s.Steps[n] != e.orig[n] {
		return e.s.Steps[n] // already copied in this transition
	}
	if !e.cloned {
		e.s.Steps = maps.Clone(e.orig)
		e.cloned = true
	}
	c := *e.orig[n]
	e.s.Steps[n] = &c
	return &c
}

// DecisionKind says what the runner does next.
type DecisionKind int

// The decisions of the state machine.
const (
	// Run: the execution is due; start (or continue) running it.
	Run DecisionKind = iota + 1
	// Ended: the execution has already ended; there is nothing to do.
	Ended
	// Launch: send the attempts in Decision.Start now (their steps are
	// running in the new state, which must be recorded before a request
	// leaves), then wait for an outcome.
	Launch
	// Await: attempts are in flight and nothing else can start: wait for
	// the next outcome.
	Await
	// WaitUntil: nothing is in flight and nothing can start before
	// Decision.At (a step waits for its retry, or an execution retry is
	// not due yet): record the state and let the job sleep until then.
	WaitUntil
	// RetryExecution: this attempt of the execution failed and it has
	// retries left: it is scheduled again at Decision.At.
	RetryExecution
	// Succeeded: every step succeeded; the execution has ended.
	Succeeded
	// Failed: a step failed for good and no execution retry is left (or
	// retrying cannot help); the execution has ended.
	Failed
	// Requeue: nothing failed and nothing runs, yet not every step
	// succeeded: record the state and run the execution again now.
	Requeue
	// HandBack: the runner is stopping and nothing is in flight: record
	// the state and give the execution back (see Cancel for an operator
	// cancel).
	HandBack
)

var decisionNames = map[DecisionKind]string{
	Run: "run", Ended: "ended", Launch: "launch", Await: "await", WaitUntil: "wait until",
	RetryExecution: "retry execution", Succeeded: "succeeded", Failed: "failed",
	Requeue: "requeue", HandBack: "hand back",
}

// String names the decision (for test failures and logs).
func (k DecisionKind) String() string {
	if s, ok := decisionNames[k]; ok {
		return s
	}
	return fmt.Sprintf("DecisionKind(%d)", int(k))
}

// Decision is what the state machine tells the runner to do.
type Decision struct {
	Kind DecisionKind
	// Start lists the attempts to send (Launch), in plan order.
	Start []AttemptStart
	// At is when the execution continues (WaitUntil, RetryExecution).
	At time.Time
}

// AttemptStart is one attempt the runner must send.
type AttemptStart struct {
	Step int
	// Attempt is the attempt's number within the step (1 for the first),
	// the value of {{$attempt}}.
	Attempt int
	// Deadline is when the step's whole timeout ends; the attempt must not
	// outlive it.
	Deadline time.Time
}

// AttemptOutcome is what one attempt of a step came to, as the state
// machine needs it.
type AttemptOutcome struct {
	Step int
	// Outcome is OutcomeSuccess, OutcomeFailed or OutcomeInterrupted (the
	// attempt was cut short by a cancel or a stop; it does not count).
	Outcome string
	// Permanent tells that retrying cannot help (blocked address, unknown
	// variable, step timeout spent).
	Permanent bool
	// RetryAfter is the Retry-After of a 429 or 503 answer, if any.
	RetryAfter time.Duration
	// Error is why the attempt failed, secrets masked.
	Error string
	// Extracted are the variables a successful attempt extracted.
	Extracted map[string]any
}

// PickUp decides what a runner does with an execution it was given at now:
// nothing when it has ended, wait when it is scheduled for an execution
// retry that is not due yet, run it otherwise.
func PickUp(e *ExecutionSummary, now time.Time) Decision {
	if ExecutionEnded(e.Status) {
		return Decision{Kind: Ended}
	}
	if e.Status == ExecutionStatusScheduled && e.NextRetryAt != nil && now.Before(*e.NextRetryAt) {
		return Decision{Kind: WaitUntil, At: *e.NextRetryAt}
	}
	return Decision{Kind: Run}
}

// Begin starts a run of the execution at now: an execution scheduled for a
// retry begins its next attempt, the first run sets executed_at, and the
// execution is in progress.
func Begin(s State, now time.Time) State {
	if s.Status == ExecutionStatusScheduled && s.NextRetryAt != nil {
		s.AttemptNumber++
		s.NextRetryAt = nil
	}
	if s.ExecutedAt == nil {
		s.ExecutedAt = &now
	}
	s.Status = ExecutionStatusInProgress
	return s
}

// OrphanedAttemptError is the error of the record of an attempt whose
// worker stopped before recording its outcome; worker names that worker
// when it is known.
func OrphanedAttemptError(worker string) string {
	who := "the worker running this attempt"
	if worker != "" {
		who = "worker " + worker
	}
	return who + " stopped before recording the outcome of this attempt " +
		"(crash, kill or lost database); the request may have reached the target: it is sent again " +
		"with the same Idempotency-Key and does not count against retry_limit"
}

// RecoverOrphans makes the steps a previous run left running (its worker
// died, or lost the database, in the middle of a request) pending again,
// the lost attempt not counted, and returns a record of each lost attempt
// (outcome interrupted) so that the execution tells that the request may
// have been sent. worker is the previous run's worker ("" when unknown);
// since is when the execution was last written. The records lack their
// ID and RequestURL, which the runner fills in.
func RecoverOrphans(p *Plan, s State, worker string, since time.Time) (State, []StepAttempt) {
	e := newEdit(s)
	var recs []StepAttempt
	for _, n := range p.Order {
		if s.Steps[n].Status != StepRunning {
			continue
		}
		st := e.step(n)
		recs = append(recs, interruptedAttempt(p, s, n, max(st.Attempts, 1), worker, since))
		st.Status = StepPending
		st.Attempts = max(st.Attempts-1, 0)
	}
	return e.s, recs
}

// RecoverUnstarted returns a record of each attempt a previous run of an
// execution that never started may have sent: the first launch of s (a
// state with nothing started and nothing recorded), outcome interrupted,
// as RecoverOrphans writes them. A run does not write its state before
// its first requests leave (the runner's start without a checkpoint), so
// when the run before this one ended without saying it sent nothing (its
// worker died, or lost the database after sending), the first launch's
// requests may have reached their targets. The state is left as it is:
// the same attempts are sent again, with the same Idempotency-Key.
func RecoverUnstarted(p *Plan, s State, worker string, since, now time.Time) []StepAttempt {
	_, d := Next(p, s, now, false)
	if d.Kind != Launch {
		return nil
	}
	recs := make([]StepAttempt, 0, len(d.Start))
	for _, a := range d.Start {
		recs = append(recs, interruptedAttempt(p, s, a.Step, a.Attempt, worker, since))
	}
	return recs
}

// interruptedAttempt is the record of an attempt of step whose request a
// previous run, on worker, may have sent without recording its outcome
// (RecoverOrphans, RecoverUnstarted). It lacks its ID and RequestURL,
// which the runner fills in.
func interruptedAttempt(p *Plan, s State, step, attempt int, worker string, since time.Time) StepAttempt {
	return StepAttempt{
		StepNumber:       step,
		Attempt:          attempt,
		ExecutionAttempt: s.AttemptNumber,
		Outcome:          OutcomeInterrupted,
		RequestMethod:    p.Steps[step].Step.WebhookMethod,
		Error:            OrphanedAttemptError(worker),
		WorkerID:         worker,
		StartedAt:        since,
	}
}

// Next decides what happens at now. It skips the steps whose dependencies
// can no longer succeed (transitively, in one pass), and then:
//
//   - unless the runner is stopping, starts every step that is ready (its
//     dependencies succeeded and its retry, if any, is due): Launch;
//   - with steps in flight, Await; stopping with none, HandBack;
//   - with a step waiting for its retry, WaitUntil the earliest one;
//   - with every step succeeded, Succeeded;
//   - with a failed step, an execution retry at now + retry_delay
//     (RetryExecution: failed and skipped steps pending again, succeeded
//     ones kept) while attempts are left and no failure is permanent,
//     else Failed; the error message names the first failed step and why;
//   - otherwise Requeue.
func Next(p *Plan, s State, now time.Time, stopping bool) (State, Decision) {
	e := newEdit(s)
	var ready []int
	var nextDue time.Time
	for _, n := range p.Order {
		status := e.s.Steps[n].Status
		if status != StepPending && status != StepWaiting {
			continue
		}
		depsOK, skipped := true, false
		for _, d := range p.Steps[n].Deps {
			switch e.s.Steps[d].Status {
			case StepSuccess:
				continue
			case StepFailed, StepSkipped, StepCancelled:
				st := e.step(n)
				st.Status = StepSkipped
				st.Error = fmt.Sprintf("skipped: step %d did not succeed", d)
				st.FinishedAt = &now
				st.NextAttemptAt = nil
				skipped = true
			}
			depsOK = false
		}
		if skipped || !depsOK {
			continue
		}
		if at := e.s.Steps[n].NextAttemptAt; at != nil && now.Before(*at) {
			if nextDue.IsZero() || at.Before(nextDue) {
				nextDue = *at
			}
			continue
		}
		ready = append(ready, n)
	}
	if !stopping && len(ready) > 0 {
		start := make([]AttemptStart, 0, len(ready))
		for _, n := range ready {
			st := e.step(n)
			if st.FirstStartedAt == nil {
				st.FirstStartedAt = &now
			}
			st.Attempts++
			st.Status = StepRunning
			st.NextAttemptAt = nil
			start = append(start, AttemptStart{Step: n, Attempt: st.Attempts, Deadline: stepDeadline(p.Steps[n], st, now)})
		}
		return e.s, Decision{Kind: Launch, Start: start}
	}
	for _, n := range p.Order {
		if e.s.Steps[n].Status == StepRunning {
			return e.s, Decision{Kind: Await}
		}
	}
	if stopping {
		return e.s, Decision{Kind: HandBack}
	}
	if !nextDue.IsZero() {
		return e.s, Decision{Kind: WaitUntil, At: nextDue}
	}
	return finish(p, e, now)
}

// finish ends an execution attempt in which nothing runs or waits.
func finish(p *Plan, e *edit, now time.Time) (State, Decision) {
	var failed []int
	allSuccess, permanent := true, false
	for _, n := range p.Order {
		st := e.s.Steps[n]
		if st.Status != StepSuccess {
			allSuccess = false
		}
		if st.Status == StepFailed {
			failed = append(failed, n)
			permanent = permanent || st.Permanent
		}
	}
	switch {
	case allSuccess:
		e.s.Status = ExecutionStatusSuccess
		e.s.ErrorMessage = nil
		e.s.FinishedAt = &now
		return e.s, Decision{Kind: Succeeded}
	case len(failed) == 0:
		return e.s, Decision{Kind: Requeue}
	}
	slices.Sort(failed)
	msg := fmt.Sprintf("step %d failed: %s", failed[0], e.s.Steps[failed[0]].Error)
	e.s.ErrorMessage = &msg
	if permanent || e.s.AttemptNumber > p.Def.MaxRetries {
		e.s.Status = ExecutionStatusFailed
		e.s.FinishedAt = &now
		return e.s, Decision{Kind: Failed}
	}
	next := now.Add(p.Def.RetryDelayDuration())
	e.s.Status = ExecutionStatusScheduled
	e.s.NextRetryAt = &next
	for _, n := range p.Order {
		if st := e.s.Steps[n]; st.Status == StepFailed || st.Status == StepSkipped {
			*e.step(n) = StepState{Status: StepPending}
		}
	}
	return e.s, Decision{Kind: RetryExecution, At: next}
}

// stepDeadline is when the step's whole timeout, counted from its first
// attempt of this round (now when it has none), ends.
func stepDeadline(ps *PlannedStep, st *StepState, now time.Time) time.Time {
	start := now
	if st.FirstStartedAt != nil {
		start = *st.FirstStartedAt
	}
	return start.Add(time.Duration(ps.Step.Timeout) * time.Second)
}

// Apply folds the outcome of one attempt, received at now, into the state:
//
//   - an interrupted attempt (cancel or stop) is not counted: the step is
//     pending again;
//   - a success keeps the extracted variables;
//   - a failure that retrying may cure, with attempts left (1 +
//     retry_limit), waits for its next attempt after the retry delay, or
//     after Retry-After when that is longer, unless the step's timeout ends
//     first: then, like a permanent failure, the step fails for good.
func Apply(p *Plan, s State, o AttemptOutcome, now time.Time) State {
	ps, ok := p.Steps[o.Step]
	if !ok || s.Steps[o.Step] == nil {
		return s
	}
	e := newEdit(s)
	st := e.step(o.Step)
	switch o.Outcome {
	case OutcomeInterrupted:
		st.Status = StepPending
		st.Attempts--
		return e.s
	case OutcomeSuccess:
		st.Status = StepSuccess
		st.FinishedAt = &now
		st.Error = ""
		st.Permanent = false
		if len(o.Extracted) > 0 {
			b, _ := json.Marshal(o.Extracted)
			st.Vars = b
		}
		return e.s
	}
	st.Error = o.Error
	if !o.Permanent && st.Attempts < 1+ps.Step.RetryLimit {
		delay := max(p.Def.RetryDelayDuration(), o.RetryAfter)
		next := now.Add(delay)
		if next.Before(stepDeadline(ps, st, now)) {
			st.Status = StepWaiting
			st.NextAttemptAt = &next
			return e.s
		}
		st.Error += fmt.Sprintf(" (no retry: the step timeout of %ds ends before the next attempt)", ps.Step.Timeout)
		st.Permanent = true
	}
	if o.Permanent {
		st.Permanent = true
	}
	st.Status = StepFailed
	st.FinishedAt = &now
	return e.s
}

// terminal reports whether a step state is final within an execution
// attempt.
func terminal(status string) bool {
	switch status {
	case StepSuccess, StepFailed, StepSkipped, StepCancelled:
		return true
	}
	return false
}

// Cancel applies an operator cancel at now; it wins over everything else:
// the execution is cancelled, every step not yet finished is cancelled,
// and the records of attempts cut short (interrupted) say cancelled.
// recs is not changed; the records are returned as a new slice.
func Cancel(s State, recs []StepAttempt, now time.Time) (State, []StepAttempt) {
	e := newEdit(s)
	e.s.Status = ExecutionStatusCancelled
	for _, n := range slices.Sorted(maps.Keys(s.Steps)) {
		if !terminal(s.Steps[n].Status) {
			st := e.step(n)
			st.Status = StepCancelled
			st.FinishedAt = &now
			st.NextAttemptAt = nil
		}
	}
	out := slices.Clone(recs)
	for i := range out {
		if out[i].Outcome == OutcomeInterrupted {
			out[i].Outcome = OutcomeCancelled
		}
	}
	return e.s, out
}

// GiveUp fails an execution whose job was cut short runs times (worker
// crashes, rescues, database errors): whatever makes it fail, running it
// again will not help. Every step not yet finished fails with the same
// message.
func GiveUp(s State, runs int, now time.Time) State {
	msg := fmt.Sprintf("execution abandoned after %d runs that did not finish (worker crashes or database errors); "+
		"retry it once the cause is fixed", runs)
	e := newEdit(s)
	e.s.Status = ExecutionStatusFailed
	e.s.ErrorMessage = &msg
	e.s.FinishedAt = &now
	if e.s.ExecutedAt == nil {
		e.s.ExecutedAt = &now
	}
	for _, n := range slices.Sorted(maps.Keys(s.Steps)) {
		if !terminal(s.Steps[n].Status) {
			st := e.step(n)
			st.Status = StepFailed
			st.Error = msg
			st.FinishedAt = &now
			st.NextAttemptAt = nil
		}
	}
	return e.s
}
