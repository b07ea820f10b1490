package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/flowd/flowd/flow"
)

// ExecutionsInsert inserts new executions, whatever their companies (each
// names its own), in one statement: a group commit of triggers, or the
// due slots of the schedule loop, or the executions of published events
// (with their EventID). The caller enqueues their River jobs in
// the same transaction (Store.InTx) and sets each execution's JobID before
// (0 stores none).
//
// An execution is not inserted when its flow already has one with the
// same idempotency key or schedule slot, or, when seen[i] is given, when
// the flow no longer has the status, template flag and version the caller
// read in seen[i] and decided on (a cached FlowRunInfo, checked here so
// that a change made by any process is seen): the caller reads the flow
// again. seen may be nil. The ids of the executions inserted are returned,
// and their CreatedAt and UpdatedAt are set.
func (s *Store) ExecutionsInsert(ctx context.Context, execs []*flow.Execution, seen []*FlowRunInfo) (map[uuid.UUID]bool, error) {
	n := len(execs)
	ids, flows, companies := make([][16]byte, n), make([][16]byte, n), make([][16]byte, n) // binaryUUIDs
	versions, attempts, jobIDs := make([]int32, n), make([]int32, n), make([]int64, n)
	statuses, triggers, variables := make([]string, n), make([]string, n), make([]string, n)
	// Each distinct payload is sent (and parsed to jsonb) once, each row
	// naming its own by position (1-based, as SQL arrays are): the n
	// executions an event starts share its envelope, which would otherwise
	// travel, and sit in flowd's memory, n times.
	var payloads []string
	payloadAt, payloadOf := make([]int32, n), make(map[string]int32, 1)
	slots, keys, flowStatuses := make([]*time.Time, n), make([]*string, n), make([]*string, n)
	events := make([]pgtype.UUID, n)
	templates := make([]bool, n)
	byID := make(map[uuid.UUID]*flow.Execution, n)
	for i, e := range execs {
		if err := requireCompany("insert executions", e.CompanyID); err != nil {
			return nil, err
		}
		ids[i], flows[i], companies[i] = e.ID, e.FlowID, e.CompanyID
		versions[i], attempts[i], jobIDs[i] = int32(e.FlowVersion), int32(e.AttemptNumber), e.JobID
		statuses[i], triggers[i] = e.Status, e.Trigger
		payload := jsonOrNull(e.Payload)
		at, ok := payloadOf[string(payload)]
		if !ok {
			payloads = append(payloads, string(payload))
			at = int32(len(payloads))
			payloadOf[payloads[at-1]] = at
		}
		payloadAt[i], variables[i] = at, string(jsonOrEmptyObject(e.Variables))
		slots[i], keys[i] = e.ScheduledFor, e.IdempotencyKey
		if e.EventID != nil {
			events[i] = pgtype.UUID{Bytes: *e.EventID, Valid: true}
		}
		if seen != nil && seen[i] != nil {
			flowStatuses[i], templates[i] = &seen[i].Status, seen[i].IsTemplate
		}
		byID[e.ID] = e
	}
	rows, err := s.db.Query(ctx, `INSERT INTO executions (id, flow_id, company_id, flow_version, status,
			attempt_number, trigger, scheduled_for, idempotency_key, payload, variables, job_id, event_id)
		SELECT u.id, u.flow_id, u.company_id, u.version, u.status, u.attempt, u.trigger, u.slot, u.key,
			((SELECT array_agg(p.v::jsonb ORDER BY p.n) FROM unnest($16::text[]) WITH ORDINALITY AS p(v, n)))[u.payload],
			u.variables::jsonb, nullif(u.job_id, 0), u.event_id
		FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::int[], $7::text[],
			$8::timestamptz[], $9::text[], $10::int[], $11::text[], $12::bigint[], $13::text[], $14::bool[],
			$15::uuid[])
			AS u(id, flow_id, company_id, version, status, attempt, trigger, slot, key, payload, variables,
				job_id, flow_status, is_template, event_id)
		WHERE u.flow_status IS NULL OR EXISTS (SELECT 1 FROM flows f WHERE f.id = u.flow_id
			AND f.company_id = u.company_id AND f.version = u.version AND f.status = u.flow_status
			AND f.is_template = u.is_template)
		ON CONFLICT DO NOTHING
		RETURNING id, created_at, updated_at`,
		ids, flows, companies, versions, statuses, attempts, triggers, slots, keys, payloadAt, variables,
		jobIDs, flowStatuses, templates, events, payloads)
	if err != nil {
		return nil, fmt.Errorf("insert executions: %w", err)
	}
	defer rows.Close()
	inserted := make(map[uuid.UUID]bool, n)
	for rows.Next() {
		var id uuid.UUID
		var created, updated time.Time
		if err := rows.Scan(&id, &created, &updated); err != nil {
			return nil, fmt.Errorf("insert executions: %w", err)
		}
		if e := byID[id]; e != nil {
			e.CreatedAt, e.UpdatedAt = created, updated
			inserted[id] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert executions: %w", interpretError(err))
	}
	return inserted, nil
}
