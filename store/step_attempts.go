package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowd/flowd/flow"
)

// attemptRow is a row of step_attempts: scanAttempt is the only reader of
// its columns. Its tags are the column names; appendAttempts writes the
// same document by hand (encode_test.go holds it to json.Marshal of
// attemptRow).
type attemptRow struct {
	ID                uuid.UUID         `json:"id"`
	ExecutionID       uuid.UUID         `json:"execution_id"`
	StepNumber        int               `json:"step_number"`
	Attempt           int               `json:"attempt"`
	ExecutionAttempt  int               `json:"execution_attempt"`
	Outcome           string            `json:"outcome"`
	RequestMethod     string            `json:"request_method"`
	RequestURL        string            `json:"request_url"`
	RequestHeaders    map[string]string `json:"request_headers"`
	RequestBody       string            `json:"request_body"`
	ResponseStatus    *int              `json:"response_status"`
	ResponseHeaders   map[string]string `json:"response_headers"`
	ResponseBody      string            `json:"response_body"`
	ResponseTruncated bool              `json:"response_truncated"`
	DurationMS        int64             `json:"duration_ms"`
	Error             string            `json:"error"`
	Extracted         json.RawMessage   `json:"extracted"`
	WorkerID          string            `json:"worker_id"`
	StartedAt         time.Time         `json:"started_at"`
	CreatedAt         time.Time         `json:"-"` // now() when inserted
}

const attemptColumns = `id, execution_id, step_number, attempt, execution_attempt, outcome,
	request_method, request_url, request_headers, request_body, response_status, response_headers,
	response_body, response_truncated, duration_ms, error, extracted, worker_id, started_at, created_at`

// scanAttempt scans attemptColumns into an attempt.
func scanAttempt(row pgx.Row) (flow.StepAttempt, error) {
	var r attemptRow
	err := row.Scan(&r.ID, &r.ExecutionID, &r.StepNumber, &r.Attempt, &r.ExecutionAttempt, &r.Outcome,
		&r.RequestMethod, &r.RequestURL, &r.RequestHeaders, &r.RequestBody, &r.ResponseStatus,
		&r.ResponseHeaders, &r.ResponseBody, &r.ResponseTruncated, &r.DurationMS, &r.Error,
		&r.Extracted, &r.WorkerID, &r.StartedAt, &r.CreatedAt)
	return flow.StepAttempt(r), err
}

// StepAttemptListByExecution returns every attempt of an execution of the
// company in the order they started.
func (s *Store) StepAttemptListByExecution(ctx context.Context, companyID, executionID uuid.UUID) ([]flow.StepAttempt, error) {
	if err := requireCompany("list attempts", companyID); err != nil {
		return nil, err
	}
	list, err := queryAll(ctx, s.db, "list attempts", scanAttempt, `SELECT `+attemptColumns+` FROM step_attempts
		WHERE execution_id = $1 AND EXISTS (SELECT 1 FROM executions e WHERE e.id = $1 AND e.company_id = $2)
		ORDER BY started_at, step_number, attempt`, executionID, companyID)
	if err != nil {
		return nil, err
	}
	return nonNil(list), nil
}

// queueAttemptsInsert queues the one statement that inserts attempts,
// given as the JSON array of appendAttempts; an attempt already stored (a
// repeated commit) is left as it is.
func queueAttemptsInsert(batch *pgx.Batch, attempts []flow.StepAttempt) error {
	doc, err := appendAttempts(make([]byte, 0, 1024*len(attempts)), attempts)
	if err != nil {
		return err
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
		ON CONFLICT (id) DO NOTHING`, json.RawMessage(storableJSON(doc)))
	return nil
}
