package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/scheduler"
)

// publishRequest is the body of POST /v1/events.
type publishRequest struct {
	Type        *string         `json:"type"`
	WorkspaceID *string         `json:"workspace_id"`
	Data        json.RawMessage `json:"data"`
}

// decodePublish checks a publish body: a JSON object with a valid type,
// an optional workspace_id (default "default") and any JSON as data.
func decodePublish(body []byte) (*scheduler.PublishRequest, error) {
	var req publishRequest
	if err := decodeStrict(body, &req); err != nil {
		return nil, err
	}
	out := &scheduler.PublishRequest{WorkspaceID: flow.DefaultWorkspaceID}
	var errs []flow.FieldError
	switch {
	case req.Type == nil:
		errs = append(errs, flow.FieldError{Field: "type", Message: "is required"})
	default:
		if err := flow.CheckEventType(*req.Type); err != nil {
			errs = append(errs, flow.FieldError{Field: "type", Message: err.Error()})
		}
		out.Type = *req.Type
	}
	if req.WorkspaceID != nil && strings.TrimSpace(*req.WorkspaceID) != "" {
		out.WorkspaceID = strings.TrimSpace(*req.WorkspaceID)
		if err := checkWorkspaceID(out.WorkspaceID); err != nil {
			errs = append(errs, flow.FieldError{Field: "workspace_id", Message: err.msg})
		}
	}
	data, fe := flow.CheckJSONValue("data", req.Data)
	errs = append(errs, fe...)
	out.Data = data
	if len(errs) > 0 {
		return nil, &flow.ValidationError{Errors: errs}
	}
	return out, nil
}

// checkWorkspaceID refuses a workspace id flowd can't store or that no
// flow can have.
func checkWorkspaceID(ws string) *requestError {
	if !utf8.ValidString(ws) || strings.IndexByte(ws, 0) >= 0 {
		return &requestError{field: "workspace_id", msg: "must be UTF-8 text without NUL characters"}
	}
	if utf8.RuneCountInString(ws) > flow.MaxWorkspaceIDLen {
		return &requestError{field: "workspace_id", msg: fmt.Sprintf("must be at most %d characters", flow.MaxWorkspaceIDLen)}
	}
	return nil
}

// POST /v1/events
func (s *Server) eventPublish(w http.ResponseWriter, r *http.Request) error {
	req, key, err := readIdempotent(r, decodePublish)
	if err != nil {
		return err
	}
	req.CompanyID = principalFrom(r.Context()).CompanyID
	req.IdempotencyKey = key
	ev, created, err := s.sched.Publish(r.Context(), *req)
	if err != nil {
		return err
	}
	writeAccepted(w, created, fmt.Sprintf("event published; %d executions started", len(ev.Executions)),
		"event already published with this Idempotency-Key; nothing started", ev)
	return nil
}

// GET /v1/events?type=&limit=&cursor=
func (s *Server) eventList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	typ := q.Get("type")
	if typ != "" {
		if err := flow.CheckEventType(typ); err != nil {
			return badRequest("type", "%s", err.Error())
		}
	}
	limit, err := queryLimit(q.Get("limit"), ExecutionListLimitDefault, ExecutionListLimitMax)
	if err != nil {
		return err
	}
	after, err := queryCursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	list, next, err := s.store.EventList(r.Context(), principalFrom(r.Context()).CompanyID, typ, limit, after)
	if err != nil {
		return err
	}
	writePage(w, fmt.Sprintf("%d events", len(list)), list, next)
	return nil
}

// GET /v1/events/{id}
func (s *Server) eventGet(w http.ResponseWriter, r *http.Request) error {
	return onID(w, r, http.StatusOK, "event", s.store.EventGet)
}
