package scheduler_test

import (
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
	"github.com/flowd/flowd/telemetry"
)

// TestTriggerBatchKeepsEachCallersTrace: triggers of three traces written
// in one batch (one InsertManyTx, one insert span) each put their own
// trace in their job's metadata, where the worker continues it: the batch
// runs in the first one's trace (its job's parent is River's insert span,
// a child of its trigger span), the others' jobs carry their trigger span
// itself. The metadata keeps no trace of how it was carried.
func TestTriggerBatchKeepsEachCallersTrace(t *testing.T) {
	t.Parallel()
	collector := flowdtest.NewTarget(t) // spans are exported there, not read
	tr, err := telemetry.New(context.Background(), telemetry.Config{EndpointURL: collector.URL + "/v1/traces"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	env := flowdtest.New(t, &flowdtest.Options{Scheduler: func(c *scheduler.Config) {
		c.Middleware, c.Tracer = tr.RiverMiddleware(), tr.Tracer()
	}})
	tenant := env.NewTenant(t)
	target := flowdtest.NewTarget(t)
	f := env.CreateFlow(t, tenant, oneStepFlow("traced", target.URL))

	spans := make([]trace.SpanContext, 3)
	reqs := make([]scheduler.TriggerRequest, len(spans))
	for i := range spans {
		_, span := tr.Tracer().Start(context.Background(), "caller")
		span.End()
		spans[i], reqs[i] = span.SpanContext(), scheduler.TriggerRequest{CompanyID: f.CompanyID, FlowID: f.ID}
	}
	got, err := env.Sched.WriteTriggerBatch(context.Background(), reqs, make([]*store.FlowRunInfo, len(reqs)), spans)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got.Execs {
		if !got.Created[i] || got.Errs[i] != nil {
			t.Fatalf("trigger %d: created %v, %v", i, got.Created[i], got.Errs[i])
		}
		var raw []byte
		if err := env.Pool.QueryRow(context.Background(), `SELECT metadata FROM river_job WHERE id = $1`, e.JobID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var meta map[string]any
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatal(err)
		}
		if _, ok := meta["flowd_trace"]; ok {
			t.Errorf("job %d metadata %s still holds flowd_trace", i, raw)
		}
		parent, _ := meta["traceparent"].(string)
		want := "00-" + spans[i].TraceID().String() + "-" + spans[i].SpanID().String() + "-01"
		if i == 0 {
			// River's insert span: the caller's trace, another span.
			if len(parent) != len(want) || parent[:36] != want[:36] || parent == want {
				t.Errorf("job %d traceparent %q, want the insert span in trace %s", i, parent, spans[i].TraceID())
			}
		} else if parent != want {
			t.Errorf("job %d traceparent %q, want its trigger's %q", i, parent, want)
		}
	}
}
