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

// executionRow is a row of executions as scanned. scanExecutionSummary and
// scanExecutionRow are the only readers of its columns, summary and
// execution the only conversions to domain values.
type executionRow struct {
	ID            uuid.UUID
	FlowID        uuid.UUID
	Status        string
	AttemptNumber int
	ExecutedAt    *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	NextRetryAt   *time.Time
	FinishedAt    *time.Time
	ErrorMessage  *string
	// The columns below are not read for a summary.
	CompanyID      uuid.UUID
	FlowVersion    int
	Trigger        string
	ScheduledFor   *time.Time
	IdempotencyKey *string
	Payload        json.RawMessage
	Variables      json.RawMessage
	Steps          json.RawMessage // a document of stepStateDoc by step number
	Records        json.RawMessage
	JobID          *int64
	EventID        *uuid.UUID
}

// executionSummaryColumns are the columns of an execution embedded in a
// flow; executionColumns all of them.
const (
	executionSummaryColumns = `e.id, e.flow_id, e.status, e.attempt_number, e.executed_at, e.created_at,
	e.updated_at, e.next_retry_at, e.finished_at, e.error_message`
	executionColumns = executionSummaryColumns + `, e.company_id, e.flow_version, e.trigger,
	e.scheduled_for, e.idempotency_key, e.payload, e.variables, e.steps, e.records, e.job_id, e.event_id`
)

func (r *executionRow) summaryDest() []any {
	return []any{&r.ID, &r.FlowID, &r.Status, &r.AttemptNumber, &r.ExecutedAt, &r.CreatedAt,
		&r.UpdatedAt, &r.NextRetryAt, &r.FinishedAt, &r.ErrorMessage}
}

// scanExecutionSummary scans executionSummaryColumns.
func scanExecutionSummary(row pgx.Row) (*executionRow, error) {
	var r executionRow
	return &r, row.Scan(r.summaryDest()...)
}

// scanExecutionRow scans executionColumns, then the columns of more (a
// query that selects others after them).
func scanExecutionRow(row pgx.Row, more ...any) (*executionRow, error) {
	var r executionRow
	dest := append(r.summaryDest(), &r.CompanyID, &r.FlowVersion, &r.Trigger, &r.ScheduledFor,
		&r.IdempotencyKey, &r.Payload, &r.Variables, &r.Steps, &r.Records, &r.JobID, &r.EventID)
	return &r, row.Scan(append(dest, more...)...)
}

// summary is the execution as embedded in a flow.
func (r *executionRow) summary() flow.ExecutionSummary {
	return flow.ExecutionSummary{
		ID:            r.ID,
		Status:        r.Status,
		AttemptNumber: r.AttemptNumber,
		ExecutedAt:    r.ExecutedAt,
		CreatedAt:     r.CreatedAt,
		UpdatedAt:     r.UpdatedAt,
		NextRetryAt:   r.NextRetryAt,
		FinishedAt:    r.FinishedAt,
		ErrorMessage:  r.ErrorMessage,
	}
}

// execution is the whole execution (without its attempts).
func (r *executionRow) execution() (*flow.Execution, error) {
	steps, err := decodeSteps(r.Steps)
	if err != nil {
		return nil, fmt.Errorf("execution %s: %w", r.ID, err)
	}
	e := &flow.Execution{
		ExecutionSummary: r.summary(),
		FlowID:           r.FlowID,
		CompanyID:        r.CompanyID,
		FlowVersion:      r.FlowVersion,
		Trigger:          r.Trigger,
		ScheduledFor:     r.ScheduledFor,
		IdempotencyKey:   r.IdempotencyKey,
		EventID:          r.EventID,
		Payload:          r.Payload,
		Variables:        r.Variables,
		Steps:            steps,
		Records:          r.Records,
	}
	if r.JobID != nil {
		e.JobID = *r.JobID
	}
	return e, nil
}

// scanExecution scans executionColumns into an execution.
func scanExecution(row pgx.Row) (*flow.Execution, error) {
	r, err := scanExecutionRow(row)
	if err != nil {
		return nil, err
	}
	return r.execution()
}

// getExecution runs a query of one execution.
func (s *Store) getExecution(ctx context.Context, doing, where string, args ...any) (*flow.Execution, error) {
	e, err := scanExecution(s.db.QueryRow(ctx, `SELECT `+executionColumns+` FROM executions e WHERE `+where, args...))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, interpretError(err))
	}
	return e, nil
}

// ExecutionGetByIdempotencyKey returns the company's execution of the flow
// that was created with key.
func (s *Store) ExecutionGetByIdempotencyKey(ctx context.Context, companyID, flowID uuid.UUID, key string) (*flow.Execution, error) {
	if err := requireCompany("get execution by idempotency key", companyID); err != nil {
		return nil, err
	}
	return s.getExecution(ctx, "get execution by idempotency key",
		`e.flow_id = $1 AND e.idempotency_key = $2 AND e.company_id = $3`, flowID, key, companyID)
}

