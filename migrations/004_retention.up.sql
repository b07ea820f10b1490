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
