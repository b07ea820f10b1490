package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// PublishRequest is an event to publish.
type PublishRequest struct {
	// CompanyID is the publishing token's company; only its flows start.
	CompanyID   uuid.UUID
	WorkspaceID string
	Type        string
	Data        json.RawMessage
	// IdempotencyKey, when not empty, makes a repeated publish return the
	// first event and start nothing.
	IdempotencyKey string
}

// Publish publishes an event: every flow of the company in the event's
// workspace that subscribes to its type, may start (not a template, not
// stopped, not deleted) and whose event_filter (if any) is true gets an
// execution with trigger "event" and the event's envelope as payload.
//
// The subscribers are found and their filters run first; then the event
// row, every execution and every River job are written in one transaction
// of a fixed number of statements (one multi-row insert of executions, one
// InsertManyTx), so that a failure starts nothing and a returned event
// started every execution it lists. With an idempotency key used before it
// returns the first event and created false.

// errDuplicateEvent ends Publish's transaction when the event's
// Idempotency-Key is taken: the first event is answered instead.
var errDuplicateEvent = errors.New("duplicate event")

func (s *Scheduler) Publish(ctx context.Context, req PublishRequest) (ev *flow.Event, created bool, err error) {
	var key *string
	if req.IdempotencyKey != "" {
		key = &req.IdempotencyKey
		if ev, err := s.store.EventGetByIdempotencyKey(ctx, req.CompanyID, *key); err == nil {
			return ev, false, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, false, err
		}
	}
	ev = &flow.Event{
		ID:             uuid.New(),
		CompanyID:      req.CompanyID,
		Type:           req.Type,
		WorkspaceID:    req.WorkspaceID,
		CreatedAt:      time.Now().UTC().Truncate(time.Microsecond), // as PostgreSQL keeps it
		Data:           req.Data,
		IdempotencyKey: key,
	}
	subs, err := s.store.EventSubscribers(ctx, req.CompanyID, req.WorkspaceID, req.Type)
	if err != nil {
		return nil, false, err
	}
	match := flow.MatchSubscribers(ev, subs, s.filters)
	ev.FilterErrors = match.FilterErrors
	starts := make([]store.EventStart, len(match.Start))
	for i, sub := range match.Start {
		starts[i] = store.EventStart{ExecutionID: uuid.New(), FlowID: sub.FlowID, FlowVersion: sub.Version}
	}
	err = s.store.InTx(ctx, func(tx *store.Store) error {
		created, err := tx.EventInsert(ctx, ev)
		if err != nil {
			return err
		}
		if !created {
			return errDuplicateEvent
		}
		if len(starts) == 0 {
			return nil
		}
		params := make([]river.InsertManyParams, len(starts))
		for i := range starts {
			params[i] = river.InsertManyParams{Args: engine.ExecutionArgs{ExecutionID: starts[i].ExecutionID},
				InsertOpts: &river.InsertOpts{Queue: QueueExecutions}}
		}
		res, err := s.client.InsertManyTx(ctx, tx.Tx(), params)
		if err != nil {
			return fmt.Errorf("enqueue %d executions: %w", len(params), err)
		}
		for i := range starts {
			starts[i].JobID = res[i].Job.ID
		}
		return tx.EventExecutionsInsert(ctx, ev, starts)
	})
	if errors.Is(err, errDuplicateEvent) {
		// Published at the same time under the same key: the first wins.
		ev, err := s.store.EventGetByIdempotencyKey(ctx, req.CompanyID, *key)
		return ev, false, err
	}
	if err != nil {
		return nil, false, err
	}
	if s.cfg.Events != nil {
		s.cfg.Events.EventPublished(len(starts))
	}
	ev.Executions = make([]flow.EventExecution, len(starts))
	for i, st := range starts {
		ev.Executions[i] = flow.EventExecution{ID: st.ExecutionID, FlowID: st.FlowID, Status: flow.ExecutionStatusScheduled}
	}
	return ev, true, nil
}
