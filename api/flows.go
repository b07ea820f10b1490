package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// pathID parses the {id} path value; a malformed id is a 404 like an
// unknown one.
func pathID(r *http.Request) (uuid.UUID, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: id %q is not a UUID", store.ErrNotFound, r.PathValue("id"))
	}
	return id, nil
}

// pathFlow returns the {id} of a request about a flow of the caller's
// company, the caller and the flow's run info: another company's or an
// unknown flow is a 404.
func (s *Server) pathFlow(r *http.Request) (uuid.UUID, *auth.Principal, *store.FlowRunInfo, error) {
	id, err := pathID(r)
	if err != nil {
		return uuid.Nil, nil, nil, err
	}
	p := principalFrom(r.Context())
	info, err := s.store.FlowRunInfo(r.Context(), p.CompanyID, id)
	if err != nil {
		return uuid.Nil, nil, nil, err
	}
	return id, p, info, nil
}

// editableFlow is pathFlow for a request acting on a flow that may still
// change: a deleted one is a 409.
func (s *Server) editableFlow(r *http.Request) (uuid.UUID, *auth.Principal, error) {
	id, p, info, err := s.pathFlow(r)
	if err != nil {
		return uuid.Nil, nil, err
	}
	return id, p, flow.CheckEdit(info.Status)
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// readStrict reads the body and decodes it into v with decodeStrict; it
// returns the body too, for the checks v cannot make (refuseNull).
func readStrict(r *http.Request, v any) ([]byte, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return body, decodeStrict(body, v)
}

// createdFlow is a flow as returned by create, with its inbound hook
// secret and, when flowd generated it, its outbound signing secret (both
// shown this once).
type createdFlow struct {
	*flow.Flow
	HookSecret    string `json:"hook_secret"`
	SigningSecret string `json:"signing_secret,omitempty"`
}

// GET /v1/webhooks?workspace_id=
func (s *Server) flowList(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	ws := cmp.Or(r.URL.Query().Get("workspace_id"), flow.DefaultWorkspaceID)
	if err := checkWorkspaceID(ws); err != nil {
		return err
	}
	flows, err := s.store.FlowList(r.Context(), p.CompanyID, ws)
	if err != nil {
		return err
	}
	if flows == nil {
		flows = []*flow.Flow{}
	}
	writeOK(w, http.StatusOK, fmt.Sprintf("%d flows", len(flows)), flows)
	return nil
}

// POST /v1/webhooks
func (s *Server) flowCreate(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return s.createFlow(w, r, body, "flow created", func(f *flow.Flow) note {
		return flowNote(store.AuditFlowCreate, f, fmt.Sprintf("created with %d steps", len(f.Steps)))
	})
}

// createFlow validates a flow definition, stores it as a new flow of the
// caller's company with a fresh hook secret and the audit entry describe
// notes, and answers 201 with msg.
func (s *Server) createFlow(w http.ResponseWriter, r *http.Request, body []byte, msg string, describe func(*flow.Flow) note) error {
	p := principalFrom(r.Context())
	in, err := flow.DecodeFlow(body)
	if err != nil {
		return err
	}
	answer := createdFlow{HookSecret: NewSecret()}
	if in.GenerateSigningSecret {
		answer.SigningSecret = flow.NewSigningSecret()
		in.SigningSecret = &answer.SigningSecret
	}
	answer.Flow, err = audited(s, r, func(tx *store.Store) (*flow.Flow, note, error) {
		f, err := tx.FlowCreate(r.Context(), p.CompanyID, p.UserID, in, answer.HookSecret)
		if err != nil {
			return nil, note{}, err
		}
		return f, describe(f), nil
	})
	if err != nil {
		return err
	}
	writeOK(w, http.StatusCreated, msg, answer)
	return nil
}

// GET /v1/webhooks/{id}
func (s *Server) flowGet(w http.ResponseWriter, r *http.Request) error {
	return onID(w, r, http.StatusOK, "flow", s.store.FlowGet)
}

// PUT /v1/webhooks/{id}
func (s *Server) flowReplace(w http.ResponseWriter, r *http.Request) error {
	// The flow must exist for this company before the body is judged, so
	// another company's id answers 404 whatever the body.
	id, p, _, err := s.pathFlow(r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := flow.DecodeFlow(body)
	if err != nil {
		return err
	}
	if in.GenerateSigningSecret {
		// The answer is the flow object, which never shows the secret.
		return &flow.ValidationError{Errors: []flow.FieldError{{Field: "generate_signing_secret",
			Message: "only on create; rotate the secret with POST /v1/webhooks/{id}/signing-secret"}}}
	}
	f, err := audited(s, r, func(tx *store.Store) (*flow.Flow, note, error) {
		before, err := tx.FlowGet(r.Context(), p.CompanyID, id)
		if err != nil {
			return nil, note{}, err
		}
		after, err := tx.FlowReplace(r.Context(), p.CompanyID, id, in)
		if err != nil {
			return nil, note{}, err
		}
		return after, flowNote(store.AuditFlowUpdate, after, updateSummary(before, after, in)), nil
	})
	if err != nil {
		return err
	}
	writeOK(w, http.StatusOK, "flow replaced", f)
	return nil
}

// DELETE /v1/webhooks/{id}
func (s *Server) flowDelete(w http.ResponseWriter, r *http.Request) error {
	return s.flowChange(w, r, "flow deleted", store.AuditFlowDelete, "deleted", func(ctx context.Context, tx *store.Store, companyID, id uuid.UUID) (*flow.Flow, error) {
		return tx.FlowDelete(ctx, companyID, id)
	})
}

// POST /v1/integrations/{id}/stop
func (s *Server) flowStop(w http.ResponseWriter, r *http.Request) error {
	return s.flowSetStatus(w, r, flow.FlowStatusStopped, "flow stopped", store.AuditFlowStop, "stopped")
}

// POST /v1/integrations/{id}/resume
func (s *Server) flowResume(w http.ResponseWriter, r *http.Request) error {
	return s.flowSetStatus(w, r, flow.FlowStatusRunning, "flow resumed", store.AuditFlowResume, "resumed")
}

func (s *Server) flowSetStatus(w http.ResponseWriter, r *http.Request, status, msg, action, what string) error {
	return s.flowChange(w, r, msg, action, what, func(ctx context.Context, tx *store.Store, companyID, id uuid.UUID) (*flow.Flow, error) {
		return tx.FlowSetStatus(ctx, companyID, id, status)
	})
}

// flowChange runs an audited change of the flow the path names and
// answers 200 with msg and the flow; the audit summary says the flow was
// what.
func (s *Server) flowChange(w http.ResponseWriter, r *http.Request, msg, action, what string,
	change func(ctx context.Context, tx *store.Store, companyID, id uuid.UUID) (*flow.Flow, error)) error {
	return auditedOnID(s, w, r, http.StatusOK, msg, func(ctx context.Context, tx *store.Store, companyID, id uuid.UUID) (*flow.Flow, note, error) {
		f, err := change(ctx, tx, companyID, id)
		if err != nil {
			return nil, note{}, err
		}
		return f, flowNote(action, f, what), nil
	})
}

// cloneRequest is the body of POST /v1/integrations/{id}/clone.
type cloneRequest struct {
	FlowName         *string                    `json:"flow_name"`
	TagName          *string                    `json:"tag_name"`
	CategoryName     *string                    `json:"category_name"`
	DynamicVariables map[string]json.RawMessage `json:"dynamicVariables"`
}

// decodeStrict decodes an optional JSON object body into v. An empty body
// or null leaves v as it is. Anything but one JSON object (trailing data
// included: "{}}" or "{}]") is malformed, a 400 naming "body"; unknown
// fields and values of the wrong type are 422 naming the field.
func decodeStrict(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil
	}
	if !utf8.Valid(trimmed) {
		return fmt.Errorf("%w: the body is not valid UTF-8", flow.ErrMalformedJSON)
	}
	// Unmarshal reads the whole input: trailing data is a syntax error.
	var whole json.RawMessage
	if err := json.Unmarshal(trimmed, &whole); err != nil {
		return fmt.Errorf("%w: %v", flow.ErrMalformedJSON, err)
	}
	if trimmed[0] != '{' {
		return fmt.Errorf("%w: the body must be a JSON object", flow.ErrMalformedJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &flow.ValidationError{Errors: []flow.FieldError{{Field: cmp.Or(te.Field, fieldBody), Message: fmt.Sprintf("must be %s, not %s", jsonTypeName(te.Type.Kind().String()), te.Value)}}}
		}
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &flow.ValidationError{Errors: []flow.FieldError{{Field: strings.Trim(msg, `"`), Message: "unknown field"}}}
		}
		return fmt.Errorf("%w: %v", flow.ErrMalformedJSON, err)
	}
	return nil
}

