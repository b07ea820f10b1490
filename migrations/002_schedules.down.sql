DROP INDEX IF EXISTS flows_schedule_due_idx;
ALTER TABLE flows
    DROP COLUMN IF EXISTS schedule_next_at,
    DROP COLUMN IF EXISTS schedule_armed_at;
