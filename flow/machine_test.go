package flow

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/tabletest"
)

// The state machine's tests: every transition of SPEC.md "Executions,
// retries and flow status" and "Step semantics", without a database.

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns t0 + d.
func at(d time.Duration) *time.Time {
	t := t0.Add(d)
	return &t
}

const (
	testRetryDelay = 10 * time.Second // the flows' retry_delay
	testTimeout    = 60               // the steps' timeout, in seconds
	testRetryLimit = 2                // the steps' retry_limit
)

// machinePlan compiles a flow whose step i+1 depends on deps[i] (0: none),
// with a retry delay of 10 s, max_retries 1, and steps with retry_limit 2
// and a timeout of 60 s.
func machinePlan(t *testing.T, deps ...int) *Plan {
	t.Helper()
	def := &Definition{FlowID: testFlowID, Version: 1, RetryDelay: 10, RetryDelayUnit: "seconds", MaxRetries: 1}
	for i, d := range deps {
		st := Step{StepNumber: i + 1, WebhookMethod: "POST", WebhookURL: "https://example.com/" + string(rune('a'+i)),
			RetryLimit: testRetryLimit, Timeout: testTimeout}
		if d != 0 {
			st.DependsOnStep = ptr(d)
		}
		def.Steps = append(def.Steps, st)
	}
	p, err := Compile(def)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Plans used below.
var (
	chain    = []int{0, 1, 2}    // 1 → 2 → 3
	branches = []int{0, 0, 1, 2} // 1 → 3 and 2 → 4, side by side
)

// cloneState copies s deeply, to check that a transition left its input
// as it was.
func cloneState(s State) State {
	c := s
	c.Steps = make(map[int]*StepState, len(s.Steps))
	for n, st := range s.Steps {
		cp := *st
		c.Steps[n] = &cp
	}
	return c
}

// checkUnchanged fails when a transition changed the state it was given.
func checkUnchanged(t *testing.T, before, after State) {
	t.Helper()
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("the transition changed its input state (-before +after):\n%s", d)
	}
}

// running is a step in flight: its attempt-th attempt, the first one
// started at first.
func running(attempt int, first *time.Time) *StepState {
	return &StepState{Status: StepRunning, Attempts: attempt, FirstStartedAt: first}
}

func TestPickUp(t *testing.T) {
	t.Parallel()
	pickUp := func(e ExecutionSummary) Decision { return PickUp(&e, t0) }
	tabletest.Func(t, "PickUp", pickUp, []tabletest.Case[ExecutionSummary, Decision]{
		{Name: "new", In: ExecutionSummary{Status: ExecutionStatusScheduled}, Want: Decision{Kind: Run}},
		{Name: "in progress (rescued or snoozed)", In: ExecutionSummary{Status: ExecutionStatusInProgress}, Want: Decision{Kind: Run}},
		{Name: "execution retry not due", In: ExecutionSummary{Status: ExecutionStatusScheduled, NextRetryAt: at(5 * time.Second)},
			Want: Decision{Kind: WaitUntil, At: *at(5 * time.Second)}},
		{Name: "execution retry due", In: ExecutionSummary{Status: ExecutionStatusScheduled, NextRetryAt: at(0)}, Want: Decision{Kind: Run}},
		{Name: "succeeded", In: ExecutionSummary{Status: ExecutionStatusSuccess}, Want: Decision{Kind: Ended}},
		{Name: "failed", In: ExecutionSummary{Status: ExecutionStatusFailed}, Want: Decision{Kind: Ended}},
		{Name: "cancelled", In: ExecutionSummary{Status: ExecutionStatusCancelled, NextRetryAt: at(time.Hour)}, Want: Decision{Kind: Ended}},
	})
}

func TestBegin(t *testing.T) {
	t.Parallel()
	done := map[int]*StepState{1: {Status: StepSuccess}}
	begin := func(in State) State { return Begin(in, t0) }
	tabletest.Func(t, "Begin", begin, []tabletest.Case[State, State]{
		{Name: "first run",
			In:   State{Status: ExecutionStatusScheduled, AttemptNumber: 1},
			Want: State{Status: ExecutionStatusInProgress, AttemptNumber: 1, ExecutedAt: at(0)}},
		{Name: "execution retry: the next attempt",
			In:   State{Status: ExecutionStatusScheduled, AttemptNumber: 1, ExecutedAt: at(-time.Minute), NextRetryAt: at(0), Steps: done},
			Want: State{Status: ExecutionStatusInProgress, AttemptNumber: 2, ExecutedAt: at(-time.Minute), Steps: done}},
		{Name: "operator retry (attempt already counted)",
			In:   State{Status: ExecutionStatusScheduled, AttemptNumber: 3, ExecutedAt: at(-time.Hour)},
			Want: State{Status: ExecutionStatusInProgress, AttemptNumber: 3, ExecutedAt: at(-time.Hour)}},
		{Name: "continued after a snooze",
			In:   State{Status: ExecutionStatusInProgress, AttemptNumber: 2, ExecutedAt: at(-time.Minute)},
			Want: State{Status: ExecutionStatusInProgress, AttemptNumber: 2, ExecutedAt: at(-time.Minute)}},
	})
}

