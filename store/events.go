package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowd/flowd/flow"
)

// eventRow is a row of events as scanned: scanEvent is the only reader of
// its columns and the only conversion to a flow.Event.
type eventRow struct {
	ID             uuid.UUID
	CompanyID      uuid.UUID
	WorkspaceID    string
	Type           string
	Data           json.RawMessage
	IdempotencyKey *string
	FilterErrors   json.RawMessage // a document of []flow.EventFilterError
	CreatedAt      time.Time
}

const eventColumns = `ev.id, ev.company_id, ev.workspace_id, ev.type, ev.data, ev.idempotency_key,
	ev.filter_errors, ev.created_at`

// scanEvent scans eventColumns into an event without its executions.
func scanEvent(row pgx.Row) (*flow.Event, error) {
	var r eventRow
	err := row.Scan(&r.ID, &r.CompanyID, &r.WorkspaceID, &r.Type, &r.Data, &r.IdempotencyKey,
		&r.FilterErrors, &r.CreatedAt)
	if err != nil {
		return nil, err
	}
	var fe []flow.EventFilterError
	if err := unmarshalDoc(r.FilterErrors, &fe); err != nil {
		return nil, fmt.Errorf("event %s: filter_errors: %w", r.ID, err)
	}
	return &flow.Event{
		ID:             r.ID,
		CompanyID:      r.CompanyID,
		Type:           r.Type,
		WorkspaceID:    r.WorkspaceID,
		CreatedAt:      r.CreatedAt,
		Data:           r.Data,
		IdempotencyKey: r.IdempotencyKey,
		Executions:     []flow.EventExecution{},
		FilterErrors:   nonNil(fe),
	}, nil
}

// eventSubscribersQuery finds the flows subscribed to any of the patterns
// $3 in a company ($1) and workspace ($2) that may start.
const eventSubscribersQuery = `SELECT f.id, f.version, f.event_filter FROM flows f
	WHERE f.id IN (SELECT sub.flow_id FROM flow_event_subscriptions sub
		WHERE sub.company_id = $1 AND sub.workspace_id = $2 AND sub.pattern = ANY($3))
	  AND f.company_id = $1 AND f.status NOT IN ('stopped', 'deleted')
	  AND f.deleted_at IS NULL AND NOT f.is_template
	ORDER BY f.created_at, f.id`

// EventSubscribers returns the flows of the company in a workspace that
// subscribe to the event type typ and may start: not templates, not
// stopped, not deleted. One statement, an index lookup by equality on the
// patterns that match typ (flow.EventPatternsFor) whatever the number of
// the company's flows.
func (s *Store) EventSubscribers(ctx context.Context, companyID uuid.UUID, workspaceID, typ string) ([]flow.Subscriber, error) {
	if err := requireCompany("find event subscribers", companyID); err != nil {
		return nil, err
	}
	return queryAll(ctx, s.db, "find event subscribers", scanSubscriber,
		eventSubscribersQuery, companyID, workspaceID, flow.EventPatternsFor(typ))
}

// scanSubscriber scans a row of eventSubscribersQuery.
func scanSubscriber(row pgx.Row) (sub flow.Subscriber, err error) {
	return sub, row.Scan(&sub.FlowID, &sub.Version, &sub.EventFilter)
}

// EventInsert stores a published event with its filter errors. When the
// company already has an event with the same idempotency key it stores
// nothing and reports created false. Its executions are inserted next by
// EventExecutionsInsert, in the same transaction.
func (s *Store) EventInsert(ctx context.Context, ev *flow.Event) (created bool, err error) {
	if err := requireCompany("insert event", ev.CompanyID); err != nil {
		return false, err
	}
	var id uuid.UUID
	err = s.db.QueryRow(ctx, `INSERT INTO events (id, company_id, workspace_id, type, data, idempotency_key,
			filter_errors, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (company_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
		RETURNING id`,
		ev.ID, ev.CompanyID, ev.WorkspaceID, ev.Type, jsonOrNull(ev.Data), ev.IdempotencyKey,
		mustJSON(nonNil(ev.FilterErrors)), ev.CreatedAt).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("insert event: %w", interpretError(err))
	}
	return true, nil
}

// EventStart is one execution a published event starts: its id, its flow
// and the flow's version, and its River job.
type EventStart struct {
	ExecutionID uuid.UUID
	FlowID      uuid.UUID
	FlowVersion int
	JobID       int64
}

