package telemetry_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/flowd/flowd/internal/tabletest"
	"github.com/flowd/flowd/telemetry"
)

// TestEnabledFromEnv: an endpoint variable turns tracing on, the SDK's own
// switches turn it off again.
func TestEnabledFromEnv(t *testing.T) {
	// t.Setenv: not parallel.
	cases := []tabletest.Case[map[string]string, bool]{
		{Name: "nothing set", In: map[string]string{}, Want: false},
		{Name: "endpoint", In: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, Want: true},
		{Name: "traces endpoint", In: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, Want: true},
		{Name: "sdk disabled", In: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "TRUE"}, Want: false},
		{Name: "exporter none", In: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, Want: false},
	}
	for _, c := range cases {
		for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER"} {
			t.Setenv(k, c.In[k])
		}
		if got := telemetry.Enabled(); got != c.Want {
			t.Errorf("%s: Enabled() = %v, want %v", c.Name, got, c.Want)
		}
		tr, err := telemetry.FromEnv(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if tr.On() != c.Want {
			t.Errorf("%s: On() = %v, want %v", c.Name, tr.On(), c.Want)
		}
		_ = tr.Shutdown(context.Background())
	}
}

// TestOffCostsNothing: off, the API handler is the one given, River gets
// no middleware and the tracer records nothing; a nil Tracing is off too.
func TestOffCostsNothing(t *testing.T) {
	t.Parallel()
	for _, tr := range []*telemetry.Tracing{telemetry.Off(), nil} {
		called := false
		h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
		tr.Handler(h).ServeHTTP(nil, nil)
		if !called {
			t.Errorf("Handler of tracing off is not the handler given")
		}
		if mw := tr.RiverMiddleware(); mw != nil {
			t.Errorf("RiverMiddleware of tracing off: %d middlewares, want none", len(mw))
		}
		_, span := tr.Tracer().Start(context.Background(), "x")
		if span.IsRecording() || span.SpanContext().IsValid() {
			t.Errorf("tracer of tracing off records spans")
		}
		if tr.TracerProvider() == nil || tr.ForceFlush(context.Background()) != nil || tr.Shutdown(context.Background()) != nil {
			t.Errorf("tracing off: provider, flush and shutdown must be no-ops")
		}
	}
}
