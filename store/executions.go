package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowd/flowd/flow"
)

const executionColumns = executionSummaryColumns + `, e.flow_id, e.company_id, e.flow_version,
	e.trigger, e.scheduled_for, e.idempotency_key, e.payload, e.variables, e.steps, e.records, e.job_id`

func scanExecution(row pgx.Row) (*flow.Execution, error) {
	var e flow.Execution
	var jobID *int64
	err := scanExecutionSummary(row, &e.ExecutionSummary, &e.FlowID, &e.CompanyID, &e.FlowVersion,
		&e.Trigger, &e.ScheduledFor, &e.IdempotencyKey, &e.Payload, &e.Variables, &e.Steps, &e.Records, &jobID)
	if err != nil {
		return nil, err
	}
	if jobID != nil {
		e.JobID = *jobID
	}
	if e.Steps == nil {
		e.Steps = map[int]*flow.StepState{}
	}
	return &e, nil
}

// ExecutionInsertTx inserts a new execution in tx, setting its created_at
// and updated_at. When the flow already has
// an execution with the same idempotency key, or the same schedule slot, it
// inserts nothing and reports created false.
func ExecutionInsertTx(ctx context.Context, tx pgx.Tx, e *flow.Execution) (created bool, err error) {
	err = tx.QueryRow(ctx, `INSERT INTO executions (id, flow_id, company_id, flow_version, status,
		attempt_number, trigger, scheduled_for, idempotency_key, payload, variables, job_id)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
		ON CONFLICT DO NOTHING
		RETURNING created_at, updated_at`,
		e.ID, e.FlowID, e.CompanyID, e.FlowVersion, e.Status, e.AttemptNumber, e.Trigger,
		e.ScheduledFor, e.IdempotencyKey, jsonOrNull(e.Payload), jsonOrEmptyObject(e.Variables), e.JobID,
	).Scan(&e.CreatedAt, &e.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("insert execution: %w", interpretError(err))
	}
	return true, nil
}

// ExecutionGetByIdempotencyKey returns the flow's execution that was
// created with key.
func (s *Store) ExecutionGetByIdempotencyKey(ctx context.Context, flowID uuid.UUID, key string) (*flow.Execution, error) {
	e, err := scanExecution(s.pool.QueryRow(ctx, `SELECT `+executionColumns+` FROM executions e
		WHERE e.flow_id = $1 AND e.idempotency_key = $2`, flowID, key))
	if err != nil {
		return nil, interpretError(err)
	}
	return e, nil
}

// ExecutionGet returns an execution of the company. A zero companyID
// (workers, operators' tools) matches any company.
func (s *Store) ExecutionGet(ctx context.Context, companyID, id uuid.UUID) (*flow.Execution, error) {
	e, err := scanExecution(s.pool.QueryRow(ctx, `SELECT `+executionColumns+` FROM executions e
		WHERE e.id = $1 AND ($2::uuid = '00000000-0000-0000-0000-000000000000' OR e.company_id = $2)`, id, companyID))
	if err != nil {
		return nil, interpretError(err)
	}
	return e, nil
}

// ExecutionCursor marks a position in a newest-first list of executions.
type ExecutionCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Encode returns the cursor as an opaque string.
func (c ExecutionCursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()))
}

// ErrBadCursor is returned for a cursor this package did not produce.
var ErrBadCursor = errors.New("invalid cursor")

// DecodeExecutionCursor parses a cursor made by Encode.
func DecodeExecutionCursor(s string) (*ExecutionCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return nil, ErrBadCursor
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, ErrBadCursor
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, ErrBadCursor
	}
	return &ExecutionCursor{CreatedAt: t, ID: u}, nil
}

