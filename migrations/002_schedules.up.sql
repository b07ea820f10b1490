-- Cron schedules: per-flow state of the schedule loop (scheduler/cron.go).
--
-- schedule_armed_at: slots strictly after this instant belong to the flow.
--   Set when the flow is created, when its schedule (or is_template) is
--   changed by an edit, and when it is resumed after a stop, so slots that
--   passed before that moment never run.
-- schedule_next_at: the next slot to run, computed by the loop from
--   schedule_armed_at (NULL: not computed yet) and advanced in the same
--   transaction that inserts the slot's execution. 'infinity' parks a
--   schedule that can no longer be parsed.
ALTER TABLE flows
    ADD COLUMN schedule_armed_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN schedule_next_at  timestamptz;

-- The loop's two queries (flows to arm: next IS NULL; flows due: next <=
-- now()) read only this small partial index.
CREATE INDEX flows_schedule_due_idx ON flows (schedule_next_at)
    WHERE schedule IS NOT NULL AND deleted_at IS NULL AND status <> 'stopped' AND NOT is_template;
