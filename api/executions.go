package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/keyring"
	"github.com/flowd/flowd/redact"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
)

// Bounds of the execution list.
const (
	ExecutionListLimitDefault = 20
	ExecutionListLimitMax     = 200
	// MaxIdempotencyKeyLen bounds Idempotency-Key headers.
	MaxIdempotencyKeyLen = 255
)

// triggerRequest is the optional body of a trigger.
type triggerRequest struct {
	Variables json.RawMessage `json:"variables"`
	Payload   json.RawMessage `json:"payload"`
}

// decodeTrigger checks a trigger body: an object whose `variables` is an
// object and whose `payload` is any JSON value.
func decodeTrigger(body []byte) (*triggerRequest, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: the body is not valid UTF-8", flow.ErrMalformedJSON)
	}
	var req triggerRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	if v := bytes.TrimSpace(req.Variables); len(v) > 0 && string(v) != "null" && v[0] != '{' {
		return nil, &flow.ValidationError{Errors: []flow.FieldError{{Field: "variables", Message: "must be an object"}}}
	}
	// Variables and payload are stored as given: nothing PostgreSQL or the
	// engine cannot hold (NUL characters, numbers beyond float64).
	var errs []flow.FieldError
	var fe []flow.FieldError
	req.Variables, fe = flow.CheckJSONValue("variables", req.Variables)
	errs = append(errs, fe...)
	req.Payload, fe = flow.CheckJSONValue("payload", req.Payload)
	errs = append(errs, fe...)
	if len(errs) > 0 {
		return nil, &flow.ValidationError{Errors: errs}
	}
	return &req, nil
}

// idempotencyKey returns the request's Idempotency-Key header ("" when
// absent) and refuses one that cannot be stored and shown as text: too
// long, not UTF-8, or holding control characters.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > MaxIdempotencyKeyLen {
		return "", badRequest("Idempotency-Key", "at most %d characters", MaxIdempotencyKeyLen)
	}
	if !utf8.ValidString(key) || strings.ContainsFunc(key, unicode.IsControl) {
		return "", badRequest("Idempotency-Key", "must be printable UTF-8 text")
	}
	return key, nil
}

// readIdempotent reads the body of a POST that starts executions (trigger,
// publish), checks it with decode, and returns it with the request's
// Idempotency-Key.
func readIdempotent[T any](r *http.Request, decode func([]byte) (*T, error)) (*T, string, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, "", err
	}
	req, err := decode(body)
	if err != nil {
		return nil, "", err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return nil, "", err
	}
	return req, key, nil
}

// POST /v1/webhooks/{id}/trigger
func (s *Server) flowTrigger(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	req, key, err := readIdempotent(r, decodeTrigger)
	if err != nil {
		return err
	}
	exec, created, err := s.sched.Trigger(r.Context(), scheduler.TriggerRequest{
		CompanyID:      p.CompanyID,
		FlowID:         id,
		Variables:      req.Variables,
		Payload:        req.Payload,
		IdempotencyKey: key,
		Trigger:        flow.TriggerManual,
	})
	if err != nil {
		return err
	}
	redactExecution(exec)
	writeAccepted(w, created, "execution scheduled", "execution already exists for this Idempotency-Key", exec)
	return nil
}

// GET /v1/webhooks/{id}/executions?limit=&cursor=&status=
func (s *Server) executionList(w http.ResponseWriter, r *http.Request) error {
	id, p, _, err := s.pathFlow(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := queryLimit(q.Get("limit"), ExecutionListLimitDefault, ExecutionListLimitMax)
	if err != nil {
		return err
	}
	status := strings.ToLower(q.Get("status")) // enums: any case on input
	switch status {
	case "", flow.ExecutionStatusScheduled, flow.ExecutionStatusInProgress, flow.ExecutionStatusSuccess,
		flow.ExecutionStatusFailed, flow.ExecutionStatusCancelled:
	default:
		return badRequest("status", "must be one of scheduled, in_progress, success, failed, cancelled")
	}
	after, err := queryCursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	list, next, err := s.store.ExecutionListByFlow(r.Context(), p.CompanyID, id, status, limit, after)
	if err != nil {
		return err
	}
	if list == nil {
		list = []*flow.Execution{}
	}
	for _, e := range list {
		redactExecution(e)
	}
	writePage(w, fmt.Sprintf("%d executions", len(list)), list, next)
	return nil
}

// queryLimit reads a limit query parameter: def when absent, else an
// integer from 1 to max.
func queryLimit(v string, def, max int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("limit", "must be an integer from 1 to %d", max)
	}
	return n, nil
}

