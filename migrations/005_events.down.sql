DROP INDEX IF EXISTS executions_event_idx;
ALTER TABLE executions DROP COLUMN IF EXISTS event_id;
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS flow_event_subscriptions;
ALTER TABLE flows DROP COLUMN IF EXISTS event_filter, DROP COLUMN IF EXISTS events;
