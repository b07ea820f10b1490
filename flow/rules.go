package flow

import (
	"errors"
	"fmt"
)

// The rules of what may be done to a flow or an execution in its current
// state. The API, the scheduler (triggers, schedules, inbound hooks) and
// the store call these; nothing else decides them. Where a rule must also
// be a SQL predicate (the schedule loop's partial index), a test checks
// that the SQL agrees with the rule here.

// ErrConflict is wrapped by the error of a change the current state of a
// flow or an execution refuses (editing a deleted flow, triggering a
// stopped one). store.ErrConflict is the same value; the API answers it
// with 409 and the error's text.
var ErrConflict = errors.New("conflict")

func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

// CheckTrigger says whether a new execution of a flow with the stored
// status status may start (a trigger, an inbound hook, a schedule slot):
// not when it is deleted, stopped or a template.
func CheckTrigger(status string, isTemplate bool) error {
	switch {
	case status == FlowStatusDeleted:
		return conflict("flow is deleted")
	case status == FlowStatusStopped:
		return conflict("flow is stopped; resume it first")
	case isTemplate:
		return conflict("flow is a template; clone it to run it")
	}
	return nil
}

// CheckEdit says whether a flow may be changed (its definition replaced,
// its hook secret rotated): not once it is deleted.
func CheckEdit(status string) error { return refuseDeleted(status) }

// CheckClone says whether a flow may be cloned: any flow but a deleted one
// (a template, a stopped flow).
func CheckClone(status string) error { return refuseDeleted(status) }

// CheckStopResume says whether a flow may be stopped or resumed: not once
// it is deleted.
func CheckStopResume(status string) error { return refuseDeleted(status) }

func refuseDeleted(status string) error {
	if status == FlowStatusDeleted {
		return conflict("flow is deleted")
	}
	return nil
}

// CheckCancel says whether an execution may be cancelled: only while it is
// scheduled or in progress.
func CheckCancel(status string) error {
	if status != ExecutionStatusScheduled && status != ExecutionStatusInProgress {
		return conflict("execution is %s", status)
	}
	return nil
}

// CheckRetry says whether an operator may retry an execution: only once it
// failed or was cancelled.
func CheckRetry(status string) error {
	if status != ExecutionStatusFailed && status != ExecutionStatusCancelled {
		return conflict("execution is %s; only failed or cancelled executions can be retried", status)
	}
	return nil
}

// RetryState is the state an operator retry puts an ended execution in:
// scheduled for its next attempt, with only the steps that succeeded kept
// (they are not sent again); every other step starts afresh. It fails as
// CheckRetry does.
func RetryState(e *Execution) (State, error) {
	if err := CheckRetry(e.Status); err != nil {
		return State{}, err
	}
	steps := map[int]*StepState{}
	for n, st := range e.Steps {
		if st.Status == StepSuccess {
			steps[n] = st
		}
	}
	return State{
		Status:        ExecutionStatusScheduled,
		AttemptNumber: e.AttemptNumber + 1,
		Steps:         steps,
		ExecutedAt:    e.ExecutedAt,
	}, nil
}