// refuseNull refuses, with a 422 naming each, the fields of a JSON object
// body that are null (msgs by field name).
func refuseNull(body []byte, msgs map[string]string) error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil // decodeStrict has judged the body
	}
	var errs []flow.FieldError
	for _, name := range slices.Sorted(maps.Keys(msgs)) {
		if raw, ok := fields[name]; ok && string(bytes.TrimSpace(raw)) == "null" {
			errs = append(errs, flow.FieldError{Field: name, Message: msgs[name]})
		}
	}
	if len(errs) > 0 {
		return &flow.ValidationError{Errors: errs}
	}
	return nil
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

// POST /v1/integrations/{id}/clone
func (s *Server) flowClone(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	src, err := s.store.FlowGet(r.Context(), p.CompanyID, id)
	if err != nil {
		return err
	}
	var req cloneRequest
	body, err := readStrict(r, &req)
	if err != nil {
		return err
	}
	if err := refuseNull(body, cloneNullMessages); err != nil {
		return err
	}
	if err := flow.CheckClone(src.Status); err != nil {
		return err
	}
	in := cloneInput(src, &req)
	// Re-validate the copy with the same rules as a create; what is wrong
	// is named as in the clone's body.
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	err = s.createFlow(w, r, raw, "flow cloned", func(f *flow.Flow) note {
		return flowNote(store.AuditFlowClone, f, fmt.Sprintf("cloned from flow %s (%q)", src.ID, src.Name))
	})
	var verr *flow.ValidationError
	if errors.As(err, &verr) {
		return &flow.ValidationError{Errors: cloneFieldErrors(verr.Errors, in, &req)}
	}
	return err
}