// ExecutionGet returns an execution of the company.
func (s *Store) ExecutionGet(ctx context.Context, companyID, id uuid.UUID) (*flow.Execution, error) {
	if err := requireCompany("get execution", companyID); err != nil {
		return nil, err
	}
	return s.getExecution(ctx, "get execution", `e.id = $1 AND e.company_id = $2`, id, companyID)
}

// ExecutionsGetForRun reads executions whatever their company, for the
// worker that runs them (a River job names its execution by id only; the
// engine reads the executions of the jobs that start together in one
// statement), each with the signing secrets its flow has now: they are
// read on every run, not cached with the definition, so a rotation applies
// from the next run of every execution of the flow. Secret trigger
// variables are opened (SealVariables). found is called once per execution
// found, with the error of opening it if that failed (the others are not
// held back by it); an id with no execution is not reported. The error
// returned is the query's.
func (s *Store) ExecutionsGetForRun(ctx context.Context, ids []uuid.UUID, found func(id uuid.UUID, e *flow.Execution, signing flow.SigningSecrets, err error)) error {
	batch := &pgx.Batch{}
	batch.Queue(hotPathPlans)
	batch.Queue(`SELECT `+executionColumns+`, `+signingColumns+`
		FROM executions e JOIN flows f ON f.id = e.flow_id WHERE e.id = ANY($1)`, binaryUUIDs(ids)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var sealed sealedSigningSecrets
			r, err := scanExecutionRow(rows, sealed.dest()...)
			if err != nil {
				return err
			}
			e, signing, err := s.openForRun(r, sealed)
			found(r.ID, e, signing, err)
		}
		return rows.Err()
	})
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("get executions to run: %w", err)
	}
	return nil
}

// openForRun converts a row read for a run and opens its secrets.
func (s *Store) openForRun(r *executionRow, sealed sealedSigningSecrets) (*flow.Execution, flow.SigningSecrets, error) {
	e, err := r.execution()
	if err != nil {
		return nil, flow.SigningSecrets{}, err
	}
	if err := s.openVariables(e); err != nil {
		return nil, flow.SigningSecrets{}, err
	}
	ss, err := s.openSigningSecrets(sealed)
	if err != nil {
		return nil, flow.SigningSecrets{}, fmt.Errorf("get signing secrets of flow %s: %w", e.FlowID, err)
	}
	return e, ss, nil
}

// hotPathPlans starts the batches of the worker's group read and group commit
// (their implicit transaction: set_config's third argument makes both
// settings end with it). Their statements are prepared once per connection.
//
// Sequential scans are off: PostgreSQL keeps the generic plan it makes at
// about the sixth execution, and made while executions is still small (a
// fresh database, the first minute after a deploy, a table the pruner has
// just emptied) that plan reads the whole table, a cheap choice then, and
// keeps reading it for every later batch of that connection as the table
// grows, until an ANALYZE happens to replan it (measured with auto_explain
// in a 6,000-execution benchmark run: 1,117 sequential scans of
// executions, hundreds of pages per group commit). Planned without
// sequential scans, they read executions by primary key at any size
// (TestHotPathReadsByIndex).
//
// The generic plan is forced: a generic plan guesses ten elements for
// "id = ANY($1)", a batch of one or two ids costs less as a custom plan,
// so PostgreSQL kept planning the group read afresh on every execution
// (pg_stat_statements with track_planning, 12,000 executions of the 3-step
// chain: 3,022 plans for 3,010 reads, 1,250 ms planning against 535 ms
// executing). The plan is the same whatever the batch's size: by primary
// key (TestHotPathReadsByIndex).
const hotPathPlans = "SELECT set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)"

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

// args returns the cursor as the (time, id) arguments of a page query
// ("AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))"): both
// nil for the first page.
func (c *ExecutionCursor) args() (*time.Time, *uuid.UUID) {
	if c == nil {
		return nil, nil
	}
	return &c.CreatedAt, &c.ID
}

// nextPage cuts list, read with a LIMIT of limit+1 rows, to its first limit
// rows, and returns the cursor of the page after them: nil when the extra
// row was not there (the last page). key is an element's (time, id).
func nextPage[T any](list []T, limit int, key func(T) ExecutionCursor) ([]T, *ExecutionCursor) {
	if len(list) <= limit {
		return list, nil
	}
	list = list[:limit]
	next := key(list[len(list)-1])
	return list, &next
}

// ExecutionListByFlow lists the executions of a flow of the company newest
// first, after cursor when given, optionally only those with status. It
// returns the cursor of the next page, or nil at the end.
func (s *Store) ExecutionListByFlow(ctx context.Context, companyID, flowID uuid.UUID, status string, limit int, after *ExecutionCursor) ([]*flow.Execution, *ExecutionCursor, error) {
	if err := requireCompany("list executions", companyID); err != nil {
		return nil, nil, err
	}
	afterTime, afterID := after.args()
	list, err := queryAll(ctx, s.db, "list executions", scanExecution, `SELECT `+executionColumns+` FROM executions e
		WHERE e.flow_id = $1 AND e.company_id = $6 AND ($2 = '' OR e.status = $2)
		  AND ($3::timestamptz IS NULL OR (e.created_at, e.id) < ($3, $4))
		ORDER BY e.created_at DESC, e.id DESC LIMIT $5`, flowID, status, afterTime, afterID, limit+1, companyID)
	if err != nil {
		return nil, nil, err
	}
	list, next := nextPage(list, limit, func(e *flow.Execution) ExecutionCursor {
		return ExecutionCursor{CreatedAt: e.CreatedAt, ID: e.ID}
	})
	return list, next, nil
}