// EventExecutionsInsert inserts the executions an event starts, in one
// statement whatever their number: trigger "event", the event's id, and the
// event's envelope as their payload. The caller inserted their River jobs
// in the same transaction (Store.Tx).
func (s *Store) EventExecutionsInsert(ctx context.Context, ev *flow.Event, starts []EventStart) error {
	if err := requireCompany("insert event executions", ev.CompanyID); err != nil {
		return err
	}
	ids := make([]uuid.UUID, len(starts))
	flows := make([]uuid.UUID, len(starts))
	versions := make([]int32, len(starts))
	jobs := make([]int64, len(starts))
	for i, st := range starts {
		ids[i], flows[i], versions[i], jobs[i] = st.ExecutionID, st.FlowID, int32(st.FlowVersion), st.JobID
	}
	_, err := s.db.Exec(ctx, `INSERT INTO executions (id, flow_id, company_id, flow_version, status,
			attempt_number, trigger, payload, variables, job_id, event_id)
		SELECT u.id, u.flow_id, $1, u.version, $2, 1, $3, $4, '{}', u.job_id, $5
		FROM unnest($6::uuid[], $7::uuid[], $8::int[], $9::bigint[]) AS u(id, flow_id, version, job_id)`,
		ev.CompanyID, flow.ExecutionStatusScheduled, flow.TriggerEvent, ev.Envelope(), ev.ID,
		ids, flows, versions, jobs)
	if err != nil {
		return fmt.Errorf("insert %d event executions: %w", len(starts), interpretError(err))
	}
	return nil
}

// EventGet returns an event of the company with the executions it started
// and their current status.
func (s *Store) EventGet(ctx context.Context, companyID, id uuid.UUID) (*flow.Event, error) {
	if err := requireCompany("get event", companyID); err != nil {
		return nil, err
	}
	return s.getEvent(ctx, "get event", `ev.id = $1 AND ev.company_id = $2`, id, companyID)
}

// EventGetByIdempotencyKey returns the company's event published with key.
func (s *Store) EventGetByIdempotencyKey(ctx context.Context, companyID uuid.UUID, key string) (*flow.Event, error) {
	if err := requireCompany("get event by idempotency key", companyID); err != nil {
		return nil, err
	}
	return s.getEvent(ctx, "get event by idempotency key", `ev.idempotency_key = $1 AND ev.company_id = $2`, key, companyID)
}

// getEvent runs a query of one event and fills its executions.
func (s *Store) getEvent(ctx context.Context, doing, where string, args ...any) (*flow.Event, error) {
	ev, err := scanEvent(s.db.QueryRow(ctx, `SELECT `+eventColumns+` FROM events ev WHERE `+where, args...))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, interpretError(err))
	}
	if err := s.fillEvents(ctx, ev.CompanyID, []*flow.Event{ev}); err != nil {
		return nil, err
	}
	return ev, nil
}

// EventList lists the company's events newest first, only those of type
// typ when it is not empty, after cursor when given. It returns the cursor
// of the next page, or nil at the end. Two statements whatever the page.
func (s *Store) EventList(ctx context.Context, companyID uuid.UUID, typ string, limit int, after *ExecutionCursor) ([]*flow.Event, *ExecutionCursor, error) {
	if err := requireCompany("list events", companyID); err != nil {
		return nil, nil, err
	}
	afterTime, afterID := after.args()
	list, err := queryAll(ctx, s.db, "list events", scanEvent, `SELECT `+eventColumns+` FROM events ev
		WHERE ev.company_id = $1 AND ($2 = '' OR ev.type = $2)
		  AND ($3::timestamptz IS NULL OR (ev.created_at, ev.id) < ($3, $4))
		ORDER BY ev.created_at DESC, ev.id DESC LIMIT $5`, companyID, typ, afterTime, afterID, limit+1)
	if err != nil {
		return nil, nil, err
	}
	list, next := nextPage(list, limit, func(ev *flow.Event) ExecutionCursor {
		return ExecutionCursor{CreatedAt: ev.CreatedAt, ID: ev.ID}
	})
	if err := s.fillEvents(ctx, companyID, list); err != nil {
		return nil, nil, err
	}
	return nonNil(list), next, nil
}

// fillEvents loads the executions of events, with their current status,
// in one statement.
func (s *Store) fillEvents(ctx context.Context, companyID uuid.UUID, events []*flow.Event) error {
	if len(events) == 0 {
		return nil
	}
	ids, byID := indexByID(events, func(ev *flow.Event) uuid.UUID { return ev.ID })
	type started struct {
		eventID uuid.UUID
		exec    flow.EventExecution
	}
	scan := func(row pgx.Row) (st started, err error) {
		return st, row.Scan(&st.eventID, &st.exec.ID, &st.exec.FlowID, &st.exec.Status)
	}
	list, err := queryAll(ctx, s.db, "list event executions", scan, `SELECT e.event_id, e.id, e.flow_id, e.status FROM executions e
		WHERE e.event_id = ANY($1) AND e.company_id = $2 ORDER BY e.event_id, e.created_at, e.id`, ids, companyID)
	if err != nil {
		return err
	}
	for _, st := range list {
		byID[st.eventID].Executions = append(byID[st.eventID].Executions, st.exec)
	}
	return nil
}
