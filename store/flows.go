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

// RecentExecutionsPerFlow bounds the executions embedded in a flow object.
const RecentExecutionsPerFlow = 5

// flowRow is a row of flows as scanned: scanFlow is the only reader of its
// columns and the only conversion to a flow.Flow.
type flowRow struct {
	ID                  uuid.UUID
	CreatedBy           uuid.UUID
	CompanyID           uuid.UUID
	WorkspaceID         string
	Name                string
	Logo                string
	RetryDelay          int
	RetryDelayUnit      string
	MaxRetries          int
	Status              string
	CreatedAt           time.Time
	UpdatedAt           time.Time
	IsTemplate          bool
	FlowDirection       string
	FlowMapping         json.RawMessage
	TagName             string
	CategoryName        string
	DeletedAt           *time.Time
	PredefinedVariables json.RawMessage // a document of predefinedVariableDoc
	Variables           json.RawMessage // a document of variableDoc
	Schedule            *string
	Version             int
	HasSigningSecret    bool
	PropagateTrace      bool
	Events              []string
	EventFilter         *string
}

const flowColumns = `f.id, f.created_by, f.company_id, f.workspace_id, f.name, f.logo,
	f.retry_delay, f.retry_delay_unit, f.max_retries, f.status, f.created_at, f.updated_at,
	f.is_template, f.flow_direction, f.flow_mapping, f.tag_name, f.category_name, f.deleted_at,
	f.predefined_variables, f.variables, f.schedule, f.version, f.signing_secret IS NOT NULL, f.propagate_trace,
	f.events, f.event_filter`

// scanFlow scans flowColumns into a flow without steps or executions, its
// secrets opened.
func (s *Store) scanFlow(row pgx.Row) (*flow.Flow, error) {
	var r flowRow
	err := row.Scan(&r.ID, &r.CreatedBy, &r.CompanyID, &r.WorkspaceID, &r.Name, &r.Logo,
		&r.RetryDelay, &r.RetryDelayUnit, &r.MaxRetries, &r.Status, &r.CreatedAt, &r.UpdatedAt,
		&r.IsTemplate, &r.FlowDirection, &r.FlowMapping, &r.TagName, &r.CategoryName, &r.DeletedAt,
		&r.PredefinedVariables, &r.Variables, &r.Schedule, &r.Version, &r.HasSigningSecret, &r.PropagateTrace,
		&r.Events, &r.EventFilter)
	if err != nil {
		return nil, err
	}
	predefined, err := decodePredefinedVariables(r.PredefinedVariables)
	if err == nil {
		err = s.openPredefined(predefined)
	}
	if err != nil {
		return nil, fmt.Errorf("flow %s: %w", r.ID, err)
	}
	variables, err := decodeVariables(r.Variables)
	if err != nil {
		return nil, fmt.Errorf("flow %s: %w", r.ID, err)
	}
	return &flow.Flow{
		ID:                  r.ID,
		CreatedBy:           r.CreatedBy,
		CompanyID:           r.CompanyID,
		WorkspaceID:         r.WorkspaceID,
		Name:                r.Name,
		Logo:                r.Logo,
		RetryDelay:          r.RetryDelay,
		RetryDelayUnit:      r.RetryDelayUnit,
		MaxRetries:          r.MaxRetries,
		Status:              r.Status,
		CreatedAt:           r.CreatedAt,
		UpdatedAt:           r.UpdatedAt,
		Executions:          []flow.ExecutionSummary{},
		Steps:               []flow.Step{},
		IsTemplate:          r.IsTemplate,
		FlowDirection:       r.FlowDirection,
		FlowMapping:         r.FlowMapping,
		TagName:             r.TagName,
		CategoryName:        r.CategoryName,
		DeletedAt:           r.DeletedAt,
		PredefinedVariables: predefined,
		Variables:           variables,
		Schedule:            r.Schedule,
		Version:             r.Version,
		HasSigningSecret:    r.HasSigningSecret,
		PropagateTrace:      r.PropagateTrace,
		Events:              nonNil(r.Events),
		EventFilter:         r.EventFilter,
	}, nil
}