// ExecutionListByFlow lists a flow's executions newest first, after cursor
// when given, optionally only those with status. It returns the cursor of
// the next page, or nil at the end.
func (s *Store) ExecutionListByFlow(ctx context.Context, flowID uuid.UUID, status string, limit int, after *ExecutionCursor) ([]*flow.Execution, *ExecutionCursor, error) {
	var afterTime *time.Time
	var afterID *uuid.UUID
	if after != nil {
		afterTime, afterID = &after.CreatedAt, &after.ID
	}
	rows, err := s.pool.Query(ctx, `SELECT `+executionColumns+` FROM executions e
		WHERE e.flow_id = $1 AND ($2 = '' OR e.status = $2)
		  AND ($3::timestamptz IS NULL OR (e.created_at, e.id) < ($3, $4))
		ORDER BY e.created_at DESC, e.id DESC LIMIT $5`, flowID, status, afterTime, afterID, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("list executions: %w", err)
	}
	list, err := collect(rows, scanExecution)
	if err != nil {
		return nil, nil, fmt.Errorf("list executions: %w", err)
	}
	var next *ExecutionCursor
	if len(list) > limit {
		list = list[:limit]
		last := list[len(list)-1]
		next = &ExecutionCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return list, next, nil
}

const attemptColumns = `id, execution_id, step_number, attempt, execution_attempt, outcome,
	request_method, request_url, request_headers, request_body, response_status, response_headers,
	response_body, response_truncated, duration_ms, error, extracted, worker_id, started_at, created_at`

func scanAttempt(row pgx.Row) (flow.StepAttempt, error) {
	var a flow.StepAttempt
	err := row.Scan(&a.ID, &a.ExecutionID, &a.StepNumber, &a.Attempt, &a.ExecutionAttempt, &a.Outcome,
		&a.RequestMethod, &a.RequestURL, &a.RequestHeaders, &a.RequestBody, &a.ResponseStatus,
		&a.ResponseHeaders, &a.ResponseBody, &a.ResponseTruncated, &a.DurationMS, &a.Error,
		&a.Extracted, &a.WorkerID, &a.StartedAt, &a.CreatedAt)
	return a, err
}

// StepAttemptListByExecution returns every attempt of an execution in the
// order they started.
func (s *Store) StepAttemptListByExecution(ctx context.Context, executionID uuid.UUID) ([]flow.StepAttempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+attemptColumns+` FROM step_attempts
		WHERE execution_id = $1 ORDER BY started_at, step_number, attempt`, executionID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	list, err := collect(rows, scanAttempt)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	if list == nil {
		list = []flow.StepAttempt{}
	}
	return list, nil
}

// ExecutionCommit writes a group of step attempts and execution states in
// one transaction with one multi-row statement each: the group commit of
// steps that finished close together. Several updates of one execution in
// a group must be merged by the caller (the last state wins).
func (s *Store) ExecutionCommit(ctx context.Context, attempts []flow.StepAttempt, updates []flow.ExecutionUpdate) error {
	if len(attempts) == 0 && len(updates) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	if len(attempts) > 0 {
		for i := range attempts {
			if attempts[i].RequestHeaders == nil {
				attempts[i].RequestHeaders = map[string]string{}
			}
			if attempts[i].ResponseHeaders == nil {
				attempts[i].ResponseHeaders = map[string]string{}
			}
			if len(attempts[i].Extracted) == 0 {
				attempts[i].Extracted = json.RawMessage("{}")
			}
		}
		batch.Queue(`INSERT INTO step_attempts (`+attemptColumns+`)
			SELECT id, execution_id, step_number, attempt, execution_attempt, outcome,
				request_method, request_url, request_headers, request_body, response_status, response_headers,
				response_body, response_truncated, duration_ms, coalesce(error, ''), extracted, coalesce(worker_id, ''),
				started_at, now()
			FROM jsonb_to_recordset($1) AS x(id uuid, execution_id uuid, step_number int, attempt int,
				execution_attempt int, outcome text, request_method text, request_url text,
				request_headers jsonb, request_body text, response_status int, response_headers jsonb,
				response_body text, response_truncated boolean, duration_ms bigint, error text,
				extracted jsonb, worker_id text, started_at timestamptz)
			ON CONFLICT (id) DO NOTHING`, jsonArg(attempts))
	}
	if len(updates) > 0 {
		batch.Queue(`UPDATE executions e SET
				status = CASE WHEN e.status = 'cancelled' THEN e.status ELSE u.status END,
				attempt_number = u.attempt_number,
				steps = u.steps,
				error_message = CASE WHEN e.status = 'cancelled' THEN e.error_message ELSE u.error_message END,
				executed_at = coalesce(e.executed_at, u.executed_at),
				next_retry_at = CASE WHEN e.status = 'cancelled' THEN NULL ELSE u.next_retry_at END,
				finished_at = CASE WHEN e.status = 'cancelled' THEN e.finished_at ELSE u.finished_at END,
				records = coalesce(u.records, e.records),
				updated_at = now()
			FROM jsonb_to_recordset($1) AS u(id uuid, status text, attempt_number int, steps jsonb,
				error_message text, executed_at timestamptz, next_retry_at timestamptz,
				finished_at timestamptz, records jsonb)
			WHERE e.id = u.id`, jsonArg(updates))
	}
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("commit %d attempts and %d executions: %w", len(attempts), len(updates), err)
		}
		return nil
	})
}

