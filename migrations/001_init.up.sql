-- flowd's schema. River's own tables are created by rivermigrate before this.

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    company_id   uuid NOT NULL,
    user_id      uuid NOT NULL,
    name         text NOT NULL DEFAULT '',
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE flows (
    id                   uuid PRIMARY KEY,
    company_id           uuid NOT NULL,
    created_by           uuid NOT NULL,
    workspace_id         text NOT NULL,
    name                 text NOT NULL,
    logo                 text NOT NULL DEFAULT '',
    retry_delay          integer NOT NULL,
    retry_delay_unit     text NOT NULL,
    max_retries          integer NOT NULL,
    -- stored status: scheduled, running, stopped or deleted; in-progress
    -- and failed are derived from the executions when a flow is read.
    status               text NOT NULL,
    is_template          boolean NOT NULL DEFAULT false,
    flow_direction       text NOT NULL,
    flow_mapping         jsonb NOT NULL DEFAULT '{}',
    tag_name             text NOT NULL DEFAULT '',
    category_name        text NOT NULL DEFAULT '',
    predefined_variables jsonb NOT NULL DEFAULT '[]',
    variables            jsonb NOT NULL DEFAULT '[]',
    schedule             text,
    hook_secret          text NOT NULL,
    signing_secret       text,
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at           timestamptz
);

CREATE INDEX flows_company_workspace_idx ON flows (company_id, workspace_id, created_at, id)
    WHERE deleted_at IS NULL;
CREATE INDEX flows_schedule_idx ON flows (id)
    WHERE schedule IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE flow_steps (
    id                 uuid PRIMARY KEY,
    flow_id            uuid NOT NULL REFERENCES flows (id),
    step_number        integer NOT NULL,
    webhook_url        text NOT NULL,
    webhook_method     text NOT NULL,
    webhook_timeout    integer NOT NULL,
    retry_limit        integer NOT NULL,
    timeout            integer NOT NULL,
    webhook_url_params jsonb NOT NULL DEFAULT '{}',
    webhook_headers    jsonb NOT NULL DEFAULT '{}',
    webhook_body       jsonb,
    depends_on_step    integer,
    success_condition  jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz,
    UNIQUE (flow_id, step_number)
);

-- Immutable snapshots of a flow's definition; an execution runs the
-- version it was created with even if the flow is edited or deleted.
CREATE TABLE flow_versions (
    flow_id    uuid NOT NULL REFERENCES flows (id),
    version    integer NOT NULL,
    definition jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_id, version)
);

CREATE TABLE executions (
    id              uuid PRIMARY KEY,
    flow_id         uuid NOT NULL REFERENCES flows (id),
    company_id      uuid NOT NULL,
    flow_version    integer NOT NULL,
    status          text NOT NULL,
    attempt_number  integer NOT NULL DEFAULT 1,
    trigger         text NOT NULL,
    scheduled_for   timestamptz,
    idempotency_key text,
    payload         jsonb NOT NULL DEFAULT 'null',
    variables       jsonb NOT NULL DEFAULT '{}',
    steps           jsonb NOT NULL DEFAULT '{}',
    records         jsonb,
    job_id          bigint,
    error_message   text,
    executed_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    next_retry_at   timestamptz,
    finished_at     timestamptz
);

CREATE INDEX executions_flow_created_idx ON executions (flow_id, created_at DESC, id DESC);
CREATE INDEX executions_flow_status_created_idx ON executions (flow_id, status, created_at DESC, id DESC);
CREATE INDEX executions_in_flight_idx ON executions (flow_id)
    WHERE status IN ('scheduled', 'in_progress');
CREATE UNIQUE INDEX executions_idempotency_idx ON executions (flow_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX executions_slot_idx ON executions (flow_id, scheduled_for)
    WHERE scheduled_for IS NOT NULL;

CREATE TABLE step_attempts (
    id                 uuid PRIMARY KEY,
    execution_id       uuid NOT NULL REFERENCES executions (id),
    step_number        integer NOT NULL,
    attempt            integer NOT NULL,
    execution_attempt  integer NOT NULL,
    outcome            text NOT NULL,
    request_method     text NOT NULL,
    request_url        text NOT NULL,
    request_headers    jsonb NOT NULL DEFAULT '{}',
    request_body       text NOT NULL DEFAULT '',
    response_status    integer,
    response_headers   jsonb NOT NULL DEFAULT '{}',
    response_body      text NOT NULL DEFAULT '',
    response_truncated boolean NOT NULL DEFAULT false,
    duration_ms        bigint NOT NULL,
    error              text NOT NULL DEFAULT '',
    extracted          jsonb NOT NULL DEFAULT '{}',
    worker_id          text NOT NULL DEFAULT '',
    started_at         timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX step_attempts_execution_idx ON step_attempts (execution_id, step_number, started_at);