// queryCursor reads a cursor query parameter; nil when absent.
func queryCursor(v string) (*store.ExecutionCursor, error) {
	if v == "" {
		return nil, nil
	}
	return store.DecodeExecutionCursor(v)
}

// writePage answers 200 with one page of a list and the cursor of the
// next page, if any.
func writePage(w http.ResponseWriter, msg string, list any, next *store.ExecutionCursor) {
	env := envelope{Status: "ok", Message: msg, Data: list}
	if next != nil {
		c := next.Encode()
		env.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, env)
}

// GET /v1/executions/{id}
func (s *Server) executionGet(w http.ResponseWriter, r *http.Request) error {
	return onID(w, r, http.StatusOK, "execution", func(ctx context.Context, companyID, id uuid.UUID) (*flow.Execution, error) {
		e, err := s.store.ExecutionGet(ctx, companyID, id)
		if err != nil {
			return nil, err
		}
		e.Attempts, err = s.store.StepAttemptListByExecution(ctx, companyID, e.ID)
		if err != nil {
			return nil, err
		}
		redactExecution(e)
		return e, nil
	})
}

// POST /v1/executions/{id}/cancel
func (s *Server) executionCancel(w http.ResponseWriter, r *http.Request) error {
	return s.executionAction(w, r, http.StatusOK, "execution cancelled", store.AuditExecutionCancel, s.sched.Cancel)
}

// POST /v1/executions/{id}/retry
func (s *Server) executionRetry(w http.ResponseWriter, r *http.Request) error {
	return s.executionAction(w, r, http.StatusAccepted, "execution scheduled for retry", store.AuditExecutionRetry, s.sched.Retry)
}

// executionAction runs an audited action on the execution the path names
// and answers it with redactExecution applied.
func (s *Server) executionAction(w http.ResponseWriter, r *http.Request, code int, msg, action string,
	act func(ctx context.Context, tx *store.Store, companyID, id uuid.UUID) (*flow.Execution, error)) error {
	return auditedOnID(s, w, r, code, msg, func(ctx context.Context, tx *store.Store, companyID, id uuid.UUID) (*flow.Execution, note, error) {
		e, err := act(ctx, tx, companyID, id)
		if err != nil {
			return nil, note{}, err
		}
		summary := fmt.Sprintf("execution of flow %s: %s, attempt %d", e.FlowID, msg, e.AttemptNumber)
		redactExecution(e)
		return e, note{action: action, targetType: store.AuditTargetExecution, targetID: e.ID, summary: summary}, nil
	})
}

// redactExecution masks, in an execution about to be shown, the values of
// sensitive variables (see redact.SensitiveName) given at trigger time or
// extracted by its steps, and shows the trigger values of secret variables
// (sealed at rest: store.SealVariables) as {"value": null, "secret": true}.
// The stored execution keeps them: later steps and retries need them. Step
// attempts are masked when they are recorded.
func redactExecution(e *flow.Execution) {
	if len(e.Variables) > 0 {
		// The sealed values are found before redact.JSON, which masks a
		// sensitive name's value (api_key: a sealed value no longer); they
		// are shown after it, which would mask the key "secret".
		sealed := sealedNames(e.Variables)
		e.Variables = showSecrets(redact.JSON(e.Variables, nil), sealed)
	}
	for _, st := range e.Steps {
		if st != nil && len(st.Vars) > 0 {
			st.Vars = redact.JSON(st.Vars, nil)
		}
	}
}

// secretShown is how an answer shows a secret's value.
var secretShown = json.RawMessage(`{"value":null,"secret":true}`)

// sealedNames returns the names of the trigger variables whose values
// are sealed (secrets).
func sealedNames(vars json.RawMessage) []string {
	if !bytes.Contains(vars, []byte(keyring.Prefix)) {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(vars, &m) != nil {
		return nil
	}
	var names []string
	for name, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil && keyring.IsSealed(s) {
			names = append(names, name)
		}
	}
	return names
}

// showSecrets replaces the values of names in vars by secretShown.
func showSecrets(vars json.RawMessage, names []string) json.RawMessage {
	if len(names) == 0 {
		return vars
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(vars, &m) != nil {
		return vars
	}
	for _, name := range names {
		m[name] = secretShown
	}
	out, err := json.Marshal(m)
	if err != nil {
		return vars
	}
	return out
}
