-- Token scopes, expiry and last use; the audit trail (README "Secrets and
-- access"). Tokens made before scopes existed could do everything, so they
-- become admin.
ALTER TABLE api_tokens
    ADD COLUMN scope        text NOT NULL DEFAULT 'admin' CHECK (scope IN ('read', 'trigger', 'admin')),
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz;
ALTER TABLE api_tokens ALTER COLUMN scope DROP DEFAULT;

CREATE INDEX api_tokens_company_idx ON api_tokens (company_id, created_at DESC, id DESC);

-- One row per change, written in the change's own transaction. The actor
-- columns are null for changes made from the CLI (the operator holds no
-- token).
CREATE TABLE audit_log (
    id             uuid PRIMARY KEY,
    company_id     uuid NOT NULL,
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    action         text NOT NULL,
    target_type    text NOT NULL,
    target_id      uuid NOT NULL,
    actor_token_id uuid,
    actor_user_id  uuid,
    summary        text NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_company_at_idx ON audit_log (company_id, at DESC, id DESC);
CREATE INDEX audit_log_company_target_idx ON audit_log (company_id, target_id, at DESC, id DESC);
