package store

import (
	"context"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

// ScheduleActive exposes the schedule loop's SQL predicate to the tests.
const ScheduleActive = scheduleActive

// ExecutionHoursQuery is the statement of ExecutionHoursByFlow, for the
// test that reads its plan.
const ExecutionHoursQuery = executionHoursQuery

// EventSubscribersQuery is the statement of EventSubscribers, for the test
// that reads its plan.
const EventSubscribersQuery = eventSubscribersQuery

// SameJSON compares raw JSON values by meaning (cmp.Comparer(SameJSON)).
var SameJSON = sameJSON

// FlowSigningSecrets reads the signing secrets of a flow as the worker's
// ExecutionGetForRun does, for tests of flows that have no execution.
func (s *Store) FlowSigningSecrets(ctx context.Context, flowID uuid.UUID) (flow.SigningSecrets, error) {
	return s.readSigningSecrets(ctx, `SELECT `+signingColumns+` FROM flows WHERE id = $1`, flowID)
}

// Setting reads a run-time parameter of the Store's connection (a
// PruneSession's own), for the test of its VACUUM settings.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	return v, s.db.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v)
}