// FlowCreate stores a new flow of the company with its steps and its first
// definition version, in one transaction.
func (s *Store) FlowCreate(ctx context.Context, companyID, userID uuid.UUID, in *flow.FlowInput, hookSecret string) (*flow.Flow, error) {
	if err := requireCompany("create flow", companyID); err != nil {
		return nil, err
	}
	id := uuid.New()
	err := s.InTx(ctx, func(tx *Store) error {
		sealedHook, err := tx.seal(hookSecret)
		if err != nil {
			return err
		}
		predefined, err := tx.sealPredefined(in.PredefinedVariables)
		if err != nil {
			return err
		}
		_, err = tx.db.Exec(ctx, `INSERT INTO flows (id, company_id, created_by, workspace_id, name, logo,
			retry_delay, retry_delay_unit, max_retries, status, is_template, flow_direction, flow_mapping,
			tag_name, category_name, predefined_variables, variables, schedule, hook_secret, propagate_trace, version,
			events, event_filter)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,1,$21,$22)`,
			id, companyID, userID, in.WorkspaceID, in.Name, in.Logo,
			in.RetryDelay, in.RetryDelayUnit, in.MaxRetries, flow.FlowStatusScheduled, in.IsTemplate,
			in.FlowDirection, jsonOrEmptyObject(in.FlowMapping), in.TagName, in.CategoryName,
			encodePredefinedVariables(predefined), encodeVariables(in.Variables),
			emptyToNil(in.Schedule), sealedHook, in.PropagateTrace, nonNil(in.Events), in.EventFilter)
		if err != nil {
			return fmt.Errorf("insert flow: %w", err)
		}
		return tx.writeDefinition(ctx, companyID, id, 1, in)
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return s.FlowGet(ctx, companyID, id)
}

// FlowReplace replaces the definition (steps included) of a flow of the
// company and records a new definition version. Running executions keep
// the version they started with. A deleted flow answers ErrConflict.
func (s *Store) FlowReplace(ctx context.Context, companyID, id uuid.UUID, in *flow.FlowInput) (*flow.Flow, error) {
	if err := requireCompany("replace flow", companyID); err != nil {
		return nil, err
	}
	err := s.InTx(ctx, func(tx *Store) error {
		var status string
		var version int
		var storedPredefined json.RawMessage
		err := tx.db.QueryRow(ctx, `SELECT status, version, predefined_variables FROM flows
			WHERE id = $1 AND company_id = $2 FOR UPDATE`, id, companyID).Scan(&status, &version, &storedPredefined)
		if err != nil {
			return err
		}
		if err := flow.CheckEdit(status); err != nil {
			return err
		}
		// A secret sent back without its value (as every answer shows it)
		// keeps the stored one.
		stored, err := decodePredefinedVariables(storedPredefined)
		if err == nil {
			err = tx.openPredefined(stored)
		}
		if err != nil {
			return fmt.Errorf("flow %s: %w", id, err)
		}
		flow.KeepSecrets(in.PredefinedVariables, stored)
		predefined, err := tx.sealPredefined(in.PredefinedVariables)
		if err != nil {
			return err
		}
		version++
		_, err = tx.db.Exec(ctx, `UPDATE flows SET workspace_id = $3, name = $4, logo = $5, retry_delay = $6,
			retry_delay_unit = $7, max_retries = $8, is_template = $9, flow_direction = $10,
			flow_mapping = $11, tag_name = $12, category_name = $13, predefined_variables = $14,
			variables = $15, schedule = $16, version = $17, propagate_trace = $18, updated_at = now(),
			-- a new schedule (or a template turned runnable) counts its slots from now
			schedule_next_at = CASE WHEN schedule IS DISTINCT FROM $16 OR is_template <> $9
				THEN NULL ELSE schedule_next_at END,
			schedule_armed_at = CASE WHEN schedule IS DISTINCT FROM $16 OR is_template <> $9
				THEN now() ELSE schedule_armed_at END,
			events = $19, event_filter = $20
			WHERE id = $1 AND company_id = $2`,
			id, companyID, in.WorkspaceID, in.Name, in.Logo, in.RetryDelay, in.RetryDelayUnit,
			in.MaxRetries, in.IsTemplate, in.FlowDirection, jsonOrEmptyObject(in.FlowMapping),
			in.TagName, in.CategoryName, encodePredefinedVariables(predefined),
			encodeVariables(in.Variables), emptyToNil(in.Schedule), version, in.PropagateTrace,
			nonNil(in.Events), in.EventFilter)
		if err != nil {
			return fmt.Errorf("update flow: %w", err)
		}
		return tx.writeDefinition(ctx, companyID, id, version, in)
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return s.FlowGet(ctx, companyID, id)
}

// writeDefinition writes what a create or a replace of flow id writes
// besides its row: its signing secret, its steps, its event subscriptions
// and its definition version. Call it in the transaction that wrote the
// row.
func (s *Store) writeDefinition(ctx context.Context, companyID, id uuid.UUID, version int, in *flow.FlowInput) error {
	if err := s.setSigningSecret(ctx, companyID, id, in); err != nil {
		return err
	}
	if err := s.upsertSteps(ctx, id, in.Steps); err != nil {
		return err
	}
	if err := s.setSubscriptions(ctx, companyID, id, in); err != nil {
		return err
	}
	return s.insertVersion(ctx, in.Definition(id, version))
}

// FlowDelete soft-deletes a flow of the company: status deleted,
// deleted_at set. Its history stays readable; it can't be run or edited
// again.
func (s *Store) FlowDelete(ctx context.Context, companyID, id uuid.UUID) (*flow.Flow, error) {
	if err := requireCompany("delete flow", companyID); err != nil {
		return nil, err
	}
	// A deleted flow is no longer subscribed to events (see setSubscriptions).
	tag, err := s.db.Exec(ctx, `WITH unsubscribed AS (
			DELETE FROM flow_event_subscriptions WHERE flow_id = $1 AND company_id = $2)
		UPDATE flows SET status = 'deleted', deleted_at = coalesce(deleted_at, now()),
		updated_at = now() WHERE id = $1 AND company_id = $2`, id, companyID)
	if err != nil {
		return nil, fmt.Errorf("delete flow: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil, ErrNotFound
	}
	return s.FlowGet(ctx, companyID, id)
}

// FlowSetStatus sets the stored status of a flow of the company (stop:
// stopped; resume: running). A deleted flow answers ErrConflict.
func (s *Store) FlowSetStatus(ctx context.Context, companyID, id uuid.UUID, status string) (*flow.Flow, error) {
	if err := requireCompany("set flow status", companyID); err != nil {
		return nil, err
	}
	var current string
	err := s.db.QueryRow(ctx, `WITH old AS (
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
	if err := requireCompany("get flow", companyID); err != nil {
		return nil, err
	}
	f, err := s.scanFlow(s.db.QueryRow(ctx, `SELECT `+flowColumns+` FROM flows f
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
	if err := requireCompany("list flows", companyID); err != nil {
		return nil, err
	}
	flows, err := queryAll(ctx, s.db, "list flows", s.scanFlow, `SELECT `+flowColumns+` FROM flows f
		WHERE f.company_id = $1 AND f.workspace_id = $2 AND f.deleted_at IS NULL
		ORDER BY f.created_at, f.id`, companyID, workspaceID)
	if err != nil {
		return nil, err
	}
	if err := s.fillFlows(ctx, flows); err != nil {
		return nil, err
	}
	return flows, nil
}

// fillFlows loads steps, recent executions and in-flight state for flows in
// three queries, and derives each flow's status.
func (s *Store) fillFlows(ctx context.Context, flows []*flow.Flow) error {
	if len(flows) == 0 {
		return nil
	}
	ids, byID := indexByID(flows, func(f *flow.Flow) uuid.UUID { return f.ID })

	steps, err := queryAll(ctx, s.db, "list steps", scanStep, `SELECT `+stepColumns+` FROM flow_steps s
		WHERE s.flow_id = ANY($1) AND s.deleted_at IS NULL ORDER BY s.flow_id, s.step_number`, ids)
	if err != nil {
		return err
	}
	for _, st := range steps {
		byID[st.FlowID].Steps = append(byID[st.FlowID].Steps, st.step())
	}

	recent, err := queryAll(ctx, s.db, "list recent executions", scanExecutionSummary, `SELECT `+executionSummaryColumns+`
		FROM unnest($1::uuid[]) AS ids(id)
		CROSS JOIN LATERAL (SELECT * FROM executions x WHERE x.flow_id = ids.id
			ORDER BY x.created_at DESC, x.id DESC LIMIT $2) e
		ORDER BY e.flow_id, e.created_at DESC, e.id DESC`, ids, RecentExecutionsPerFlow)
	if err != nil {
		return err
	}
	for _, e := range recent {
		byID[e.FlowID].Executions = append(byID[e.FlowID].Executions, e.summary())
	}

	busy, err := queryAll(ctx, s.db, "list in-flight flows", scanID, inFlightFlowsQuery, binaryUUIDs(ids))
	if err != nil {
		return err
	}
	inFlight := make(map[uuid.UUID]bool, len(busy))
	for _, id := range busy {
		inFlight[id] = true
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

// FlowHookSecretForHook returns the inbound hook secret of a flow and the
// flow's company, whatever the company: the public hook endpoint names
// the flow by id and has no token, and learns the company here.
func (s *Store) FlowHookSecretForHook(ctx context.Context, id uuid.UUID) (secret string, companyID uuid.UUID, err error) {
	err = s.db.QueryRow(ctx, `SELECT hook_secret, company_id FROM flows WHERE id = $1`, id).Scan(&secret, &companyID)
	if err == nil {
		secret, err = s.open(secret)
	}
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("get hook secret: %w", interpretError(err))
	}
	return secret, companyID, nil
}

// FlowRotateHookSecret replaces the inbound hook secret of a flow of the
// company.
func (s *Store) FlowRotateHookSecret(ctx context.Context, companyID, id uuid.UUID, secret string) error {
	if err := requireCompany("rotate hook secret", companyID); err != nil {
		return err
	}
	sealed, err := s.seal(secret)
	if err != nil {
		return fmt.Errorf("rotate hook secret: %w", err)
	}
	tag, err := s.db.Exec(ctx, `UPDATE flows SET hook_secret = $3, updated_at = now()
		WHERE id = $1 AND company_id = $2 AND deleted_at IS NULL`, id, companyID, sealed)
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
	// SecretNames are the names of its secret variables: a trigger value
	// for one of them is sealed too (SealVariables).
	SecretNames []string
}

// FlowRunInfo returns the run state of a flow of the company.
func (s *Store) FlowRunInfo(ctx context.Context, companyID, id uuid.UUID) (*FlowRunInfo, error) {
	if err := requireCompany("get flow run info", companyID); err != nil {
		return nil, err
	}
	var fi FlowRunInfo
	err := s.db.QueryRow(ctx, `SELECT company_id, status, is_template, version,
			ARRAY(SELECT v->>'name' FROM jsonb_array_elements(predefined_variables) v WHERE v->>'secret' = 'true')
		FROM flows WHERE id = $1 AND company_id = $2`, id, companyID).Scan(&fi.CompanyID, &fi.Status, &fi.IsTemplate, &fi.Version, &fi.SecretNames)
	if err != nil {
		return nil, interpretError(err)
	}
	return &fi, nil
}

// setSubscriptions replaces the rows of flow_event_subscriptions of a flow
// of the company with the patterns of in, in the transaction that saves
// the flow: a publish that follows the commit sees the new patterns at
// once. A template subscribes to nothing (it never runs); a stopped flow
// keeps its rows and is left out by the lookup (EventSubscribers), so
// that resuming it needs no write here.
func (s *Store) setSubscriptions(ctx context.Context, companyID, flowID uuid.UUID, in *flow.FlowInput) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM flow_event_subscriptions WHERE flow_id = $1`, flowID); err != nil {
		return fmt.Errorf("delete event subscriptions: %w", err)
	}
	if len(in.Events) == 0 || in.IsTemplate {
		return nil
	}
	_, err := s.db.Exec(ctx, `INSERT INTO flow_event_subscriptions (company_id, workspace_id, pattern, flow_id)
		SELECT $1, $2, p, $3 FROM unnest($4::text[]) AS p`, companyID, in.WorkspaceID, flowID, in.Events)
	if err != nil {
		return fmt.Errorf("insert event subscriptions: %w", err)
	}
	return nil
}

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

// inFlightFlowsQuery returns which of the flows $1 have an execution
// scheduled or in progress: one probe of executions_flow_status_created_idx
// per flow and status, stopping at the first entry, however many
// executions a flow has (TestInFlightFlowsIndexed).
const inFlightFlowsQuery = `SELECT ids.id FROM unnest($1::uuid[]) AS ids(id)
	WHERE EXISTS (SELECT 1 FROM executions e WHERE e.flow_id = ids.id AND e.status IN ('scheduled', 'in_progress'))`
