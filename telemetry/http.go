package telemetry

import (
	"cmp"
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Handler wraps the API's root handler (outside its ServeMux) with a
// server span per request, following the HTTP semantic conventions. An
// incoming traceparent is continued, so the platform that calls flowd sees
// it inside its own trace. The span carries the method, the path (never
// the query string, which may hold a hook token), the route the mux
// matched and the status; no header is recorded. Off, h is returned as it
// is.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if !t.On() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		attrs := []attribute.KeyValue{
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPath(r.URL.Path),
			semconv.URLScheme(scheme),
		}
		if host, port, err := net.SplitHostPort(r.Host); err == nil {
			attrs = append(attrs, semconv.ServerAddress(host))
			if p, err := strconv.Atoi(port); err == nil {
				attrs = append(attrs, semconv.ServerPort(p))
			}
		}
		ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		r = r.WithContext(ctx)
		rec := &StatusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		// The ServeMux set r.Pattern ("POST /v1/webhooks/{id}/trigger") on
		// the request it was given: the low-cardinality span name.
		if r.Pattern != "" {
			span.SetName(r.Pattern)
			if _, route, ok := strings.Cut(r.Pattern, " "); ok {
				span.SetAttributes(semconv.HTTPRoute(route))
			}
		}
		status := rec.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// StatusRecorder remembers the status code a handler wrote; the request
// spans and the request metrics (package metrics) read it.
type StatusRecorder struct {
	http.ResponseWriter
	code int
}

// Status is the code written, 200 when the handler wrote none.
func (s *StatusRecorder) Status() int { return cmp.Or(s.code, http.StatusOK) }

func (s *StatusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
