DROP INDEX IF EXISTS api_tokens_revoked_idx;
DROP INDEX IF EXISTS flows_deleted_idx;
DROP INDEX IF EXISTS executions_finished_idx;
