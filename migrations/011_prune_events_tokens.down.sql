DROP INDEX IF EXISTS api_tokens_expires_idx;
DROP INDEX IF EXISTS events_created_idx;
