package store

import (
	"context"
	"encoding/json"
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

// EventsInsert stores published events with their filter errors,
// whatever their companies (each names its own), in one statement: the
// group commit of Publish. An event whose company already has an event
// with the same idempotency key (stored before, or earlier in events) is
// not stored. The ids of the events stored are returned; their executions
// are inserted next by ExecutionsInsert, in the same transaction.
func (s *Store) EventsInsert(ctx context.Context, events []*flow.Event) (map[uuid.UUID]bool, error) {
	n := len(events)
	ids, companies := make([][16]byte, n), make([][16]byte, n) // binaryUUIDs
	workspaces, types, data, filterErrors := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	keys, created := make([]*string, n), make([]time.Time, n)
	for i, ev := range events {
		if err := requireCompany("insert events", ev.CompanyID); err != nil {
			return nil, err
		}
		ids[i], companies[i], workspaces[i], types[i] = ev.ID, ev.CompanyID, ev.WorkspaceID, ev.Type
		data[i], filterErrors[i] = string(jsonOrNull(ev.Data)), string(mustJSON(nonNil(ev.FilterErrors)))
		keys[i], created[i] = ev.IdempotencyKey, ev.CreatedAt
	}
	rows, err := s.db.Query(ctx, `INSERT INTO events (id, company_id, workspace_id, type, data, idempotency_key,
			filter_errors, created_at)
		SELECT u.id, u.company_id, u.workspace_id, u.type, u.data::jsonb, u.key, u.filter_errors::jsonb, u.created_at
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::timestamptz[]) AS u(id, company_id, workspace_id, type, data, key, filter_errors, created_at)
		ON CONFLICT (company_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
		RETURNING id`,
		ids, companies, workspaces, types, data, keys, filterErrors, created)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	stored, err := collect(rows, func(row pgx.Row) (id uuid.UUID, err error) { return id, row.Scan(&id) })
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", interpretError(err))
	}
	inserted := make(map[uuid.UUID]bool, len(stored))
	for _, id := range stored {
		inserted[id] = true
	}
	return inserted, nil
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
