package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/netguard"
	"github.com/flowd/flowd/redact"
	"github.com/flowd/flowd/telemetry"
)

// attemptResult is what one HTTP attempt of a step produced.
type attemptResult struct {
	step       int
	rec        flow.StepAttempt
	ok         bool
	permanent  bool // retrying cannot help (blocked address, unknown variable)
	cancelled  bool // the execution was cancelled or the worker stopped
	extracted  map[string]any
	reason     string
	retryAfter time.Duration
	body       []byte // the response body as read (for flow_mapping.records)
}

// bodyMethods are the methods whose requests carry the JSON body.
var bodyMethods = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// sendStep is send inside an HTTP client span (recordAttempt fills it).
func (w *Worker) sendStep(ctx context.Context, ps *flow.PlannedStep, vars map[string]any, execID uuid.UUID,
	attempt int, signingSecrets []string, propagateTrace bool, deadline time.Time, mask *redact.Masker) attemptResult {
	ctx, span := w.tracer.Start(ctx, ps.Step.WebhookMethod, trace.WithSpanKind(trace.SpanKindClient))
	res := w.send(ctx, ps, vars, execID, attempt, signingSecrets, propagateTrace, deadline, mask)
	if span.IsRecording() {
		recordAttempt(span, &res)
	}
	span.End()
	return res
}

// send renders a step with vars, sends it, checks its success condition
// and extracts its variables. It never returns an error: every failure is
// described in the result. What it records passes through mask (the
// execution's secrets, see run.masker).
func (w *Worker) send(ctx context.Context, ps *flow.PlannedStep, vars map[string]any, execID uuid.UUID,
	attempt int, signingSecrets []string, propagateTrace bool, deadline time.Time, mask *redact.Masker) attemptResult {

	st := ps.Step
	res := attemptResult{step: st.StepNumber}
	started := time.Now()
	res.rec = flow.StepAttempt{
		ID:            flow.NewID(),
		ExecutionID:   execID,
		StepNumber:    st.StepNumber,
		Attempt:       attempt,
		RequestMethod: st.WebhookMethod,
		RequestURL:    st.WebhookURL,
		WorkerID:      w.cfg.WorkerID,
		StartedAt:     started,
	}
	fail := func(permanent bool, format string, args ...any) attemptResult {
		res.permanent = permanent
		res.reason = fmt.Sprintf(format, args...)
		res.rec.Error = mask.String(res.reason)
		res.rec.Outcome = flow.OutcomeFailed
		res.rec.DurationMS = time.Since(started).Milliseconds()
		return res
	}

	target, err := flow.RenderURL(st.WebhookURL, vars)
	if err != nil {
		return fail(true, "render webhook_url: %v", err)
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail(true, "webhook_url %q is not an absolute http(s) URL after templating", mask.URL(target))
	}
	params, err := flow.RenderParams(st.WebhookURLParams, vars)
	if err != nil {
		return fail(true, "render webhook_url_params: %v", err)
	}
	if len(params) > 0 {
		q := u.Query()
		for k, vs := range params {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	headers, err := flow.RenderHeaders(st.WebhookHeaders, vars)
	if err != nil {
		return fail(true, "render webhook_headers: %v", err)
	}
	var body []byte
	if bodyMethods[st.WebhookMethod] && len(st.WebhookBody) > 0 && string(st.WebhookBody) != "null" {
		rendered, err := flow.RenderJSON(st.WebhookBody, vars)
		if err != nil {
			return fail(true, "render webhook_body: %v", err)
		}
		body = rendered
	}
	res.rec.RequestURL = truncateBody(mask.URL(u.String()), w.cfg.MaxStoredBytes)
	res.rec.RequestBody = truncateBody(string(mask.JSON(body)), w.cfg.MaxStoredBytes)

	reqCtx, cancel := context.WithDeadline(ctx, minTime(started.Add(time.Duration(st.WebhookTimeout)*time.Second), deadline))
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, st.WebhookMethod, u.String(), bytes.NewReader(body))
	if err != nil {
		return fail(true, "build request: %v", err)
	}
	if body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	idemKey := fmt.Sprintf("%s:%d", execID, st.StepNumber)
	req.Header.Set("Idempotency-Key", idemKey)
	req.Header.Set("User-Agent", w.cfg.UserAgent)
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if len(signingSecrets) > 0 {
		signRequest(req.Header, signingSecrets, idemKey, started, body)
	}
	if propagateTrace {
		// W3C traceparent/tracestate of the attempt's span (nothing when
		// tracing is off), so that the receiver can join the trace.
		telemetry.Propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	}
	res.rec.RequestHeaders = recordHeaders(req.Header, mask)

	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		res.cancelled = true
		return fail(false, "not sent: %v", context.Cause(ctx))
	}
	w.obs.StepsInFlight(1)
	resp, err := w.cfg.HTTPClient.Do(req)
	if err != nil {
		<-w.sem
		w.obs.StepsInFlight(-1)
		switch {
		case ctx.Err() != nil:
			res.cancelled = true
			return fail(false, "aborted: %v", context.Cause(ctx))
		case netguard.IsBlocked(err):
			return fail(true, "%v", unwrapURLError(err))
		case errors.Is(err, context.DeadlineExceeded) || reqCtx.Err() != nil:
			if !deadline.After(time.Now()) {
				return fail(true, "step timeout of %ds exceeded", st.Timeout)
			}
			return fail(false, "request timed out after %ds (webhook_timeout)", st.WebhookTimeout)
		default:
			return fail(false, "send request: %v", unwrapURLError(err))
		}
	}
	respBody, truncated, readErr := readCapped(resp.Body, w.cfg.MaxResponseBytes)
	resp.Body.Close()
	<-w.sem
	w.obs.StepsInFlight(-1)
	duration := time.Since(started)
	res.rec.DurationMS = duration.Milliseconds()
	status := resp.StatusCode
	res.body = respBody
	res.rec.ResponseStatus = &status
	res.rec.ResponseHeaders = recordHeaders(resp.Header, mask)
	res.rec.ResponseBody = truncateBody(string(mask.JSON(respBody)), w.cfg.MaxStoredBytes)
	res.rec.ResponseTruncated = truncated || len(respBody) > w.cfg.MaxStoredBytes
	if readErr != nil {
		if ctx.Err() != nil {
			res.cancelled = true
			return failAfter(&res, fmt.Sprintf("aborted: %v", context.Cause(ctx)), mask)
		}
		if reqCtx.Err() != nil {
			return failAfter(&res, fmt.Sprintf("reading the response timed out after %ds (webhook_timeout)", st.WebhookTimeout), mask)
		}
		return failAfter(&res, fmt.Sprintf("read response: %v", readErr), mask)
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}

	r := &flow.Response{Status: status, Headers: lowerHeaders(resp.Header), Body: respBody, DurationMS: duration.Milliseconds()}
	ok, reason, err := ps.Condition.Evaluate(r, vars)
	if err != nil {
		return failAfter(&res, fmt.Sprintf("success_condition: %v", err), mask)
	}
	if !ok {
		return failAfter(&res, "success_condition not met: "+reason, mask)
	}
	extracted, err := flow.Extract(ps.Extract, r)
	if err != nil {
		return failAfter(&res, fmt.Sprintf("extract: %v", err), mask)
	}
	res.ok = true
	res.extracted = extracted
	res.rec.Outcome = flow.OutcomeSuccess
	if len(extracted) > 0 {
		b, _ := json.Marshal(redact.Vars(extracted))
		res.rec.Extracted = b
	}
	return res
}

