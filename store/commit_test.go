package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// TestExecutionCommit writes a group of attempts and states and reads them
// back through the API's reads; an execution cancelled meanwhile keeps its
// cancelled status.
func TestExecutionCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f := b.createFlow(t, 2)
	run, cancelled := b.createExecution(t, f), b.createExecution(t, f)
	if _, err := b.pool.Exec(ctx, `UPDATE executions SET status = 'cancelled', error_message = 'by hand' WHERE id = $1`, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	status := 201
	attempt := flow.StepAttempt{
		ID: uuid.New(), ExecutionID: run.ID, StepNumber: 1, Attempt: 1, ExecutionAttempt: 1, Outcome: "success",
		RequestMethod: "POST", RequestURL: "https://example.com/1", RequestHeaders: map[string]string{"x-a": "b"},
		RequestBody: `{"n": 1}`, ResponseStatus: &status, ResponseHeaders: map[string]string{"content-type": "application/json"},
		ResponseBody: `{"tok": "abc"}`, DurationMS: 7, Extracted: json.RawMessage(`{"tok": "abc"}`), WorkerID: "w1", StartedAt: now,
	}
	msg := "step 2 failed"
	steps := map[int]*flow.StepState{
		1: {Status: flow.StepSuccess, Attempts: 1, FirstStartedAt: &now, FinishedAt: &now, Vars: json.RawMessage(`{"tok": "abc"}`)},
		2: {Status: flow.StepFailed, Attempts: 1, Error: "boom", Permanent: true},
	}
	updates := []flow.ExecutionUpdate{
		{ID: run.ID, Status: flow.ExecutionStatusFailed, AttemptNumber: 1, Steps: steps, ErrorMessage: &msg,
			ExecutedAt: &now, FinishedAt: &now, Records: json.RawMessage(`[{"id": 1}]`)},
		{ID: cancelled.ID, Status: flow.ExecutionStatusSuccess, AttemptNumber: 1, Steps: steps, FinishedAt: &now},
	}
	if err := b.store.ExecutionCommit(ctx, []flow.StepAttempt{attempt}, updates); err != nil {
		t.Fatal(err)
	}
	// A repeated commit (a retried group) keeps the first attempt.
	again := attempt
	again.ResponseBody = "changed"
	if err := b.store.ExecutionCommit(ctx, []flow.StepAttempt{again}, nil); err != nil {
		t.Fatal(err)
	}

	got, err := b.store.StepAttemptListByExecution(ctx, b.company, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].CreatedAt.IsZero() {
		t.Fatalf("attempts: %+v", got)
	}
	want := attempt
	want.CreatedAt = got[0].CreatedAt
	if diff := cmp.Diff(want, got[0], cmp.Comparer(store.SameJSON), cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("stored attempt (-want +got):\n%s", diff)
	}

	e, err := b.store.ExecutionGet(ctx, b.company, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != flow.ExecutionStatusFailed || e.ErrorMessage == nil || *e.ErrorMessage != msg || !store.SameJSON(e.Records, json.RawMessage(`[{"id": 1}]`)) {
		t.Errorf("execution: status %s error %v records %s", e.Status, e.ErrorMessage, e.Records)
	}
	if diff := cmp.Diff(steps, e.Steps, cmp.Comparer(store.SameJSON), cmp.Comparer(time.Time.Equal)); diff != "" {
		t.Errorf("stored steps (-want +got):\n%s", diff)
	}
	c, err := b.store.ExecutionGet(ctx, b.company, cancelled.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != flow.ExecutionStatusCancelled || c.ErrorMessage == nil || *c.ErrorMessage != "by hand" || len(c.Steps) != 2 {
		t.Errorf("cancelled execution after a commit: status %s error %v steps %d", c.Status, c.ErrorMessage, len(c.Steps))
	}
}

// TestExecutionCommitStoresAnyBytes: what a target answers may hold NUL
// bytes, invalid UTF-8 and escaped NULs or lone surrogates in its JSON,
// which PostgreSQL's text and jsonb refuse. The group still commits (the
// other execution in it too), with U+FFFD in their place.
func TestExecutionCommitStoresAnyBytes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f := b.createFlow(t, 1)
	dirty, clean := b.createExecution(t, f), b.createExecution(t, f)
	now := time.Now()
	status := 200
	attempts := []flow.StepAttempt{{
		ID: uuid.New(), ExecutionID: dirty.ID, StepNumber: 1, Attempt: 1, ExecutionAttempt: 1, Outcome: "success",
		RequestMethod: "GET", RequestURL: "https://example.com", ResponseStatus: &status,
		ResponseHeaders: map[string]string{"x-odd": "a\x00b"},
		ResponseBody:    "a\x00b\xff\xfec", Error: "e\x00",
		Extracted: json.RawMessage(`{"v": "x\u0000y", "w": "\ud800"}`), StartedAt: now,
	}, {
		ID: uuid.New(), ExecutionID: clean.ID, StepNumber: 1, Attempt: 1, ExecutionAttempt: 1, Outcome: "success",
		RequestMethod: "GET", RequestURL: "https://example.com", ResponseStatus: &status, ResponseBody: "ok", StartedAt: now,
	}}
	updates := []flow.ExecutionUpdate{{
		ID: dirty.ID, Status: flow.ExecutionStatusSuccess, AttemptNumber: 1, FinishedAt: &now,
		Steps:   map[int]*flow.StepState{1: {Status: flow.StepSuccess, Attempts: 1, Error: "\x00", Vars: json.RawMessage(`{"v": "x\u0000y"}`)}},
		Records: json.RawMessage(`[{"r": "\u0000"}]`),
	}, {
		ID: clean.ID, Status: flow.ExecutionStatusSuccess, AttemptNumber: 1, FinishedAt: &now,
		Steps: map[int]*flow.StepState{1: {Status: flow.StepSuccess, Attempts: 1}},
	}}
	if err := b.store.ExecutionCommit(ctx, attempts, updates); err != nil {
		t.Fatalf("commit: %v", err)
	}
	got, err := b.store.StepAttemptListByExecution(ctx, b.company, dirty.ID)
	if err != nil || len(got) != 1 {
		t.Fatalf("attempts: %v, %v", got, err)
	}
	a := got[0]
	if a.ResponseBody != "a\uFFFDb\uFFFD\uFFFDc" || a.Error != "e\uFFFD" || a.ResponseHeaders["x-odd"] != "a\uFFFDb" ||
		!store.SameJSON(a.Extracted, json.RawMessage(`{"v": "x\ufffdy", "w": "\ufffd"}`)) {
		t.Errorf("stored attempt: body %q error %q header %q extracted %s", a.ResponseBody, a.Error, a.ResponseHeaders["x-odd"], a.Extracted)
	}
	e, err := b.store.ExecutionGet(ctx, b.company, dirty.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != flow.ExecutionStatusSuccess || e.Steps[1].Error != "\uFFFD" || !store.SameJSON(e.Steps[1].Vars, json.RawMessage(`{"v": "x\ufffdy"}`)) ||
		!store.SameJSON(e.Records, json.RawMessage(`[{"r": "\ufffd"}]`)) {
		t.Errorf("stored execution: %s steps %+v records %s", e.Status, e.Steps[1], e.Records)
	}
	if c, err := b.store.ExecutionGet(ctx, b.company, clean.ID); err != nil || c.Status != flow.ExecutionStatusSuccess {
		t.Errorf("the other execution of the group: %v, %v", c, err)
	}
}

// TestExecutionCommitIsAtomic: the group commit is one transaction though
// it sends no BEGIN, and a group refused before it is sent writes nothing
// either: when its update fails in the database (an attempt number out of
// the column's range), the attempts the same group inserted are gone too;
// when a raw JSON field is not JSON (which flowd never makes) the error
// names the field, and not even the valid attempt is written.
func TestExecutionCommitIsAtomic(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		bad     func(id uuid.UUID) flow.ExecutionUpdate
		wantErr func(id uuid.UUID) string // a part of the error; "" for any
	}{
		"update out of range": {
			bad: func(id uuid.UUID) flow.ExecutionUpdate {
				return flow.ExecutionUpdate{ID: id, Status: flow.ExecutionStatusInProgress, AttemptNumber: 1 << 40}
			},
			wantErr: func(uuid.UUID) string { return "" },
		},
		"records not JSON": {
			bad: func(id uuid.UUID) flow.ExecutionUpdate {
				return flow.ExecutionUpdate{ID: id, Status: flow.ExecutionStatusInProgress, AttemptNumber: 1, Records: json.RawMessage(`[{"r": 1}`)}
			},
			wantErr: func(id uuid.UUID) string { return "execution " + id.String() + ": records is not JSON" },
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, _, e := setupExecution(t, 1)
			ctx := context.Background()
			attempt := flow.StepAttempt{
				ID: uuid.New(), ExecutionID: e.ID, StepNumber: 1, Attempt: 1, ExecutionAttempt: 1, Outcome: "success",
				RequestMethod: "POST", RequestURL: "https://example.com/1", DurationMS: 1, StartedAt: time.Now(),
			}
			err := b.store.ExecutionCommit(ctx, []flow.StepAttempt{attempt}, []flow.ExecutionUpdate{tc.bad(e.ID)})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr(e.ID)) {
				t.Fatalf("commit: %v; want an error containing %q", err, tc.wantErr(e.ID))
			}
			got, err := b.store.StepAttemptListByExecution(ctx, b.company, e.ID)
			if err != nil || len(got) != 0 {
				t.Errorf("the failed group left %d attempts (%v), want none", len(got), err)
			}
			after, err := b.store.ExecutionGet(ctx, b.company, e.ID)
			if err != nil || after.Status != flow.ExecutionStatusScheduled {
				t.Errorf("the failed group changed the execution: %+v %v", after, err)
			}
		})
	}
}