func TestNext(t *testing.T) {
	t.Parallel()
	delay := testRetryDelay
	for _, tc := range []struct {
		name     string
		deps     []int
		in       State
		stopping bool
		want     State // nil Steps: the same as in
		wantD    Decision
	}{{
		name: "independent branches start together",
		deps: branches,
		in: State{Status: ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*StepState{
			1: {Status: StepPending}, 2: {Status: StepPending}, 3: {Status: StepPending}, 4: {Status: StepPending}}},
		want: State{Status: ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*StepState{
			1: running(1, at(0)), 2: running(1, at(0)), 3: {Status: StepPending}, 4: {Status: StepPending}}},
		wantD: Decision{Kind: Launch, Start: []AttemptStart{
			{Step: 1, Attempt: 1, Deadline: *at(testTimeout * time.Second)},
			{Step: 2, Attempt: 1, Deadline: *at(testTimeout * time.Second)}}},
	}, {
		name: "a dependent starts once its step succeeded, beside a step in flight",
		deps: branches,
		in: State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{
			1: {Status: StepSuccess}, 2: running(1, at(-time.Second)), 3: {Status: StepPending}, 4: {Status: StepPending}}},
		want: State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{
			1: {Status: StepSuccess}, 2: running(1, at(-time.Second)), 3: running(1, at(0)), 4: {Status: StepPending}}},
		wantD: Decision{Kind: Launch, Start: []AttemptStart{{Step: 3, Attempt: 1, Deadline: *at(testTimeout * time.Second)}}},
	}, {
		name: "steps in flight and nothing ready: await an outcome",
		deps: chain,
		in: State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{
			1: running(1, at(0)), 2: {Status: StepPending}, 3: {Status: StepPending}}},
		wantD: Decision{Kind: Await},
	}, {
		name: "the dependents of a failed step are skipped, transitively",
		deps: []int{0, 1, 2, 0},
		in: State{Status: ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*StepState{
			1: {Status: StepFailed, Error: "HTTP 500"}, 2: {Status: StepPending}, 3: {Status: StepPending}, 4: running(1, at(0))}},
		want: State{Status: ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*StepState{
			1: {Status: StepFailed, Error: "HTTP 500"},
			2: {Status: StepSkipped, Error: "skipped: step 1 did not succeed", FinishedAt: at(0)},
			3: {Status: StepSkipped, Error: "skipped: step 2 did not succeed", FinishedAt: at(0)},
			4: running(1, at(0))}},
		wantD: Decision{Kind: Await},
	}, {
		name: "a waiting step not due yet: wait until the earliest retry",
		deps: branches,
		in: State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{
			1: {Status: StepWaiting, Attempts: 1, FirstStartedAt: at(-time.Second), NextAttemptAt: at(9 * time.Second)},
			2: {Status: StepWaiting, Attempts: 2, FirstStartedAt: at(-time.Minute), NextAttemptAt: at(4 * time.Second)},
			3: {Status: StepPending}, 4: {Status: StepPending}}},
		wantD: Decision{Kind: WaitUntil, At: *at(4 * time.Second)},
	}, {
		name: "a due step retry is sent again; the step timeout still counts from its first attempt",
		deps: chain,
		in: State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{
			1: {Status: StepWaiting, Attempts: 1, FirstStartedAt: at(-delay), NextAttemptAt: at(0), Error: "HTTP 503"},
			2: {Status: StepPending}, 3: {Status: StepPending}}},
		want: State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{
			1: {Status: StepRunning, Attempts: 2, FirstStartedAt: at(-delay), Error: "HTTP 503"},
			2: {Status: StepPending}, 3: {Status: StepPending}}},
		wantD: Decision{Kind: Launch, Start: []AttemptStart{{Step: 1, Attempt: 2, Deadline: *at(testTimeout*time.Second - delay)}}},
	}, {
		name: "every step succeeded",
		deps: chain,
		in: State{Status: ExecutionStatusInProgress, AttemptNumber: 2, ErrorMessage: ptr("step 2 failed: HTTP 500"), Steps: map[int]*StepState{
			1: {Status: StepSuccess}, 2: {Status: StepSuccess}, 3: {Status: StepSuccess}}},
		want: State{Status: ExecutionStatusSuccess, AttemptNumber: 2, FinishedAt: at(0), Steps: map[int]*StepState{
			1: {Status: StepSuccess}, 2: {Status: StepSuccess}, 3: {Status: StepSuccess}}},
		wantD: Decision{Kind: Succeeded},
	}, {
		name: "a failed step with execution retries left: retry later, re-running only unfinished steps",
		deps: branches,
		in: State{Status: ExecutionStatusInProgress, AttemptNumber: 1, ExecutedAt: at(-time.Minute), Steps: map[int]*StepState{
			1: {Status: StepSuccess, Attempts: 1, Vars: json.RawMessage(`{"id":5}`)},
			2: {Status: StepFailed, Attempts: 3, FirstStartedAt: at(-time.Minute), Error: "HTTP 500", FinishedAt: at(-time.Second)},
			3: {Status: StepSuccess, Attempts: 1},
			4: {Status: StepPending}}},
		want: State{Status: ExecutionStatusScheduled, AttemptNumber: 1, ExecutedAt: at(-time.Minute),
			NextRetryAt: at(delay), ErrorMessage: ptr("step 2 failed: HTTP 500"), Steps: map[int]*StepState{
				1: {Status: StepSuccess, Attempts: 1, Vars: json.RawMessage(`{"id":5}`)},
				2: {Status: StepPending},
				3: {Status: StepSuccess, Attempts: 1},
				4: {Status: StepPending}}},
		wantD: Decision{Kind: RetryExecution, At: *at(delay)},
	}, {
		name: "out of execution retries: failed, the message naming the first failed step",
		deps: []int{0, 0, 0},
		in: State{Status: ExecutionStatusInProgress, AttemptNumber: 2, Steps: map[int]*StepState{
			1: {Status: StepSuccess}, 3: {Status: StepFailed, Error: "HTTP 404"}, 2: {Status: StepFailed, Error: "connection refused"}}},
		want: State{Status: ExecutionStatusFailed, AttemptNumber: 2, FinishedAt: at(0), ErrorMessage: ptr("step 2 failed: connection refused"),
			Steps: map[int]*StepState{
				1: {Status: StepSuccess}, 3: {Status: StepFailed, Error: "HTTP 404"}, 2: {Status: StepFailed, Error: "connection refused"}}},
		wantD: Decision{Kind: Failed},
	}, {
		name: "a permanent failure is not retried, whatever retries are left",
		deps: chain,
		in: State{Status: ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*StepState{
			1: {Status: StepFailed, Permanent: true, Error: `render webhook_url: variable "host" is not set`},
			2: {Status: StepSkipped}, 3: {Status: StepSkipped}}},
		want: State{Status: ExecutionStatusFailed, AttemptNumber: 1, FinishedAt: at(0),
			ErrorMessage: ptr(`step 1 failed: render webhook_url: variable "host" is not set`), Steps: map[int]*StepState{
				1: {Status: StepFailed, Permanent: true, Error: `render webhook_url: variable "host" is not set`},
				2: {Status: StepSkipped}, 3: {Status: StepSkipped}}},
		wantD: Decision{Kind: Failed},
	}, {
		name:     "stopping: nothing new starts while steps are in flight",
		deps:     branches,
		stopping: true,
		in: State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{
			1: {Status: StepSuccess}, 2: running(1, at(0)), 3: {Status: StepPending}, 4: {Status: StepPending}}},
		wantD: Decision{Kind: Await},
	}, {
		name:     "stopping with nothing in flight: hand the execution back",
		deps:     chain,
		stopping: true,
		in: State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{
			1: {Status: StepSuccess}, 2: {Status: StepPending}, 3: {Status: StepPending}}},
		wantD: Decision{Kind: HandBack},
	}, {
		name: "nothing failed, nothing can start, not all succeeded: run again",
		deps: chain,
		in: State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{
			1: {Status: StepSuccess}, 2: {Status: StepSuccess}, 3: {Status: StepCancelled}}},
		wantD: Decision{Kind: Requeue},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := machinePlan(t, tc.deps...)
			before := cloneState(tc.in)
			got, d := Next(p, tc.in, t0, tc.stopping)
			if tc.want.Steps == nil {
				tc.want = before
			}
			if diff := cmp.Diff(tc.wantD, d); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
			checkUnchanged(t, before, tc.in)
		})
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	delay := testRetryDelay
	const stepTimeout = " (no retry: the step timeout of 60s ends before the next attempt)"
	for _, tc := range []struct {
		name string
		in   *StepState // step 1's state
		o    AttemptOutcome
		want *StepState
	}{{
		name: "success keeps the extracted variables",
		in:   &StepState{Status: StepRunning, Attempts: 2, FirstStartedAt: at(-delay), Error: "HTTP 500"},
		o:    AttemptOutcome{Outcome: OutcomeSuccess, Extracted: map[string]any{"token": "t-1", "n": int64(3)}},
		want: &StepState{Status: StepSuccess, Attempts: 2, FirstStartedAt: at(-delay), FinishedAt: at(0),
			Vars: json.RawMessage(`{"n":3,"token":"t-1"}`)},
	}, {
		name: "a failure with attempts left waits the retry delay",
		in:   running(1, at(0)),
		o:    AttemptOutcome{Outcome: OutcomeFailed, Error: "HTTP 500"},
		want: &StepState{Status: StepWaiting, Attempts: 1, FirstStartedAt: at(0), NextAttemptAt: at(delay), Error: "HTTP 500"},
	}, {
		name: "a Retry-After longer than the retry delay is honoured",
		in:   running(1, at(0)),
		o:    AttemptOutcome{Outcome: OutcomeFailed, Error: "HTTP 429", RetryAfter: 30 * time.Second},
		want: &StepState{Status: StepWaiting, Attempts: 1, FirstStartedAt: at(0), NextAttemptAt: at(30 * time.Second), Error: "HTTP 429"},
	}, {
		name: "a Retry-After shorter than the retry delay: the delay",
		in:   running(1, at(0)),
		o:    AttemptOutcome{Outcome: OutcomeFailed, Error: "HTTP 503", RetryAfter: 2 * time.Second},
		want: &StepState{Status: StepWaiting, Attempts: 1, FirstStartedAt: at(0), NextAttemptAt: at(delay), Error: "HTTP 503"},
	}, {
		name: "a Retry-After past the step timeout: failed for good",
		in:   running(1, at(0)),
		o:    AttemptOutcome{Outcome: OutcomeFailed, Error: "HTTP 429", RetryAfter: 2 * time.Minute},
		want: &StepState{Status: StepFailed, Attempts: 1, FirstStartedAt: at(0), FinishedAt: at(0), Permanent: true,
			Error: "HTTP 429" + stepTimeout},
	}, {
		name: "the step timeout ends before the next attempt: failed for good",
		in:   running(2, at(-55*time.Second)),
		o:    AttemptOutcome{Outcome: OutcomeFailed, Error: "HTTP 500"},
		want: &StepState{Status: StepFailed, Attempts: 2, FirstStartedAt: at(-55 * time.Second), FinishedAt: at(0), Permanent: true,
			Error: "HTTP 500" + stepTimeout},
	}, {
		name: "every attempt used (1 + retry_limit): failed, the execution may still retry",
		in:   running(1+testRetryLimit, at(-20*time.Second)),
		o:    AttemptOutcome{Outcome: OutcomeFailed, Error: "HTTP 500"},
		want: &StepState{Status: StepFailed, Attempts: 3, FirstStartedAt: at(-20 * time.Second), FinishedAt: at(0), Error: "HTTP 500"},
	}, {
		name: "a permanent failure is not retried",
		in:   running(1, at(0)),
		o:    AttemptOutcome{Outcome: OutcomeFailed, Permanent: true, Error: "blocked address 10.0.0.1"},
		want: &StepState{Status: StepFailed, Attempts: 1, FirstStartedAt: at(0), FinishedAt: at(0), Permanent: true,
			Error: "blocked address 10.0.0.1"},
	}, {
		name: "an interrupted attempt does not count: pending again",
		in:   running(2, at(-delay)),
		o:    AttemptOutcome{Outcome: OutcomeInterrupted, Error: "aborted: context canceled"},
		want: &StepState{Status: StepPending, Attempts: 1, FirstStartedAt: at(-delay)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := machinePlan(t, chain...)
			in := State{Status: ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*StepState{
				1: tc.in, 2: {Status: StepPending}, 3: {Status: StepPending}}}
			before := cloneState(in)
			tc.o.Step = 1
			got := Apply(p, in, tc.o, t0)
			want := cloneState(in)
			want.Steps[1] = tc.want
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("state (-want +got):\n%s", d)
			}
			checkUnchanged(t, before, in)
		})
	}
}

