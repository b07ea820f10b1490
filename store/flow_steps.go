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

// stepRow is a row of flow_steps as scanned: scanStep is the only reader of
// its columns, step the only conversion to a flow.Step.
type stepRow struct {
	FlowID           uuid.UUID
	ID               uuid.UUID
	StepNumber       int
	WebhookURL       string
	WebhookMethod    string
	WebhookTimeout   int
	RetryLimit       int
	Timeout          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	WebhookURLParams json.RawMessage
	WebhookHeaders   json.RawMessage
	WebhookBody      json.RawMessage
	DependsOnStep    *int
	SuccessCondition json.RawMessage
	DeletedAt        *time.Time
}

const stepColumns = `s.flow_id, s.id, s.step_number, s.webhook_url, s.webhook_method, s.webhook_timeout,
	s.retry_limit, s.timeout, s.created_at, s.updated_at, s.webhook_url_params, s.webhook_headers,
	s.webhook_body, s.depends_on_step, s.success_condition, s.deleted_at`

// scanStep scans stepColumns.
func scanStep(row pgx.Row) (*stepRow, error) {
	var r stepRow
	err := row.Scan(&r.FlowID, &r.ID, &r.StepNumber, &r.WebhookURL, &r.WebhookMethod, &r.WebhookTimeout,
		&r.RetryLimit, &r.Timeout, &r.CreatedAt, &r.UpdatedAt, &r.WebhookURLParams, &r.WebhookHeaders,
		&r.WebhookBody, &r.DependsOnStep, &r.SuccessCondition, &r.DeletedAt)
	return &r, err
}

// step is the step of the flow; a NULL body is the JSON null.
func (r *stepRow) step() flow.Step {
	body := r.WebhookBody
	if body == nil {
		body = json.RawMessage("null")
	}
	return flow.Step{
		ID:               r.ID,
		StepNumber:       r.StepNumber,
		WebhookURL:       r.WebhookURL,
		WebhookMethod:    r.WebhookMethod,
		WebhookTimeout:   r.WebhookTimeout,
		RetryLimit:       r.RetryLimit,
		Timeout:          r.Timeout,
		CreatedAt:        r.CreatedAt,
		UpdatedAt:        r.UpdatedAt,
		WebhookURLParams: r.WebhookURLParams,
		WebhookHeaders:   r.WebhookHeaders,
		WebhookBody:      body,
		DependsOnStep:    r.DependsOnStep,
		SuccessCondition: r.SuccessCondition,
		DeletedAt:        r.DeletedAt,
	}
}

// upsertSteps writes the current steps of a flow: a step keeps its id and
// created_at across edits when its step_number stays; steps no longer
// present are soft-deleted.
func (s *Store) upsertSteps(ctx context.Context, flowID uuid.UUID, steps []flow.Step) error {
	numbers := make([]int32, 0, len(steps))
	batch := &pgx.Batch{}
	for _, st := range steps {
		numbers = append(numbers, int32(st.StepNumber))
		batch.Queue(`INSERT INTO flow_steps (id, flow_id, step_number, webhook_url, webhook_method,
			webhook_timeout, retry_limit, timeout, webhook_url_params, webhook_headers, webhook_body,
			depends_on_step, success_condition)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
			ON CONFLICT (flow_id, step_number) DO UPDATE SET
				webhook_url = EXCLUDED.webhook_url, webhook_method = EXCLUDED.webhook_method,
				webhook_timeout = EXCLUDED.webhook_timeout, retry_limit = EXCLUDED.retry_limit,
				timeout = EXCLUDED.timeout, webhook_url_params = EXCLUDED.webhook_url_params,
				webhook_headers = EXCLUDED.webhook_headers, webhook_body = EXCLUDED.webhook_body,
				depends_on_step = EXCLUDED.depends_on_step, success_condition = EXCLUDED.success_condition,
				updated_at = now(), deleted_at = NULL`,
			uuid.New(), flowID, st.StepNumber, st.WebhookURL, st.WebhookMethod,
			st.WebhookTimeout, st.RetryLimit, st.Timeout, jsonOrEmptyObject(st.WebhookURLParams),
			jsonOrEmptyObject(st.WebhookHeaders), jsonOrNull(st.WebhookBody), st.DependsOnStep,
			jsonOrEmptyObject(st.SuccessCondition))
	}
	batch.Queue(`UPDATE flow_steps SET deleted_at = now(), updated_at = now()
		WHERE flow_id = $1 AND deleted_at IS NULL AND NOT (step_number = ANY($2))`, flowID, numbers)
	if err := s.db.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("write steps: %w", err)
	}
	return nil
}