// cloneNullMessages are the clone fields where null is refused: it could
// mean "keep the source's" or "clear it" (README "Clone").
var cloneNullMessages = map[string]string{
	"flow_name":     "must be a string; leave it out for the default name",
	"tag_name":      `must be a string; leave it out to keep the source's, or send "" for none`,
	"category_name": `must be a string; leave it out to keep the source's, or send "" for none`,
}

// cloneFieldErrors renames the field errors of a clone's flow definition
// (built by cloneInput) after the clone body's fields: name is flow_name,
// and the predefined variables set by dynamicVariables are
// dynamicVariables.<name>.
func cloneFieldErrors(errs []flow.FieldError, in map[string]any, req *cloneRequest) []flow.FieldError {
	var names []string
	for _, pv := range in["predefinedVariables"].([]predefinedInput) {
		names = append(names, pv.Name)
	}
	out := make([]flow.FieldError, 0, len(errs))
	for _, fe := range errs {
		switch {
		case fe.Field == "name":
			fe.Field = "flow_name"
		case fe.Field == "predefinedVariables" && len(req.DynamicVariables) > 0:
			fe.Field = "dynamicVariables"
		default:
			var i int
			var rest string
			if n, err := fmt.Sscanf(fe.Field, "predefinedVariables[%d]", &i); n == 1 && err == nil && i < len(names) {
				if _, dynamic := req.DynamicVariables[names[i]]; dynamic {
					rest = fe.Field[strings.IndexByte(fe.Field, ']')+1:]
					rest = strings.TrimPrefix(strings.TrimPrefix(rest, ".value"), ".name")
					fe.Field = "dynamicVariables" + keyPath(names[i]) + rest
				}
			}
		}
		out = append(out, fe)
	}
	return out
}

