package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
)

// Defaults and bounds of inbound hooks.
const (
	// HookRateLimitDefault and HookRateBurstDefault bound each flow's
	// accepted hook calls (token bucket per flow); over the limit answers
	// 429.
	HookRateLimitDefault = 50 // calls per second per flow
	HookRateBurstDefault = 100
	// HookTimestampTolerance is how far a signed call's webhook-timestamp
	// may be from the server's clock, either way.
	HookTimestampTolerance = 5 * time.Minute
	// hookIdempotencyPrefix keeps hook delivery ids apart from the
	// Idempotency-Keys of manual triggers of the same flow.
	hookIdempotencyPrefix = "hook:"
	// hookLimitersMax bounds the per-flow limiters kept in memory.
	hookLimitersMax = 10000
)

// hookAuthError is a 401 of the hook endpoint; field names the credential
// at fault. Neither depends on whether the flow exists.
type hookAuthError struct{ msg, field string }

func (e *hookAuthError) Error() string { return e.msg }
func (e *hookAuthError) Unwrap() error { return errUnauthorized }

const hookBadSecretMsg = "invalid hook token or signature"

var (
	errHookNoSecret     = &hookAuthError{"hook secret missing: pass ?token=<hook secret> or sign the request (webhook-id, webhook-timestamp, webhook-signature headers)", "token"}
	errHookBadToken     = &hookAuthError{hookBadSecretMsg, "token"}
	errHookBadSignature = &hookAuthError{hookBadSecretMsg, "webhook-signature"}
	errHookSigHeaders   = &hookAuthError{"a signed hook call needs the webhook-id, webhook-timestamp and webhook-signature headers", "webhook-signature"}
	errHookStaleRequest = &hookAuthError{fmt.Sprintf("webhook-timestamp must be Unix seconds within %s of the server's clock", HookTimestampTolerance), "webhook-timestamp"}
)

// hookLimiters holds one token bucket per flow that has received an
// authenticated hook call. When it holds hookLimitersMax flows it starts
// afresh (idle flows' buckets are full anyway).
type hookLimiters struct {
	mu sync.Mutex
	m  map[uuid.UUID]*rate.Limiter
}

func (h *hookLimiters) allow(flowID uuid.UUID, limit float64, burst int) bool {
	if limit < 0 {
		return true
	}
	h.mu.Lock()
	lim, ok := h.m[flowID]
	if !ok {
		if h.m == nil || len(h.m) >= hookLimitersMax {
			h.m = map[uuid.UUID]*rate.Limiter{}
		}
		lim = rate.NewLimiter(rate.Limit(limit), burst)
		h.m[flowID] = lim
	}
	h.mu.Unlock()
	return lim.Allow()
}

// hookAccepted is the answer of the hook endpoint: only what the caller
// needs to follow up, never the execution's data.
type hookAccepted struct {
	ExecutionID uuid.UUID `json:"execution_id"`
	FlowID      uuid.UUID `json:"flow_id"`
	Status      string    `json:"status"`
	// Duplicate is true when this delivery id was seen before; the
	// execution is the first delivery's.
	Duplicate bool `json:"duplicate"`
}

// hookCredentials is how a hook call proves it knows the flow's secret.
type hookCredentials struct {
	token                 string
	msgID, timestamp, sig string
}

// hookCredentialsFrom reads ?token= or the Standard Webhooks headers, and
// refuses a signed call whose timestamp is too far from now. It runs
// before the flow is looked up, so its answers say nothing about the flow.
func hookCredentialsFrom(r *http.Request, now time.Time) (*hookCredentials, error) {
	c := &hookCredentials{
		// A secret never holds a space; a '+' sent unencoded in the query
		// string arrives as one.
		token:     strings.ReplaceAll(r.URL.Query().Get("token"), " ", "+"),
		msgID:     r.Header.Get("webhook-id"),
		timestamp: r.Header.Get("webhook-timestamp"),
		sig:       r.Header.Get("webhook-signature"),
	}
	if c.token != "" {
		return c, nil
	}
	if c.sig == "" && c.msgID == "" && c.timestamp == "" {
		return nil, errHookNoSecret
	}
	if c.sig == "" || c.msgID == "" || c.timestamp == "" {
		return nil, errHookSigHeaders
	}
	ts, err := strconv.ParseInt(c.timestamp, 10, 64)
	if err != nil {
		return nil, errHookStaleRequest
	}
	if d := now.Sub(time.Unix(ts, 0)); d > HookTimestampTolerance || d < -HookTimestampTolerance {
		return nil, errHookStaleRequest
	}
	return c, nil
}

