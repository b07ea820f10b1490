package telemetry

import (
	"context"
	"encoding/json"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// RiverMiddleware returns River's middleware for tracing, nil when off:
// River's own OpenTelemetry middleware (otelriver), which writes the
// inserting span's traceparent into the job's metadata and spans each
// insert and each run, preceded by continueTrace, which makes that
// traceparent the parent of the run, and followed by keepJobTrace, which
// gives each job of a batch its own caller's trace (JobMetadata). So the
// trace begun by the API request or the trigger goes on in whichever
// process runs the job, on every run of it: River's retries and snoozes
// keep the job's metadata.
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
		river.JobInsertMiddlewareFunc(keepJobTrace),
	}
}

// jobTraceKey is the metadata key under which JobMetadata carries a job's
// own trace context to keepJobTrace, which removes it.
const jobTraceKey = "flowd_trace"

// JobMetadata is the metadata of a job inserted in a batch on behalf of
// the span sc (nil when sc is not valid, as when tracing is off). One
// batch is one insert span (otelriver's river.insert_many), inserted
// under one context, and otelriver writes that span's traceparent into
// every job; with JobMetadata keepJobTrace makes each job continue its
// own caller's trace instead, and links the insert span to it.
func JobMetadata(sc trace.SpanContext) []byte {
	if !sc.IsValid() {
		return nil
	}
	carrier := propagation.MapCarrier{}
	Propagator.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	meta, err := json.Marshal(map[string]propagation.MapCarrier{jobTraceKey: carrier})
	if err != nil {
		return nil // a map of strings always encodes
	}
	return meta
}

// keepJobTrace runs inside otelriver's insert span. A job whose
// JobMetadata names the insert span's own trace keeps the insert span as
// its parent (its caller's span is the insert span's parent); a job of
// another trace gets its caller's trace context back, and the insert span
// a link to it.
func keepJobTrace(ctx context.Context, params []*rivertype.JobInsertParams, doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	insert := trace.SpanFromContext(ctx)
	for _, p := range params {
		var meta map[string]json.RawMessage
		if json.Unmarshal(p.Metadata, &meta) != nil || meta[jobTraceKey] == nil {
			continue
		}
		var carrier propagation.MapCarrier
		if json.Unmarshal(meta[jobTraceKey], &carrier) != nil {
			continue
		}
		delete(meta, jobTraceKey)
		sc := trace.SpanContextFromContext(Propagator.Extract(context.Background(), carrier))
		if sc.IsValid() && sc.TraceID() != insert.SpanContext().TraceID() {
			delete(meta, "tracestate") // the insert span's, if any
			for k, v := range carrier {
				meta[k], _ = json.Marshal(v) // a string always encodes
			}
			insert.AddLink(trace.Link{SpanContext: sc})
		}
		if b, err := json.Marshal(meta); err == nil {
			p.Metadata = b
		}
	}
	return doInner(ctx)
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
