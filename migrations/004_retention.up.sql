-- Retention (package retention, README "Data lifecycle"): the pruner finds
-- finished executions by finished_at, oldest first, through this partial
-- index; running and scheduled executions are not in it, so it stays as
-- small as the finished rows and the pruner's lookup never reads a live row.
CREATE INDEX executions_finished_idx ON executions (finished_at)
    WHERE status IN ('success', 'failed', 'cancelled');

-- Soft-deleted flows, for the removal of those past retention.
CREATE INDEX flows_deleted_idx ON flows (deleted_at)
    WHERE deleted_at IS NOT NULL;

-- Revoked tokens, for their removal once past retention.
CREATE INDEX api_tokens_revoked_idx ON api_tokens (revoked_at)
    WHERE revoked_at IS NOT NULL;

-- The pruner deletes a small slice of these tables every cycle; vacuum
-- must make that space reusable soon, or the tables grow by the dead rows
-- between two vacuums. PostgreSQL's default waits until 20% of a table is
-- dead (six days of a 30-day retention); 2% keeps the dead share, and so
-- the bloat, near 2%.
ALTER TABLE executions SET (autovacuum_vacuum_scale_factor = 0.02);
ALTER TABLE step_attempts SET (autovacuum_vacuum_scale_factor = 0.02);
