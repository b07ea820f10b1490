package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// TestExecutionCheckpointsAreHOT: the checkpoints of a running execution
// that keep its status (every step's but the first and the last) change
// no indexed column, and executions' fillfactor leaves room on the page:
// they are HOT updates, which write no index entry. Counted by
// pg_stat_xact_user_tables, which shows this backend's counts not yet
// flushed to the shared statistics.
func TestExecutionCheckpointsAreHOT(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f := b.createFlow(t, 3)
	e := b.createExecution(t, f)
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
