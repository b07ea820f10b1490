-- Tracing (README "Tracing"): propagate_trace says whether a flow's
-- outbound requests carry the W3C traceparent and tracestate headers.
-- Existing flows keep the default, true. The trace context itself travels
-- in the River job's metadata, not in a column.
ALTER TABLE flows ADD COLUMN propagate_trace boolean NOT NULL DEFAULT true;
