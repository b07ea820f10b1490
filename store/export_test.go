package store

import (
	"context"
	"fmt"

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

// InFlightFlowsQuery is the flows list's in-flight statement, for the test
// that reads its plan.
const InFlightFlowsQuery = inFlightFlowsQuery

// SameJSON compares raw JSON values by meaning (cmp.Comparer(SameJSON)).
var SameJSON = sameJSON

// FlowSigningSecrets reads the signing secrets of a flow as the worker's
// ExecutionsGetForRun does, for tests of flows that have no execution.
func (s *Store) FlowSigningSecrets(ctx context.Context, flowID uuid.UUID) (flow.SigningSecrets, error) {
	return s.readSigningSecrets(ctx, `SELECT `+signingColumns+` FROM flows WHERE id = $1`, flowID)
}

// Setting reads a run-time parameter of the Store's connection (a
// PruneSession's own), for the test of its VACUUM settings.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	return v, s.db.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v)
}

// ExecutionGetForRun reads one execution as the worker does
// (ExecutionsGetForRun of one id; ErrNotFound when there is none), for
// tests.
func (s *Store) ExecutionGetForRun(ctx context.Context, id uuid.UUID) (*flow.Execution, flow.SigningSecrets, error) {
	var (
		e       *flow.Execution
		signing flow.SigningSecrets
	)
	err := fmt.Errorf("get execution to run: %w", ErrNotFound)
	if qerr := s.ExecutionsGetForRun(ctx, []uuid.UUID{id}, func(_ uuid.UUID, fe *flow.Execution, fs flow.SigningSecrets, ferr error) {
		e, signing, err = fe, fs, ferr
	}); qerr != nil {
		return nil, flow.SigningSecrets{}, qerr
	}
	return e, signing, err
}
