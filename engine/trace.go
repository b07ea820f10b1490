package engine

import (
	"errors"
	"net/url"
	"strconv"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/redact"
	"github.com/flowd/flowd/telemetry"
)

// The attributes of flowd's spans beyond the semantic conventions.
const (
	attrExecutionID = attribute.Key("flowd.execution_id")
	attrFlowID      = attribute.Key("flowd.flow_id")
	attrStepNumber  = attribute.Key("flowd.step_number")
	attrAttempt     = attribute.Key("flowd.attempt")
	attrOutcome     = attribute.Key("flowd.outcome")
)

var defaultPorts = map[string]int{"http": 80, "https": 443}

// recordAttempt puts a finished attempt on its HTTP client span, after
// the semantic conventions: method, url.full, server address and port,
// status code, error.type; and flowd's execution, step and attempt. The URL
// is the one recorded on the attempt, whose secrets are already masked,
// masked once more by parameter name for the attempts that failed before
// templating. No header and no body is recorded.
func recordAttempt(span trace.Span, res *attemptResult) {
	rec := &res.rec
	full := redact.URL(rec.RequestURL, nil)
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(rec.RequestMethod),
		semconv.URLFull(full),
		attrExecutionID.String(rec.ExecutionID.String()),
		attrStepNumber.Int(rec.StepNumber),
		attrAttempt.Int(rec.Attempt),
		attrOutcome.String(rec.Outcome),
	}
	if rec.Attempt > 1 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(rec.Attempt-1))
	}
	if u, err := url.Parse(full); err == nil && u.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(u.Hostname()))
		if port, err := strconv.Atoi(u.Port()); err == nil {
			attrs = append(attrs, semconv.ServerPort(port))
		} else if p, ok := defaultPorts[u.Scheme]; ok {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	}
	if rec.ResponseStatus != nil {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(*rec.ResponseStatus))
	}
	if rec.Outcome != flow.OutcomeSuccess {
		errType := rec.Outcome
		if rec.ResponseStatus != nil && *rec.ResponseStatus >= 400 {
			errType = strconv.Itoa(*rec.ResponseStatus)
		}
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
		span.SetStatus(codes.Error, rec.Error) // masked like the stored record
	}
	span.SetAttributes(attrs...)
}

// endRun ends an execution run's span: a snooze (a step or the execution
// waits for its retry) is how a run hands back, not a failure.
func endRun(span trace.Span, r *run, err error) {
	if r != nil && span.IsRecording() {
		span.SetAttributes(attribute.String("flowd.execution.status", r.state.Status))
	}
	var snooze *river.JobSnoozeError
	if errors.As(err, &snooze) {
		span.SetAttributes(attribute.String("flowd.run.snooze", snooze.Duration.String()))
		err = nil
	}
	telemetry.EndSpan(span, err)
}
