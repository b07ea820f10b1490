package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowd/flowd/flow"
)

// RecentExecutionsPerFlow bounds the executions embedded in a flow object.
const RecentExecutionsPerFlow = 5

const flowColumns = `f.id, f.created_by, f.company_id, f.workspace_id, f.name, f.logo,
	f.retry_delay, f.retry_delay_unit, f.max_retries, f.status, f.created_at, f.updated_at,
	f.is_template, f.flow_direction, f.flow_mapping, f.tag_name, f.category_name, f.deleted_at,
	f.predefined_variables, f.variables, f.schedule, f.version, f.signing_secret IS NOT NULL`

func scanFlow(row pgx.Row) (*flow.Flow, error) {
	var f flow.Flow
	err := row.Scan(&f.ID, &f.CreatedBy, &f.CompanyID, &f.WorkspaceID, &f.Name, &f.Logo,
		&f.RetryDelay, &f.RetryDelayUnit, &f.MaxRetries, &f.Status, &f.CreatedAt, &f.UpdatedAt,
		&f.IsTemplate, &f.FlowDirection, &f.FlowMapping, &f.TagName, &f.CategoryName, &f.DeletedAt,
		&f.PredefinedVariables, &f.Variables, &f.Schedule, &f.Version, &f.HasSigningSecret)
	if err != nil {
		return nil, err
	}
	if f.PredefinedVariables == nil {
		f.PredefinedVariables = []flow.PredefinedVariable{}
	}
	if f.Variables == nil {
		f.Variables = []flow.Variable{}
	}
	f.Steps = []flow.Step{}
	f.Executions = []flow.ExecutionSummary{}
	return &f, nil
}

const stepColumns = `s.id, s.flow_id, s.step_number, s.webhook_url, s.webhook_method, s.webhook_timeout,
	s.retry_limit, s.timeout, s.created_at, s.updated_at, s.webhook_url_params, s.webhook_headers,
	s.webhook_body, s.depends_on_step, s.success_condition, s.deleted_at`

func scanStep(row pgx.Row) (uuid.UUID, flow.Step, error) {
	var st flow.Step
	var flowID uuid.UUID
	err := row.Scan(&st.ID, &flowID, &st.StepNumber, &st.WebhookURL, &st.WebhookMethod, &st.WebhookTimeout,
		&st.RetryLimit, &st.Timeout, &st.CreatedAt, &st.UpdatedAt, &st.WebhookURLParams, &st.WebhookHeaders,
		&st.WebhookBody, &st.DependsOnStep, &st.SuccessCondition, &st.DeletedAt)
	if st.WebhookBody == nil {
		st.WebhookBody = json.RawMessage("null")
	}
	return flowID, st, err
}

const executionSummaryColumns = `e.id, e.status, e.attempt_number, e.executed_at, e.created_at,
	e.updated_at, e.next_retry_at, e.finished_at, e.error_message`

func scanExecutionSummary(row pgx.Row, dst *flow.ExecutionSummary, extra ...any) error {
	args := append([]any{&dst.ID, &dst.Status, &dst.AttemptNumber, &dst.ExecutedAt, &dst.CreatedAt,
		&dst.UpdatedAt, &dst.NextRetryAt, &dst.FinishedAt, &dst.ErrorMessage}, extra...)
	return row.Scan(args...)
}

