package flow

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFlowRules: what may be done to a flow in each stored state, and the
// messages the API answers with 409.
func TestFlowRules(t *testing.T) {
	t.Parallel()
	const (
		deleted  = "conflict: flow is deleted"
		stopped  = "conflict: flow is stopped; resume it first"
		template = "conflict: flow is a template; clone it to run it"
	)
	for _, tc := range []struct {
		status   string
		template bool
		// want: the error text of each rule, "" when allowed.
		trigger, edit, clone, stopResume string
	}{
		{FlowStatusScheduled, false, "", "", "", ""},
		{FlowStatusRunning, false, "", "", "", ""},
		{FlowStatusInProgress, false, "", "", "", ""},
		{FlowStatusFailed, false, "", "", "", ""},
		{FlowStatusStopped, false, stopped, "", "", ""},
		{FlowStatusDeleted, false, deleted, deleted, deleted, deleted},
		{FlowStatusScheduled, true, template, "", "", ""},
		{FlowStatusStopped, true, stopped, "", "", ""},
		{FlowStatusDeleted, true, deleted, deleted, deleted, deleted},
	} {
		got := map[string]string{
			"trigger":     errText(CheckTrigger(tc.status, tc.template)),
			"edit":        errText(CheckEdit(tc.status)),
			"clone":       errText(CheckClone(tc.status)),
			"stop/resume": errText(CheckStopResume(tc.status)),
		}
		want := map[string]string{"trigger": tc.trigger, "edit": tc.edit, "clone": tc.clone, "stop/resume": tc.stopResume}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("flow %s (template %v): rules (-want +got):\n%s", tc.status, tc.template, d)
		}
	}
}

func TestExecutionRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status        string
		cancel, retry string
	}{
		{ExecutionStatusScheduled, "", "conflict: execution is scheduled; only failed or cancelled executions can be retried"},
		{ExecutionStatusInProgress, "", "conflict: execution is in_progress; only failed or cancelled executions can be retried"},
		{ExecutionStatusSuccess, "conflict: execution is success", "conflict: execution is success; only failed or cancelled executions can be retried"},
		{ExecutionStatusFailed, "conflict: execution is failed", ""},
		{ExecutionStatusCancelled, "conflict: execution is cancelled", ""},
	} {
		if got := errText(CheckCancel(tc.status)); got != tc.cancel {
			t.Errorf("CheckCancel(%s) = %q, want %q", tc.status, got, tc.cancel)
		}
		if got := errText(CheckRetry(tc.status)); got != tc.retry {
			t.Errorf("CheckRetry(%s) = %q, want %q", tc.status, got, tc.retry)
		}
	}
}

// errText is err's text, "" for nil; a non-nil error must wrap ErrConflict.
func errText(err error) string {
	if err == nil {
		return ""
	}
	if !errors.Is(err, ErrConflict) {
		return "not ErrConflict: " + err.Error()
	}
	return err.Error()
}

// TestRetryState: an operator retry keeps only the steps that succeeded;
// failed, skipped and cancelled steps run again.
func TestRetryState(t *testing.T) {
	t.Parallel()
	ok := &StepState{Status: StepSuccess, Attempts: 1, Vars: []byte(`{"id":5}`)}
	e := &Execution{
		ExecutionSummary: ExecutionSummary{Status: ExecutionStatusCancelled, AttemptNumber: 2, ExecutedAt: at(-time.Hour),
			FinishedAt: at(0), ErrorMessage: ptr("cancelled by operator")},
		Steps: map[int]*StepState{
			1: ok,
			2: {Status: StepFailed, Attempts: 3, Error: "HTTP 500"},
			3: {Status: StepSkipped},
			4: {Status: StepCancelled, Attempts: 1},
		},
	}
	got, err := RetryState(e)
	if err != nil {
		t.Fatal(err)
	}
	want := State{Status: ExecutionStatusScheduled, AttemptNumber: 3, ExecutedAt: at(-time.Hour), Steps: map[int]*StepState{1: ok}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("RetryState (-want +got):\n%s", d)
	}
	e.Status = ExecutionStatusInProgress
	if _, err := RetryState(e); !errors.Is(err, ErrConflict) {
		t.Errorf("RetryState of an execution in progress: %v, want ErrConflict", err)
	}
}