func TestApplyUnknownStep(t *testing.T) {
	t.Parallel()
	p := machinePlan(t, chain...)
	in := State{Status: ExecutionStatusInProgress, Steps: map[int]*StepState{1: running(1, at(0)), 2: {Status: StepPending}, 3: {Status: StepPending}}}
	got := Apply(p, in, AttemptOutcome{Step: 9, Outcome: OutcomeSuccess}, t0)
	if d := cmp.Diff(cloneState(in), got); d != "" {
		t.Errorf("an outcome of a step the plan lacks changed the state (-want +got):\n%s", d)
	}
}

func TestRecoverOrphans(t *testing.T) {
	t.Parallel()
	p := machinePlan(t, branches...)
	in := State{Status: ExecutionStatusInProgress, AttemptNumber: 2, Steps: map[int]*StepState{
		1: {Status: StepSuccess, Attempts: 1},
		2: running(2, at(-time.Minute)),
		3: running(1, at(-time.Second)),
		4: {Status: StepPending}}}
	for _, tc := range []struct {
		worker, wantErr string
	}{
		{"flowd-a", "worker flowd-a stopped before recording the outcome of this attempt"},
		{"", "the worker running this attempt stopped before recording the outcome of this attempt"},
	} {
		before := cloneState(in)
		got, recs := RecoverOrphans(p, in, tc.worker, t0)
		want := State{Status: ExecutionStatusInProgress, AttemptNumber: 2, Steps: map[int]*StepState{
			1: {Status: StepSuccess, Attempts: 1},
			2: {Status: StepPending, Attempts: 1, FirstStartedAt: at(-time.Minute)},
			3: {Status: StepPending, Attempts: 0, FirstStartedAt: at(-time.Second)},
			4: {Status: StepPending}}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("worker %q: state (-want +got):\n%s", tc.worker, d)
		}
		msg := OrphanedAttemptError(tc.worker)
		if !strings.HasPrefix(msg, tc.wantErr) || !strings.Contains(msg, "does not count against retry_limit") {
			t.Errorf("OrphanedAttemptError(%q) = %q", tc.worker, msg)
		}
		wantRecs := []StepAttempt{
			{StepNumber: 2, Attempt: 2, ExecutionAttempt: 2, Outcome: OutcomeInterrupted, RequestMethod: "POST", Error: msg, WorkerID: tc.worker, StartedAt: t0},
			{StepNumber: 3, Attempt: 1, ExecutionAttempt: 2, Outcome: OutcomeInterrupted, RequestMethod: "POST", Error: msg, WorkerID: tc.worker, StartedAt: t0},
		}
		if d := cmp.Diff(wantRecs, recs); d != "" {
			t.Errorf("worker %q: records (-want +got):\n%s", tc.worker, d)
		}
		checkUnchanged(t, before, in)
	}
	// Nothing running: nothing to recover.
	done := State{Steps: map[int]*StepState{1: {Status: StepSuccess}, 2: {Status: StepPending}, 3: {Status: StepPending}, 4: {Status: StepPending}}}
	if got, recs := RecoverOrphans(p, done, "w", t0); len(recs) != 0 || cmp.Diff(cloneState(done), got) != "" {
		t.Errorf("no orphans: got %d records and state %+v", len(recs), got)
	}
}

