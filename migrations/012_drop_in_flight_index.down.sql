CREATE INDEX IF NOT EXISTS executions_in_flight_idx ON executions (flow_id)
    WHERE status IN ('scheduled', 'in_progress');
