package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// envelope is every response body.
type envelope struct {
	Status     string            `json:"status"`
	Message    string            `json:"message"`
	Data       any               `json:"data,omitempty"`
	Errors     []flow.FieldError `json:"errors,omitempty"`
	NextCursor *string           `json:"next_cursor,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, env envelope) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(env)
}

func writeOK(w http.ResponseWriter, code int, message string, data any) {
	writeJSON(w, code, envelope{Status: "ok", Message: message, Data: data})
}

// writeAccepted answers 202 for a request that starts work once per
// idempotency key: msg when it was created now, again when an earlier
// request with the key had already created it.
func writeAccepted(w http.ResponseWriter, created bool, msg, again string, data any) {
	if !created {
		msg = again
	}
	writeOK(w, http.StatusAccepted, msg, data)
}

// requestError is a 400 for a bad query parameter, header or path value.
type requestError struct {
	field string
	msg   string
}

func (e *requestError) Error() string { return e.field + ": " + e.msg }

func badRequest(field, format string, args ...any) error {
	return &requestError{field: field, msg: fmt.Sprintf(format, args...)}
}

// errUnauthorized is a hook call without valid credentials (see
// hookAuthError); an API token is refused with auth.ErrInvalidToken.
var errUnauthorized = errors.New("missing or invalid credentials")

// rateLimitError is a 429; field names what the limit is counted on.
type rateLimitError struct{ field string }

func (e *rateLimitError) Error() string { return "rate limit exceeded; retry later" }

var (
	// errRateLimited is a company over the API's rate limit (counted on
	// its token's company).
	errRateLimited = &rateLimitError{field: "Authorization"}
	// errHookRateLimited is a flow over its inbound hook rate.
	errHookRateLimited = &rateLimitError{field: "flow_id"}
)

// errNoRoute is a path that no route serves.
var errNoRoute = errors.New("no such route")

// methodError is a path served only for other methods (listed in Allow).
type methodError struct{ method string }

func (e *methodError) Error() string { return "method " + e.method + " is not allowed on this path" }

// unavailableError is a dependency that does not answer (503).
type unavailableError struct{ field, msg string }

func (e *unavailableError) Error() string { return e.msg }

// Field names of errors that are not about a body field (README "Errors").
const (
	fieldBody   = "body"
	fieldID     = "id"
	fieldServer = "server"
)

// errorStatus maps an error to its HTTP status, message and field errors;
// it is the only place where that mapping lives. Every error answer names
// at least one field, never "" (README "Errors" says what each status
// names).
func errorStatus(err error) (int, string, []flow.FieldError) {
	code, msg, fields := errorStatusOf(err)
	for i := range fields {
		if fields[i].Field == "" {
			fields[i].Field = fieldBody // the document as a whole
		}
	}
	return code, msg, fields
}

// errorStatusOf is errorStatus before empty fields are named.
func errorStatusOf(err error) (int, string, []flow.FieldError) {
	var (
		verr    *flow.ValidationError
		rerr    *requestError
		maxErr  *http.MaxBytesError
		hookErr *hookAuthError
		limErr  *rateLimitError
		mErr    *methodError
		uErr    *unavailableError
		sErr    *scopeError
	)
	one := func(field, msg string) []flow.FieldError { return []flow.FieldError{{Field: field, Message: msg}} }
	switch {
	case errors.As(err, &maxErr):
		msg := fmt.Sprintf("request body is larger than %d bytes", maxErr.Limit)
		return http.StatusRequestEntityTooLarge, msg, one(fieldBody, msg)
	case errors.As(err, &verr) && len(verr.Errors) > 0:
		return http.StatusUnprocessableEntity, "validation failed", slices.Clone(verr.Errors)
	case errors.As(err, &verr):
		return http.StatusUnprocessableEntity, "validation failed", one(fieldBody, verr.Error())
	case errors.Is(err, flow.ErrMalformedJSON):
		return http.StatusBadRequest, err.Error(), one(fieldBody, err.Error())
	case errors.As(err, &rerr):
		return http.StatusBadRequest, "bad request", one(rerr.field, rerr.msg)
	case errors.Is(err, store.ErrBadCursor):
		return http.StatusBadRequest, "bad request", one("cursor", "invalid cursor")
	case errors.As(err, &hookErr):
		return http.StatusUnauthorized, err.Error(), one(hookErr.field, err.Error())
	case errors.Is(err, errUnauthorized), errors.Is(err, auth.ErrInvalidToken):
		return http.StatusUnauthorized, err.Error(), one("Authorization", err.Error())
	case errors.As(err, &sErr):
		return http.StatusForbidden, err.Error(), one("scope", err.Error())
	case errors.As(err, &limErr):
		return http.StatusTooManyRequests, err.Error(), one(limErr.field, err.Error())
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, "not found", one("path", err.Error())
	case errors.As(err, &mErr):
		return http.StatusMethodNotAllowed, "method not allowed", one("method", err.Error())
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found", one(fieldID, "no such resource")
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, err.Error(), one(conflictField(err), err.Error())
	case errors.As(err, &uErr):
		return http.StatusServiceUnavailable, err.Error(), one(uErr.field, err.Error())
	}
	return http.StatusInternalServerError, "internal server error", one(fieldServer, "internal server error; the details are in the server's log")
}

// conflictField names the field of the resource whose value refuses a
// change: is_template for a template, status otherwise.
func conflictField(err error) string {
	if strings.Contains(err.Error(), "template") {
		return "is_template"
	}
	return "status"
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg, fields := errorStatus(err)
	switch {
	case code == http.StatusInternalServerError:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	case code >= 500:
		s.log.WarnContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "status", code, "error", err)
	default:
		s.log.DebugContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "status", code, "error", err)
	}
	var hookErr *hookAuthError
	if code == http.StatusUnauthorized && !errors.As(err, &hookErr) {
		// The inbound hook is not authenticated with a Bearer token.
		w.Header().Set("WWW-Authenticate", `Bearer realm="flowd"`)
	}
	writeJSON(w, code, envelope{Status: "error", Message: msg, Errors: fields})
}
