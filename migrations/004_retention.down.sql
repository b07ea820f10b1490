ALTER TABLE step_attempts RESET (autovacuum_vacuum_scale_factor);
ALTER TABLE executions RESET (autovacuum_vacuum_scale_factor);
DROP INDEX IF EXISTS api_tokens_revoked_idx;
DROP INDEX IF EXISTS flows_deleted_idx;
DROP INDEX IF EXISTS executions_finished_idx;
