// Package telemetry sets up flowd's OpenTelemetry traces. Everything is
// configured by the standard OTEL_* environment variables and nothing
// else: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// (OTLP over HTTP/protobuf) turns tracing on; OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* and
// OTEL_EXPORTER_OTLP_(TRACES_)HEADERS/TIMEOUT/COMPRESSION are read by the
// SDK as documented by OpenTelemetry. Without an endpoint (or with
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none) tracing is off: the
// tracer is the no-op one, no handler or River middleware is installed,
// and nothing is exported.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceNameDefault is service.name when OTEL_SERVICE_NAME is not set.
const ServiceNameDefault = "flowd"

// ScopeName names the tracer of flowd's own spans.
const ScopeName = "github.com/flowd/flowd"

// Propagator is the trace context format flowd reads from API requests and
// writes on outbound requests and River jobs: W3C traceparent/tracestate.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Tracing is the process's tracing: on (an SDK provider exporting over
// OTLP/HTTP) or off (the no-op tracer). The zero value is off.
type Tracing struct {
	provider *sdktrace.TracerProvider // nil when off
	tracer   trace.Tracer
}

// Config overrides what the environment says; the zero Config is the
// environment's (FromEnv).
type Config struct {
	// EndpointURL is the OTLP/HTTP traces URL (…/v1/traces). Empty means
	// the OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variables; tracing is off
	// when they are empty too.
	EndpointURL string
	// ServiceName is service.name when OTEL_SERVICE_NAME is not set;
	// default ServiceNameDefault.
	ServiceName string
}

// Enabled reports whether the environment turns tracing on.
func Enabled() bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") ||
		strings.EqualFold(os.Getenv("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// FromEnv returns the process's tracing as the OTEL_* variables say.
func FromEnv(ctx context.Context) (*Tracing, error) { return New(ctx, Config{}) }

// New returns tracing on when cfg or the environment names an endpoint,
// off otherwise. Shutdown must be called before the process exits, to
// export the spans still buffered.
func New(ctx context.Context, cfg Config) (*Tracing, error) {
	if cfg.EndpointURL == "" && !Enabled() {
		return Off(), nil
	}
	var opts []otlptracehttp.Option
	if cfg.EndpointURL != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(cfg.EndpointURL))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = ServiceNameDefault
	}
	// Later sources win: OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
	// override flowd's default name.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(name)),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	// The sampler is the SDK's default, which reads OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG (parentbased_always_on when unset); the batch
	// processor reads OTEL_BSP_*.
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
	)
	return &Tracing{provider: tp, tracer: tp.Tracer(ScopeName)}, nil
}

// Off returns tracing that is off.
func Off() *Tracing { return &Tracing{} }

// On reports whether spans are recorded and exported.
func (t *Tracing) On() bool { return t != nil && t.provider != nil }

// Tracer returns the tracer of flowd's spans: the no-op tracer when off.
func (t *Tracing) Tracer() trace.Tracer {
	if !t.On() {
		return noop.Tracer{}
	}
	return t.tracer
}

// TracerProvider returns the provider behind Tracer.
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if !t.On() {
		return noop.NewTracerProvider()
	}
	return t.provider
}

// ForceFlush exports the spans ended so far.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if !t.On() {
		return nil
	}
	return t.provider.ForceFlush(ctx)
}

// Shutdown exports what is buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.On() {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// EndSpan ends span, marking it failed with err's message when err is not
// nil. err must hold no secret: flowd's errors are redacted before they
// are returned.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