// FlowCreate stores a new flow with its steps and its first definition
// version, in one transaction.
func (s *Store) FlowCreate(ctx context.Context, companyID, userID uuid.UUID, in *flow.FlowInput, hookSecret string) (*flow.Flow, error) {
	id := uuid.New()
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var signing *string
		if in.SigningSecret != nil && *in.SigningSecret != "" {
			signing = in.SigningSecret
		}
		_, err := tx.Exec(ctx, `INSERT INTO flows (id, company_id, created_by, workspace_id, name, logo,
			retry_delay, retry_delay_unit, max_retries, status, is_template, flow_direction, flow_mapping,
			tag_name, category_name, predefined_variables, variables, schedule, hook_secret, signing_secret, version)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,1)`,
			id, companyID, userID, in.WorkspaceID, in.Name, in.Logo,
			in.RetryDelay, in.RetryDelayUnit, in.MaxRetries, flow.FlowStatusScheduled, in.IsTemplate,
			in.FlowDirection, jsonOrEmptyObject(in.FlowMapping), in.TagName, in.CategoryName,
			in.PredefinedVariables, in.Variables, emptyToNil(in.Schedule), hookSecret, signing)
		if err != nil {
			return fmt.Errorf("insert flow: %w", err)
		}
		if err := upsertSteps(ctx, tx, id, in.Steps); err != nil {
			return err
		}
		def := in.Definition(id, 1)
		if signing != nil {
			def.SigningSecret = *signing
		}
		return insertVersion(ctx, tx, def)
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return s.FlowGet(ctx, companyID, id)
}

func emptyToNil(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	return s
}

func jsonOrEmptyObject(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

func jsonOrNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// upsertSteps writes the current steps of a flow: a step keeps its id and
// created_at across edits when its step_number stays; steps no longer
// present are soft-deleted.
func upsertSteps(ctx context.Context, tx pgx.Tx, flowID uuid.UUID, steps []flow.Step) error {
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
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("write steps: %w", err)
	}
	return nil
}

func insertVersion(ctx context.Context, tx pgx.Tx, def *flow.Definition) error {
	_, err := tx.Exec(ctx, `INSERT INTO flow_versions (flow_id, version, definition) VALUES ($1, $2, $3)`,
		def.FlowID, def.Version, def)
	if err != nil {
		return fmt.Errorf("insert flow version: %w", err)
	}
	return nil
}

// FlowReplace replaces a flow's definition (steps included) and records a
// new definition version. Running executions keep the version they started
// with. A deleted flow answers ErrConflict.
func (s *Store) FlowReplace(ctx context.Context, companyID, id uuid.UUID, in *flow.FlowInput) (*flow.Flow, error) {
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var status string
		var version int
		var signing *string
		err := tx.QueryRow(ctx, `SELECT status, version, signing_secret FROM flows
			WHERE id = $1 AND company_id = $2 FOR UPDATE`, id, companyID).Scan(&status, &version, &signing)
		if err != nil {
			return err
		}
		if err := flow.CheckEdit(status); err != nil {
			return err
		}
		if in.SigningSecret != nil && *in.SigningSecret != "" {
			signing = in.SigningSecret
		}
		version++
		_, err = tx.Exec(ctx, `UPDATE flows SET workspace_id = $3, name = $4, logo = $5, retry_delay = $6,
			retry_delay_unit = $7, max_retries = $8, is_template = $9, flow_direction = $10,
			flow_mapping = $11, tag_name = $12, category_name = $13, predefined_variables = $14,
			variables = $15, schedule = $16, signing_secret = $17, version = $18, updated_at = now(),
			-- a new schedule (or a template turned runnable) counts its slots from now
			schedule_next_at = CASE WHEN schedule IS DISTINCT FROM $16 OR is_template <> $9
				THEN NULL ELSE schedule_next_at END,
			schedule_armed_at = CASE WHEN schedule IS DISTINCT FROM $16 OR is_template <> $9
				THEN now() ELSE schedule_armed_at END
			WHERE id = $1 AND company_id = $2`,
			id, companyID, in.WorkspaceID, in.Name, in.Logo, in.RetryDelay, in.RetryDelayUnit,
			in.MaxRetries, in.IsTemplate, in.FlowDirection, jsonOrEmptyObject(in.FlowMapping),
			in.TagName, in.CategoryName, in.PredefinedVariables, in.Variables,
			emptyToNil(in.Schedule), signing, version)
		if err != nil {
			return fmt.Errorf("update flow: %w", err)
		}
		if err := upsertSteps(ctx, tx, id, in.Steps); err != nil {
			return err
		}
		def := in.Definition(id, version)
		if signing != nil {
			def.SigningSecret = *signing
		}
		return insertVersion(ctx, tx, def)
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return s.FlowGet(ctx, companyID, id)
}

