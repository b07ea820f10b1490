-- Retention of what came after migration 004 (README "Data lifecycle"):
-- events are pruned by creation time once none of their executions remain,
-- and tokens once expired (as well as once revoked) past the retention.
CREATE INDEX events_created_idx ON events (created_at);
CREATE INDEX api_tokens_expires_idx ON api_tokens (expires_at)
    WHERE expires_at IS NOT NULL;