// jsonArg encodes v for a jsonb parameter.
func jsonArg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode json argument: %v", err))
	}
	return string(b)
}

// ExecutionCancelTx marks a scheduled or running execution cancelled and
// returns it; the caller cancels its River job in the same transaction.
// An execution that already ended answers ErrConflict.
func ExecutionCancelTx(ctx context.Context, tx pgx.Tx, companyID, id uuid.UUID) (*flow.Execution, error) {
	e, err := scanExecution(tx.QueryRow(ctx, `SELECT `+executionColumns+` FROM executions e
		WHERE e.id = $1 AND e.company_id = $2 FOR UPDATE`, id, companyID))
	if err != nil {
		return nil, interpretError(err)
	}
	if err := flow.CheckCancel(e.Status); err != nil {
		return e, err
	}
	msg := "cancelled by operator"
	err = tx.QueryRow(ctx, `UPDATE executions SET status = 'cancelled', finished_at = now(),
		next_retry_at = NULL, error_message = $2, updated_at = now() WHERE id = $1
		RETURNING updated_at, finished_at`, id, msg).Scan(&e.UpdatedAt, &e.FinishedAt)
	if err != nil {
		return nil, fmt.Errorf("cancel execution: %w", err)
	}
	e.Status = flow.ExecutionStatusCancelled
	e.ErrorMessage = &msg
	e.NextRetryAt = nil
	return e, nil
}

// ExecutionLockTx locks an execution of the company for a change by an
// operator and returns it.
func ExecutionLockTx(ctx context.Context, tx pgx.Tx, companyID, id uuid.UUID) (*flow.Execution, error) {
	e, err := scanExecution(tx.QueryRow(ctx, `SELECT `+executionColumns+` FROM executions e
		WHERE e.id = $1 AND e.company_id = $2 FOR UPDATE`, id, companyID))
	if err != nil {
		return nil, interpretError(err)
	}
	return e, nil
}

// ExecutionRequeueTx puts an ended execution back to scheduled for an
// operator retry, with its new state and its new River job.
func ExecutionRequeueTx(ctx context.Context, tx pgx.Tx, u flow.ExecutionUpdate, jobID int64) error {
	_, err := tx.Exec(ctx, `UPDATE executions SET status = $2, attempt_number = $3, steps = $4,
		error_message = NULL, next_retry_at = NULL, finished_at = NULL, job_id = $5, updated_at = now()
		WHERE id = $1`, u.ID, u.Status, u.AttemptNumber, u.Steps, jobID)
	if err != nil {
		return fmt.Errorf("requeue execution: %w", err)
	}
	return nil
}