// A run that started nothing left nothing to recover from its state: the
// attempts it may have sent are the first launch's, one record each, and
// the state is left for the same attempts to be sent again.
func TestRecoverUnstarted(t *testing.T) {
	t.Parallel()
	p := machinePlan(t, branches...)
	fresh := State{Status: ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*StepState{
		1: {Status: StepPending}, 2: {Status: StepPending}, 3: {Status: StepPending}, 4: {Status: StepPending}}}
	before := cloneState(fresh)
	recs := RecoverUnstarted(p, fresh, "flowd-a", t0, t0.Add(time.Second))
	msg := OrphanedAttemptError("flowd-a")
	want := []StepAttempt{
		{StepNumber: 1, Attempt: 1, ExecutionAttempt: 1, Outcome: OutcomeInterrupted, RequestMethod: "POST", Error: msg, WorkerID: "flowd-a", StartedAt: t0},
		{StepNumber: 2, Attempt: 1, ExecutionAttempt: 1, Outcome: OutcomeInterrupted, RequestMethod: "POST", Error: msg, WorkerID: "flowd-a", StartedAt: t0},
	}
	if d := cmp.Diff(want, recs); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	checkUnchanged(t, before, fresh)
	// The same attempts go out again: the launch after recovery is the one
	// the records name.
	_, d := Next(p, fresh, t0.Add(time.Second), false)
	if d.Kind != Launch || len(d.Start) != 2 || d.Start[0].Step != 1 || d.Start[0].Attempt != 1 || d.Start[1].Step != 2 {
		t.Errorf("launch after recovery: %+v", d)
	}
	// A first decision that sends nothing (every root waits for a retry
	// due later) leaves nothing to recover.
	waiting := State{Status: ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*StepState{
		1: {Status: StepWaiting, NextAttemptAt: at(time.Hour)}, 2: {Status: StepWaiting, NextAttemptAt: at(time.Hour)},
		3: {Status: StepPending}, 4: {Status: StepPending}}}
	if recs := RecoverUnstarted(p, waiting, "flowd-a", t0, t0.Add(time.Second)); len(recs) != 0 {
		t.Errorf("nothing launched, yet records %+v", recs)
	}
}

