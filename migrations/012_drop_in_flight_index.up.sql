-- executions_in_flight_idx (flow_id) WHERE status IN ('scheduled',
-- 'in_progress') served one query, "which of these flows have an execution
-- in flight" (the flows list), which executions_flow_status_created_idx
-- (flow_id, status, created_at, id) serves as well: an EXISTS per flow stops
-- at the first entry of (flow, scheduled) or (flow, in_progress). Every
-- execution paid for it twice, at its insert and at the update that starts
-- it (a status change is never a HOT update), on the busiest table.
DROP INDEX IF EXISTS executions_in_flight_idx;