// plainKey matches object keys that can follow a dot in a field path.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// keyPath is how key is written after the path of its object, as flow
// writes field paths: .key, or ["key"] when the key needs quoting.
func keyPath(key string) string {
	if plainKey.MatchString(key) {
		return "." + key
	}
	return "[" + strconv.Quote(key) + "]"
}

// predefinedInput is a predefined variable as a flow definition sends it:
// unlike flow.PredefinedVariable's answer form, a secret's value is kept.
type predefinedInput struct {
	Name   string          `json:"name"`
	Value  json.RawMessage `json:"value"`
	Secret bool            `json:"secret,omitempty"`
}

// cloneInput builds the JSON definition of a clone: the source's steps and
// variables, the new names, and dynamicVariables overriding predefined
// variables by name (names the source lacks are added). A secret stays
// secret, whether its value is the source's or an override.
func cloneInput(src *flow.Flow, req *cloneRequest) map[string]any {
	name := src.Name + " (copy)"
	if req.FlowName != nil {
		name = *req.FlowName
	}
	tag, category := src.TagName, src.CategoryName
	if req.TagName != nil {
		tag = *req.TagName
	}
	if req.CategoryName != nil {
		category = *req.CategoryName
	}
	predefined := make([]predefinedInput, 0, len(src.PredefinedVariables)+len(req.DynamicVariables))
	seen := map[string]bool{}
	for _, pv := range src.PredefinedVariables {
		if v, ok := req.DynamicVariables[pv.Name]; ok {
			pv.Value = v
		}
		seen[pv.Name] = true
		predefined = append(predefined, predefinedInput(pv))
	}
	extra := make([]string, 0)
	for k := range req.DynamicVariables {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		predefined = append(predefined, predefinedInput{Name: k, Value: req.DynamicVariables[k]})
	}
	steps := make([]map[string]any, 0, len(src.Steps))
	for _, st := range src.Steps {
		steps = append(steps, map[string]any{
			"step_number":        st.StepNumber,
			"webhook_url":        st.WebhookURL,
			"webhook_method":     st.WebhookMethod,
			"webhook_timeout":    st.WebhookTimeout,
			"retry_limit":        st.RetryLimit,
			"timeout":            st.Timeout,
			"webhook_url_params": st.WebhookURLParams,
			"webhook_headers":    st.WebhookHeaders,
			"webhook_body":       st.WebhookBody,
			"depends_on_step":    st.DependsOnStep,
			"success_condition":  st.SuccessCondition,
		})
	}
	return map[string]any{
		"workspace_id":        src.WorkspaceID,
		"name":                name,
		"logo":                src.Logo,
		"retry_delay":         src.RetryDelay,
		"retry_delay_unit":    src.RetryDelayUnit,
		"max_retries":         src.MaxRetries,
		"is_template":         false,
		"flow_direction":      src.FlowDirection,
		"flow_mapping":        src.FlowMapping,
		"tag_name":            tag,
		"category_name":       category,
		"schedule":            src.Schedule,
		"propagate_trace":     src.PropagateTrace,
		"events":              src.Events,
		"event_filter":        src.EventFilter,
		"predefinedVariables": predefined,
		"variables":           src.Variables,
		"steps":               steps,
	}
}