func TestCancelWins(t *testing.T) {
	t.Parallel()
	in := State{Status: ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*StepState{
		1: {Status: StepSuccess},
		2: {Status: StepFailed, Error: "HTTP 500"},
		3: {Status: StepSkipped},
		4: {Status: StepWaiting, Attempts: 1, NextAttemptAt: at(time.Minute)},
		5: {Status: StepPending, Attempts: 1},
		6: running(1, at(0))}}
	recs := []StepAttempt{{StepNumber: 6, Outcome: OutcomeInterrupted}, {StepNumber: 7, Outcome: OutcomeFailed}, {StepNumber: 8, Outcome: OutcomeSuccess}}
	before, recsBefore := cloneState(in), append([]StepAttempt(nil), recs...)
	got, gotRecs := Cancel(in, recs, t0)
	want := State{Status: ExecutionStatusCancelled, AttemptNumber: 1, Steps: map[int]*StepState{
		1: {Status: StepSuccess},
		2: {Status: StepFailed, Error: "HTTP 500"},
		3: {Status: StepSkipped},
		4: {Status: StepCancelled, Attempts: 1, FinishedAt: at(0)},
		5: {Status: StepCancelled, Attempts: 1, FinishedAt: at(0)},
		6: {Status: StepCancelled, Attempts: 1, FirstStartedAt: at(0), FinishedAt: at(0)}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("state (-want +got):\n%s", d)
	}
	wantRecs := []StepAttempt{{StepNumber: 6, Outcome: OutcomeCancelled}, {StepNumber: 7, Outcome: OutcomeFailed}, {StepNumber: 8, Outcome: OutcomeSuccess}}
	if d := cmp.Diff(wantRecs, gotRecs); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	checkUnchanged(t, before, in)
	if d := cmp.Diff(recsBefore, recs); d != "" {
		t.Errorf("Cancel changed the records it was given (-before +after):\n%s", d)
	}
}

func TestGiveUp(t *testing.T) {
	t.Parallel()
	msg := "execution abandoned after 25 runs that did not finish (worker crashes or database errors); retry it once the cause is fixed"
	for _, tc := range []struct {
		name     string
		in, want State
	}{{
		name: "never started",
		in:   State{Status: ExecutionStatusScheduled, AttemptNumber: 1, Steps: map[int]*StepState{1: {Status: StepPending}}},
		want: State{Status: ExecutionStatusFailed, AttemptNumber: 1, ExecutedAt: at(0), FinishedAt: at(0), ErrorMessage: &msg,
			Steps: map[int]*StepState{1: {Status: StepFailed, Error: msg, FinishedAt: at(0)}}},
	}, {
		name: "mid-run: finished steps keep their state",
		in: State{Status: ExecutionStatusInProgress, AttemptNumber: 2, ExecutedAt: at(-time.Hour), Steps: map[int]*StepState{
			1: {Status: StepSuccess}, 2: running(1, at(-time.Minute)), 3: {Status: StepWaiting, NextAttemptAt: at(time.Second)}}},
		want: State{Status: ExecutionStatusFailed, AttemptNumber: 2, ExecutedAt: at(-time.Hour), FinishedAt: at(0), ErrorMessage: &msg,
			Steps: map[int]*StepState{
				1: {Status: StepSuccess},
				2: {Status: StepFailed, Attempts: 1, FirstStartedAt: at(-time.Minute), Error: msg, FinishedAt: at(0)},
				3: {Status: StepFailed, Error: msg, FinishedAt: at(0)}}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := cloneState(tc.in)
			if d := cmp.Diff(tc.want, GiveUp(tc.in, 25, t0)); d != "" {
				t.Errorf("GiveUp (-want +got):\n%s", d)
			}
			checkUnchanged(t, before, tc.in)
		})
	}
}

// TestMachineRuns drives whole executions through the state machine the
// way the runner does, with scripted attempt outcomes and a clock that
// jumps to each decision's time, and checks the trace of decisions.
func TestMachineRuns(t *testing.T) {
	t.Parallel()
	type outcome struct {
		result     string
		permanent  bool
		retryAfter time.Duration
	}
	ok, fail := outcome{result: OutcomeSuccess}, outcome{result: OutcomeFailed}
	for _, tc := range []struct {
		name string
		deps []int
		// script gives the outcome of "step/execution attempt/step attempt";
		// missing entries succeed.
		script     map[string]outcome
		wantTrace  []string
		wantStatus string
		wantSent   map[int]int // step → requests sent
	}{{
		name:       "a chain succeeds in order",
		deps:       chain,
		wantTrace:  []string{"launch [1]", "launch [2]", "launch [3]", "succeeded"},
		wantStatus: ExecutionStatusSuccess,
		wantSent:   map[int]int{1: 1, 2: 1, 3: 1},
	}, {
		name:       "branches run side by side",
		deps:       branches,
		wantTrace:  []string{"launch [1 2]", "launch [3]", "launch [4]", "succeeded"},
		wantStatus: ExecutionStatusSuccess,
		wantSent:   map[int]int{1: 1, 2: 1, 3: 1, 4: 1},
	}, {
		name:       "a step retry, after the delay, then success",
		deps:       chain,
		script:     map[string]outcome{"2/1/1": fail, "2/1/2": fail},
		wantTrace:  []string{"launch [1]", "launch [2]", "wait until +10s", "launch [2]", "wait until +20s", "launch [2]", "launch [3]", "succeeded"},
		wantStatus: ExecutionStatusSuccess,
		wantSent:   map[int]int{1: 1, 2: 3, 3: 1},
	}, {
		name:   "an execution retry re-runs only the failed step and its dependents",
		deps:   chain,
		script: map[string]outcome{"2/1/1": fail, "2/1/2": fail, "2/1/3": fail},
		wantTrace: []string{"launch [1]", "launch [2]", "wait until +10s", "launch [2]", "wait until +20s", "launch [2]",
			"retry execution +30s", "begin attempt 2", "launch [2]", "launch [3]", "succeeded"},
		wantStatus: ExecutionStatusSuccess,
		wantSent:   map[int]int{1: 1, 2: 4, 3: 1},
	}, {
		name: "out of execution retries: failed",
		deps: chain,
		script: map[string]outcome{"1/1/1": fail, "1/1/2": fail, "1/1/3": fail,
			"1/2/1": fail, "1/2/2": fail, "1/2/3": fail},
		wantTrace: []string{"launch [1]", "wait until +10s", "launch [1]", "wait until +20s", "launch [1]",
			"retry execution +30s", "begin attempt 2", "launch [1]", "wait until +40s", "launch [1]", "wait until +50s", "launch [1]", "failed"},
		wantStatus: ExecutionStatusFailed,
		wantSent:   map[int]int{1: 6},
	}, {
		name:       "a permanent failure ends the execution at once",
		deps:       branches,
		script:     map[string]outcome{"1/1/1": {result: OutcomeFailed, permanent: true}},
		wantTrace:  []string{"launch [1 2]", "launch [4]", "failed"},
		wantStatus: ExecutionStatusFailed,
		wantSent:   map[int]int{1: 1, 2: 1, 4: 1},
	}, {
		name:       "Retry-After past the step timeout: no step retry",
		deps:       chain,
		script:     map[string]outcome{"1/1/1": {result: OutcomeFailed, retryAfter: time.Hour}},
		wantTrace:  []string{"launch [1]", "failed"},
		wantStatus: ExecutionStatusFailed,
		wantSent:   map[int]int{1: 1},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := machinePlan(t, tc.deps...)
			e := &Execution{ExecutionSummary: ExecutionSummary{Status: ExecutionStatusScheduled, AttemptNumber: 1}}
			s := NewState(p, e)
			now := t0
			s = Begin(s, now)
			var trace []string
			sent := map[int]int{}
			var inflight []AttemptStart
			for range 100 {
				var d Decision
				s, d = Next(p, s, now, false)
				switch d.Kind {
				case Launch:
					var steps []string
					for _, a := range d.Start {
						steps = append(steps, strconv.Itoa(a.Step))
						sent[a.Step]++
					}
					trace = append(trace, "launch ["+strings.Join(steps, " ")+"]")
					inflight = append(inflight, d.Start...)
				case Await:
				case WaitUntil:
					trace = append(trace, "wait until +"+d.At.Sub(t0).String())
					now = d.At
					continue
				case RetryExecution:
					trace = append(trace, "retry execution +"+d.At.Sub(t0).String())
					now = d.At
					s = Begin(s, now)
					trace = append(trace, "begin attempt "+strconv.Itoa(s.AttemptNumber))
					continue
				default:
					trace = append(trace, d.Kind.String())
				}
				if d.Kind != Launch && d.Kind != Await {
					break
				}
				// The attempts finish in the order they were sent.
				a := inflight[0]
				inflight = inflight[1:]
				o, found := tc.script[strconv.Itoa(a.Step)+"/"+strconv.Itoa(s.AttemptNumber)+"/"+strconv.Itoa(a.Attempt)]
				if !found {
					o = ok
				}
				s = Apply(p, s, AttemptOutcome{Step: a.Step, Outcome: o.result, Permanent: o.permanent,
					RetryAfter: o.retryAfter, Error: "scripted " + o.result}, now)
			}
			if d := cmp.Diff(tc.wantTrace, trace); d != "" {
				t.Errorf("decisions (-want +got):\n%s", d)
			}
			if s.Status != tc.wantStatus {
				t.Errorf("status %q, want %q", s.Status, tc.wantStatus)
			}
			if d := cmp.Diff(tc.wantSent, sent); d != "" {
				t.Errorf("requests sent per step (-want +got):\n%s", d)
			}
		})
	}
}

