package telemetry

import (
	"context"
	"encoding/json"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/propagation"
)

// RiverMiddleware returns River's middleware for tracing, nil when off:
// River's own OpenTelemetry middleware (otelriver), which writes the
// inserting span's traceparent into the job's metadata and spans each
// insert and each run, preceded by continueTrace, which makes that
// traceparent the parent of the run. So the trace begun by the API request
// or the trigger goes on in whichever process runs the job, on every run
// of it: River's retries and snoozes keep the job's metadata.
func (t *Tracing) RiverMiddleware() []rivertype.Middleware {
	if !t.On() {
		return nil
	}
	return []rivertype.Middleware{
		river.WorkerMiddlewareFunc(continueTrace),
		otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			EnableTracePropagation: true,
			TracerProvider:         t.provider,
		}),
	}
}

// continueTrace puts the trace context stored in the job's metadata into
// the context the job runs with. otelriver itself only links its work span
// to the inserting span, which would start a new trace on every run.
func continueTrace(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var meta struct {
		TraceParent string `json:"traceparent"`
		TraceState  string `json:"tracestate"`
	}
	if len(job.Metadata) > 0 && json.Unmarshal(job.Metadata, &meta) == nil && meta.TraceParent != "" {
		ctx = Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": meta.TraceParent, "tracestate": meta.TraceState})
	}
	return doInner(ctx)
}