// FlowDelete soft-deletes a flow: status deleted, deleted_at set. Its
// history stays readable; it can't be run or edited again.
func (s *Store) FlowDelete(ctx context.Context, companyID, id uuid.UUID) (*flow.Flow, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE flows SET status = 'deleted', deleted_at = coalesce(deleted_at, now()),
		updated_at = now() WHERE id = $1 AND company_id = $2`, id, companyID)
	if err != nil {
		return nil, fmt.Errorf("delete flow: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil, ErrNotFound
	}
	return s.FlowGet(ctx, companyID, id)
}

// FlowSetStatus sets the stored status of a flow (stop: stopped; resume:
// running). A deleted flow answers ErrConflict.
func (s *Store) FlowSetStatus(ctx context.Context, companyID, id uuid.UUID, status string) (*flow.Flow, error) {
	var current string
	err := s.pool.QueryRow(ctx, `WITH old AS (
			SELECT status FROM flows WHERE id = $1 AND company_id = $2 FOR UPDATE)
		UPDATE flows f SET status = CASE WHEN old.status = 'deleted' THEN f.status ELSE $3 END,
			updated_at = CASE WHEN old.status = 'deleted' THEN f.updated_at ELSE now() END,
			-- resuming counts schedule slots from now: none missed while stopped runs
			schedule_next_at = CASE WHEN old.status = 'stopped' AND $3 <> 'stopped'
				THEN NULL ELSE f.schedule_next_at END,
			schedule_armed_at = CASE WHEN old.status = 'stopped' AND $3 <> 'stopped'
				THEN now() ELSE f.schedule_armed_at END
		FROM old WHERE f.id = $1 RETURNING old.status`, id, companyID, status).Scan(&current)
	if err != nil {
		return nil, interpretError(err)
	}
	if err := flow.CheckStopResume(current); err != nil {
		return nil, err
	}
	return s.FlowGet(ctx, companyID, id)
}

// FlowGet returns one flow of the company, deleted or not, with its
// current steps and recent executions.
func (s *Store) FlowGet(ctx context.Context, companyID, id uuid.UUID) (*flow.Flow, error) {
	f, err := scanFlow(s.pool.QueryRow(ctx, `SELECT `+flowColumns+` FROM flows f
		WHERE f.id = $1 AND f.company_id = $2`, id, companyID))
	if err != nil {
		return nil, interpretError(err)
	}
	if err := s.fillFlows(ctx, []*flow.Flow{f}); err != nil {
		return nil, err
	}
	return f, nil
}

// FlowList returns the company's flows in a workspace that are not deleted,
// oldest first, each with its steps and recent executions. It runs the
// same four queries whatever the number of flows.
func (s *Store) FlowList(ctx context.Context, companyID uuid.UUID, workspaceID string) ([]*flow.Flow, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+flowColumns+` FROM flows f
		WHERE f.company_id = $1 AND f.workspace_id = $2 AND f.deleted_at IS NULL
		ORDER BY f.created_at, f.id`, companyID, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	flows, err := collect(rows, scanFlow)
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	if err := s.fillFlows(ctx, flows); err != nil {
		return nil, err
	}
	return flows, nil
}

func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// fillFlows loads steps, recent executions and in-flight state for flows in
// three queries, and derives each flow's status.
func (s *Store) fillFlows(ctx context.Context, flows []*flow.Flow) error {
	if len(flows) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(flows))
	byID := make(map[uuid.UUID]*flow.Flow, len(flows))
	for i, f := range flows {
		ids[i] = f.ID
		byID[f.ID] = f
	}

	rows, err := s.pool.Query(ctx, `SELECT `+stepColumns+` FROM flow_steps s
		WHERE s.flow_id = ANY($1) AND s.deleted_at IS NULL ORDER BY s.flow_id, s.step_number`, ids)
	if err != nil {
		return fmt.Errorf("list steps: %w", err)
	}
	for rows.Next() {
		flowID, st, err := scanStep(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("scan step: %w", err)
		}
		byID[flowID].Steps = append(byID[flowID].Steps, st)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list steps: %w", err)
	}

	rows, err = s.pool.Query(ctx, `SELECT `+executionSummaryColumns+`, e.flow_id
		FROM unnest($1::uuid[]) AS ids(id)
		CROSS JOIN LATERAL (SELECT * FROM executions x WHERE x.flow_id = ids.id
			ORDER BY x.created_at DESC, x.id DESC LIMIT $2) e
		ORDER BY e.flow_id, e.created_at DESC, e.id DESC`, ids, RecentExecutionsPerFlow)
	if err != nil {
		return fmt.Errorf("list recent executions: %w", err)
	}
	for rows.Next() {
		var e flow.ExecutionSummary
		var flowID uuid.UUID
		if err := scanExecutionSummary(rows, &e, &flowID); err != nil {
			rows.Close()
			return fmt.Errorf("scan execution: %w", err)
		}
		byID[flowID].Executions = append(byID[flowID].Executions, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list recent executions: %w", err)
	}

	rows, err = s.pool.Query(ctx, `SELECT DISTINCT flow_id FROM executions
		WHERE flow_id = ANY($1) AND status IN ('scheduled', 'in_progress')`, ids)
	if err != nil {
		return fmt.Errorf("list in-flight flows: %w", err)
	}
	inFlight := map[uuid.UUID]bool{}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		inFlight[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list in-flight flows: %w", err)
	}

	for _, f := range flows {
		var newest *flow.ExecutionSummary
		if len(f.Executions) > 0 {
			newest = &f.Executions[0]
		}
		f.Status = flow.DeriveFlowStatus(f.Status, inFlight[f.ID], newest)
	}
	return nil
}

// FlowDefinition returns the immutable definition of one version of a flow.
func (s *Store) FlowDefinition(ctx context.Context, flowID uuid.UUID, version int) (*flow.Definition, error) {
	var def flow.Definition
	err := s.pool.QueryRow(ctx, `SELECT definition FROM flow_versions WHERE flow_id = $1 AND version = $2`,
		flowID, version).Scan(&def)
	if err != nil {
		return nil, fmt.Errorf("get flow %s version %d: %w", flowID, version, interpretError(err))
	}
	return &def, nil
}

// FlowHookSecret returns the inbound hook secret of a flow (any company:
// the hook endpoint has no token) along with the flow's company.
func (s *Store) FlowHookSecret(ctx context.Context, id uuid.UUID) (secret string, companyID uuid.UUID, err error) {
	err = s.pool.QueryRow(ctx, `SELECT hook_secret, company_id FROM flows WHERE id = $1`, id).Scan(&secret, &companyID)
	if err != nil {
		return "", uuid.Nil, interpretError(err)
	}
	return secret, companyID, nil
}

// FlowRotateHookSecret replaces a flow's inbound hook secret.
func (s *Store) FlowRotateHookSecret(ctx context.Context, companyID, id uuid.UUID, secret string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE flows SET hook_secret = $3, updated_at = now()
		WHERE id = $1 AND company_id = $2 AND deleted_at IS NULL`, id, companyID, secret)
	if err != nil {
		return fmt.Errorf("rotate hook secret: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// FlowRunInfo is what a trigger needs to know about a flow.
type FlowRunInfo struct {
	CompanyID  uuid.UUID
	Status     string
	IsTemplate bool
	Version    int
}

// FlowRunInfo returns the run state of a flow. A zero companyID matches any
// company (hooks and schedules name the flow directly).
func (s *Store) FlowRunInfo(ctx context.Context, companyID, id uuid.UUID) (*FlowRunInfo, error) {
	var fi FlowRunInfo
	err := s.pool.QueryRow(ctx, `SELECT company_id, status, is_template, version FROM flows
		WHERE id = $1 AND ($2::uuid = '00000000-0000-0000-0000-000000000000' OR company_id = $2)`,
		id, companyID).Scan(&fi.CompanyID, &fi.Status, &fi.IsTemplate, &fi.Version)
	if err != nil {
		return nil, interpretError(err)
	}
	return &fi, nil
}
