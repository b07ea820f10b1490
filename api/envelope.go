package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

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

// errorStatus maps an error to its HTTP status, message and field errors;
// it is the only place where that mapping lives.
func errorStatus(err error) (int, string, []flow.FieldError) {
	var verr *flow.ValidationError
	var rerr *requestError
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", maxErr.Limit), nil
	case errors.As(err, &verr):
		return http.StatusUnprocessableEntity, "validation failed", verr.Errors
	case errors.Is(err, flow.ErrMalformedJSON):
		return http.StatusBadRequest, err.Error(), nil
	case errors.As(err, &rerr):
		return http.StatusBadRequest, "bad request", []flow.FieldError{{Field: rerr.field, Message: rerr.msg}}
	case errors.Is(err, store.ErrBadCursor):
		return http.StatusBadRequest, "bad request", []flow.FieldError{{Field: "cursor", Message: "invalid cursor"}}
	case errors.Is(err, errUnauthorized), errors.Is(err, auth.ErrInvalidToken):
		return http.StatusUnauthorized, err.Error(), nil
	case errors.Is(err, errRateLimited):
		return http.StatusTooManyRequests, err.Error(), nil
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "not found", nil
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, err.Error(), nil
	}
	return http.StatusInternalServerError, "internal server error", nil
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg, fields := errorStatus(err)
	if code >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	} else {
		s.log.DebugContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path, "status", code, "error", err)
	}
	var hookErr *hookAuthError
	if code == http.StatusUnauthorized && !errors.As(err, &hookErr) {
		// The inbound hook is not authenticated with a Bearer token.
		w.Header().Set("WWW-Authenticate", `Bearer realm="flowd"`)
	}
	writeJSON(w, code, envelope{Status: "error", Message: msg, Errors: fields})
}