// StoredHeaderValueBytes bounds each header value stored on an attempt
// (the definition's own limit on a header value): a value rendered from a
// large variable is sent whole but stored cut, so an attempt row stays
// bounded (README "Size limits").
const StoredHeaderValueBytes = 8 << 10

// recordHeaders returns headers as stored on an attempt: sensitive headers
// masked by name, secret variable values masked wherever they appear (a
// token sent in a header of a harmless name), each value cut at
// StoredHeaderValueBytes.
func recordHeaders(h http.Header, mask *redact.Masker) map[string]string {
	out := redact.HTTPHeader(h)
	for k, v := range out {
		out[k] = truncateBody(mask.String(v), StoredHeaderValueBytes)
	}
	return out
}

func failAfter(res *attemptResult, reason string, mask *redact.Masker) attemptResult {
	res.reason = reason
	res.rec.Error = mask.String(reason)
	res.rec.Outcome = flow.OutcomeFailed
	return *res
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func minTime(a, b time.Time) time.Time {
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}

// truncateBody cuts a stored body to at most n bytes on a rune boundary.
func truncateBody(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// readCapped reads at most limit bytes of r and reports whether more were
// left; it drains a bounded remainder so the connection can be reused.
func readCapped(r io.Reader, limit int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, false, err
	}
	if int64(len(b)) > limit {
		_, _ = io.CopyN(io.Discard, r, 4*limit)
		return b[:limit], true, nil
	}
	return b, false, nil
}

func lowerHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return out
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// signRequest adds Standard Webhooks headers: webhook-id (the idempotency
// key), webhook-timestamp and webhook-signature: one signature per secret,
// space-separated (flow.SignAll), the current secret's first.
func signRequest(h http.Header, secrets []string, msgID string, now time.Time, body []byte) {
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", flow.SignAll(secrets, msgID, ts, body))
}