// refused is the 401 of credentials that do not prove the flow's secret
// (or name no flow): the same message either way.
func (c *hookCredentials) refused() error {
	if c.token != "" {
		return errHookBadToken
	}
	return errHookBadSignature
}

// verify reports whether the credentials prove secret, in constant time.
func (c *hookCredentials) verify(secret string, body []byte) bool {
	if c.token != "" {
		// Hashing first makes the comparison independent of the lengths.
		a, b := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(c.token))
		return hmac.Equal(a[:], b[:])
	}
	return flow.VerifySignature(secret, c.msgID, c.timestamp, body, c.sig)
}

// POST /v1/hooks/{flow_id}: public; the flow's hook secret authenticates.
func (s *Server) hookReceive(w http.ResponseWriter, r *http.Request) error {
	creds, err := hookCredentialsFrom(r, time.Now())
	if err != nil {
		return err
	}
	body, err := readBody(r) // bounded by MaxBodyBytes: 413
	if err != nil {
		return err
	}
	flowID, err := uuid.Parse(r.PathValue("flow_id"))
	if err != nil {
		return creds.refused() // like an unknown flow
	}
	secret, companyID, err := s.store.FlowHookSecretForHook(r.Context(), flowID)
	if errors.Is(err, store.ErrNotFound) {
		return creds.refused()
	}
	if err != nil {
		return fmt.Errorf("get hook secret of flow %s: %w", flowID, err)
	}
	if !creds.verify(secret, body) {
		return creds.refused()
	}
	if !s.hookLimits.allow(flowID, s.cfg.HookRateLimit, s.cfg.HookRateBurst) {
		w.Header().Set("Retry-After", "1")
		return errHookRateLimited
	}
	var payload json.RawMessage
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 {
		if !json.Valid(trimmed) {
			return fmt.Errorf("%w: the hook body must be JSON", flow.ErrMalformedJSON)
		}
		checked, fe := flow.CheckJSONValue("body", trimmed)
		if fe != nil {
			return &flow.ValidationError{Errors: fe}
		}
		payload = checked
	}
	key := creds.msgID
	field := "webhook-id"
	if key == "" {
		key, field = r.Header.Get("Idempotency-Key"), "Idempotency-Key"
	}
	if len(key) > MaxIdempotencyKeyLen {
		return badRequest(field, "at most %d characters", MaxIdempotencyKeyLen)
	}
	if key != "" {
		key = hookIdempotencyPrefix + key
	}
	exec, created, err := s.sched.Trigger(r.Context(), scheduler.TriggerRequest{
		CompanyID:      companyID,
		FlowID:         flowID,
		Payload:        payload,
		IdempotencyKey: key,
		Trigger:        flow.TriggerHook,
	})
	if err != nil {
		return err
	}
	writeAccepted(w, created, "execution scheduled", "delivery already received; execution of the first delivery", hookAccepted{
		ExecutionID: exec.ID, FlowID: flowID, Status: exec.Status, Duplicate: !created,
	})
	return nil
}

// hookSecret is the answer of the rotate endpoint (the secret is shown
// this once).
type hookSecret struct {
	FlowID     uuid.UUID `json:"flow_id"`
	HookSecret string    `json:"hook_secret"`
	HookPath   string    `json:"hook_path"`
}

// POST /v1/webhooks/{id}/hook-secret: replace the flow's hook secret.
func (s *Server) hookSecretRotate(w http.ResponseWriter, r *http.Request) error {
	id, p, err := s.editableFlow(r)
	if err != nil {
		return err
	}
	secret := NewSecret()
	_, err = audited(s, r, func(tx *store.Store) (struct{}, note, error) {
		if err := tx.FlowRotateHookSecret(r.Context(), p.CompanyID, id, secret); err != nil {
			return struct{}{}, note{}, err
		}
		return struct{}{}, note{action: store.AuditFlowHookSecretRotate, targetType: store.AuditTargetFlow, targetID: id,
			summary: "inbound hook secret rotated; the previous one no longer works"}, nil
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "hook secret rotated", "flow_id", id, "company_id", p.CompanyID)
	writeOK(w, http.StatusOK, "hook secret rotated; the previous secret no longer works", hookSecret{
		FlowID: id, HookSecret: secret, HookPath: "/v1/hooks/" + id.String(),
	})
	return nil
}