// TestExecutionCommitWithoutSteps: a state without a steps map is stored
// as {} (the column is NOT NULL), as the reflection encoding stored it.
func TestExecutionCommitWithoutSteps(t *testing.T) {
	t.Parallel()
	b, _, e := setupExecution(t, 1)
	ctx := context.Background()
	u := flow.ExecutionUpdate{ID: e.ID, Status: flow.ExecutionStatusInProgress, AttemptNumber: 1}
	if err := b.store.ExecutionCommit(ctx, nil, []flow.ExecutionUpdate{u}); err != nil {
		t.Fatalf("commit: %v", err)
	}
	var steps string
	if err := b.pool.QueryRow(ctx, `SELECT steps::text FROM executions WHERE id = $1`, e.ID).Scan(&steps); err != nil {
		t.Fatal(err)
	}
	if steps != "{}" {
		t.Errorf("steps stored as %s, want {}", steps)
	}
}

// TestExecutionCheckpointsAreHOT: the checkpoints of a running execution
// that keep its status (every step's but the first and the last) change
// no indexed column, and executions' fillfactor leaves room on the page:
// they are HOT updates, which write no index entry. Counted by
// pg_stat_xact_user_tables, which shows this backend's counts not yet
// flushed to the shared statistics.
func TestExecutionCheckpointsAreHOT(t *testing.T) {
	t.Parallel()
	b, _, e := setupExecution(t, 3)
	ctx := context.Background()
	now := time.Now().UTC()
	state := func(status string, done int) flow.ExecutionUpdate {
		steps := map[int]*flow.StepState{}
		for n := 1; n <= done; n++ {
			steps[n] = &flow.StepState{Status: flow.StepSuccess, Attempts: 1, FirstStartedAt: &now, FinishedAt: &now}
		}
		return flow.ExecutionUpdate{ID: e.ID, Status: status, AttemptNumber: 1, Steps: steps, ExecutedAt: &now}
	}
	err := b.store.InTx(ctx, func(tx *store.Store) error {
		// This backend's counts not yet flushed, which include earlier
		// transactions': the test takes the difference.
		counts := func() (upd, hot int, err error) {
			err = tx.Tx().QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables
				WHERE relid = 'executions'::regclass`).Scan(&upd, &hot)
			return upd, hot, err
		}
		upd0, hot0, err := counts()
		if err != nil {
			return err
		}
		// The first checkpoint changes the status (an indexed column).
		if err := tx.ExecutionCommit(ctx, nil, []flow.ExecutionUpdate{state(flow.ExecutionStatusInProgress, 0)}); err != nil {
			return err
		}
		for done := 1; done <= 3; done++ {
			if err := tx.ExecutionCommit(ctx, nil, []flow.ExecutionUpdate{state(flow.ExecutionStatusInProgress, done)}); err != nil {
				return err
			}
		}
		upd, hot, err := counts()
		if err != nil {
			return err
		}
		if upd, hot = upd-upd0, hot-hot0; upd != 4 || hot != 3 {
			t.Errorf("want 4 updates of which the 3 that kept the status HOT, got %d updates, %d HOT", upd, hot)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