func TestNewStateAndUpdate(t *testing.T) {
	t.Parallel()
	p := machinePlan(t, chain...)
	done := &StepState{Status: StepSuccess, Vars: json.RawMessage(`{"a":1}`)}
	e := &Execution{ExecutionSummary: ExecutionSummary{Status: ExecutionStatusInProgress, AttemptNumber: 2, ExecutedAt: at(0)},
		Steps: map[int]*StepState{1: done, 9: {Status: StepFailed}}}
	s := NewState(p, e)
	want := State{Status: ExecutionStatusInProgress, AttemptNumber: 2, ExecutedAt: at(0), Steps: map[int]*StepState{
		1: done, 2: {Status: StepPending}, 3: {Status: StepPending}}}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("NewState (-want +got):\n%s", d)
	}
	u := s.Update(testFlowID)
	wantU := ExecutionUpdate{ID: testFlowID, Status: ExecutionStatusInProgress, AttemptNumber: 2, ExecutedAt: at(0), Steps: want.Steps}
	if d := cmp.Diff(wantU, u); d != "" {
		t.Errorf("Update (-want +got):\n%s", d)
	}
	// The JSON of the steps, as stored and answered, is unchanged.
	b, err := json.Marshal(u.Steps)
	if err != nil {
		t.Fatal(err)
	}
	if got, wantJSON := string(b), `{"1":{"status":"success","attempts":0,"vars":{"a":1}},"2":{"status":"pending","attempts":0},"3":{"status":"pending","attempts":0}}`; got != wantJSON {
		t.Errorf("steps JSON:\n got %s\nwant %s", got, wantJSON)
	}
}