// ExecutionCommit writes a group of step attempts and execution states,
// whatever their companies, in one transaction (one round trip) with one
// multi-row statement each: the worker's group commit of steps that finished close
// together. Several updates of one execution in a group must be merged by
// the caller (the last state wins). An execution cancelled by an operator
// keeps its cancelled status, error and finished_at. Called on a Store
// bound to a transaction, it leaves that transaction planning without
// sequential scans and with generic plans (hotPathPlans).
func (s *Store) ExecutionCommit(ctx context.Context, attempts []flow.StepAttempt, updates []flow.ExecutionUpdate) error {
	if len(attempts) == 0 && len(updates) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	batch.Queue(hotPathPlans)
	// The updates first: each attempt's foreign key check then locks
	// (FOR KEY SHARE) the row version this transaction just wrote, instead
	// of the old one the update would next replace, which the benchmark
	// measured at 7% more CPU per step of the 3-step chain (README
	// "Round three").
	if len(updates) > 0 {
		if err := queueExecutionsUpdate(batch, updates); err != nil {
			return fmt.Errorf("commit %d attempts and %d executions: %w", len(attempts), len(updates), err)
		}
	}
	if len(attempts) > 0 {
		if err := queueAttemptsInsert(batch, attempts); err != nil {
			return fmt.Errorf("commit %d attempts and %d executions: %w", len(attempts), len(updates), err)
		}
	}
	// A batch outside a transaction runs as one implicit transaction (pgx
	// sends it as one pipeline ending in a single Sync): it is atomic and
	// committed when Close returns, without the round trips of BEGIN and
	// COMMIT. Inside a transaction it is part of that transaction.
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("commit %d attempts and %d executions: %w", len(attempts), len(updates), err)
	}
	return nil
}

// queueExecutionsUpdate queues the one statement that writes updates,
// given as the JSON array of appendUpdates. The ids are given twice, in
// the document and as $2, so that the plan can find the rows by index
// ("e.id = ANY($2)") rather than by joining the function's output, which
// PostgreSQL guesses at 100 rows (hotPathPlans).
func queueExecutionsUpdate(batch *pgx.Batch, updates []flow.ExecutionUpdate) error {
	ids := make([][16]byte, len(updates)) // binaryUUIDs
	for i, u := range updates {
		ids[i] = u.ID
	}
	doc, err := appendUpdates(make([]byte, 0, 512*len(updates)), updates)
	if err != nil {
		return err
	}
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
		WHERE e.id = u.id AND e.id = ANY($2)`, json.RawMessage(storableJSON(doc)), ids)
	return nil
}

// ExecutionCancel marks a scheduled or running execution of the company
// cancelled and returns it; the caller cancels its River job in the same
// transaction (Store.Tx), which this must run in. An execution that
// already ended answers ErrConflict.
func (s *Store) ExecutionCancel(ctx context.Context, companyID, id uuid.UUID) (*flow.Execution, error) {
	e, err := s.ExecutionLock(ctx, companyID, id)
	if err != nil {
		return nil, err
	}
	if err := flow.CheckCancel(e.Status); err != nil {
		return e, err
	}
	msg := "cancelled by operator"
	err = s.db.QueryRow(ctx, `UPDATE executions SET status = 'cancelled', finished_at = now(),
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

// ExecutionLock locks an execution of the company until the end of the
// transaction this must run in, for a change by an operator, and returns
// it.
func (s *Store) ExecutionLock(ctx context.Context, companyID, id uuid.UUID) (*flow.Execution, error) {
	if err := requireCompany("lock execution", companyID); err != nil {
		return nil, err
	}
	if err := s.requireTx("lock execution"); err != nil {
		return nil, err
	}
	return s.getExecution(ctx, "lock execution", `e.id = $1 AND e.company_id = $2 FOR UPDATE`, id, companyID)
}

// ExecutionRequeue puts an ended execution of the company back to
// scheduled for an operator retry, with its new state and its new River
// job.
func (s *Store) ExecutionRequeue(ctx context.Context, companyID uuid.UUID, u flow.ExecutionUpdate, jobID int64) error {
	if err := requireCompany("requeue execution", companyID); err != nil {
		return err
	}
	tag, err := s.db.Exec(ctx, `UPDATE executions SET status = $2, attempt_number = $3, steps = $4,
		error_message = NULL, next_retry_at = NULL, finished_at = NULL, job_id = $5, updated_at = now()
		WHERE id = $1 AND company_id = $6`, u.ID, u.Status, u.AttemptNumber, encodeSteps(u.Steps), jobID, companyID)
	if err != nil {
		return fmt.Errorf("requeue execution: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("requeue execution: %w", ErrNotFound)
	}
	return nil
}
