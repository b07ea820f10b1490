DROP TABLE IF EXISTS audit_log;
DROP INDEX IF EXISTS api_tokens_company_idx;
ALTER TABLE api_tokens
    DROP COLUMN IF EXISTS scope,
    DROP COLUMN IF EXISTS expires_at,
    DROP COLUMN IF EXISTS last_used_at;