func TestDecisionKindString(t *testing.T) {
	t.Parallel()
	for k := Run; k <= HandBack; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "DecisionKind(") {
			t.Errorf("DecisionKind %d has no name", int(k))
		}
	}
	if s := DecisionKind(0).String(); s != "DecisionKind(0)" {
		t.Errorf("DecisionKind(0).String() = %q", s)
	}
}

// BenchmarkMachineChain runs one execution of a 3-step chain through the
// state machine as the runner does (Begin, Next, Apply, an Update per
// checkpoint): the decisions' own cost per execution.
func BenchmarkMachineChain(b *testing.B) {
	p := machinePlan(&testing.T{}, chain...)
	e := &Execution{ExecutionSummary: ExecutionSummary{Status: ExecutionStatusScheduled, AttemptNumber: 1}}
	extracted := map[string]any{"id": int64(5)}
	b.ReportAllocs()
	for b.Loop() {
		s := Begin(NewState(p, e), t0)
		for {
			var d Decision
			s, d = Next(p, s, t0, false)
			if d.Kind != Launch {
				break
			}
			_ = s.Update(e.ID)
			for _, a := range d.Start {
				s = Apply(p, s, AttemptOutcome{Step: a.Step, Outcome: OutcomeSuccess, Extracted: extracted}, t0)
			}
		}
		_ = s.Update(e.ID)
	}
}
