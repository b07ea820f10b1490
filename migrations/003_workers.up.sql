-- One row per worker process (its River client id): when it started and
-- when it last said it was alive. A process whose heartbeat is older than
-- FLOWD_RESCUE_AFTER is dead, and the executions it was running are handed
-- to the living (scheduler/rescue.go). The rescuer finds running jobs
-- through River's own (state, queue, ...) index.
CREATE TABLE flowd_workers (
    client_id    text PRIMARY KEY,
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz NOT NULL DEFAULT now()
);
