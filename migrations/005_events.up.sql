-- Events (README "Events"): flows subscribe to event types; a published
-- event starts every subscribed flow in one transaction.

-- What a flow subscribes to, as the flow answers it.
ALTER TABLE flows
    ADD COLUMN events       text[] NOT NULL DEFAULT '{}',
    ADD COLUMN event_filter text;

-- The same subscriptions as rows, for the publisher's indexed lookup: an
-- event of type "call.recording.ready" looks up the patterns that match it
-- ("call.recording.ready", "call.recording.*", "call.*", "*") by equality
-- on the primary key, never scanning the company's flows. Kept by the
-- flow's own create, update and delete transactions (store/flows.go);
-- templates and deleted flows have no rows, and the lookup joins flows to
-- leave out stopped ones.
CREATE TABLE flow_event_subscriptions (
    company_id   uuid NOT NULL,
    workspace_id text NOT NULL,
    pattern      text NOT NULL,
    flow_id      uuid NOT NULL REFERENCES flows (id),
    PRIMARY KEY (company_id, workspace_id, pattern, flow_id)
);
CREATE INDEX flow_event_subscriptions_flow_idx ON flow_event_subscriptions (flow_id);

CREATE TABLE events (
    id              uuid PRIMARY KEY,
    company_id      uuid NOT NULL,
    workspace_id    text NOT NULL,
    type            text NOT NULL,
    data            jsonb NOT NULL DEFAULT 'null',
    idempotency_key text,
    -- [{"flow_id", "message"}]: subscribed flows whose filter failed
    filter_errors   jsonb NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL
);
CREATE INDEX events_company_created_idx ON events (company_id, created_at DESC, id DESC);
CREATE INDEX events_company_type_created_idx ON events (company_id, type, created_at DESC, id DESC);
CREATE UNIQUE INDEX events_idempotency_idx ON events (company_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE executions ADD COLUMN event_id uuid REFERENCES events (id);
CREATE INDEX executions_event_idx ON executions (event_id) WHERE event_id IS NOT NULL;
