package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// TestErrorStatus: each kind of error maps to its status and names a
// field, never "" (the answers the API tests cannot provoke: 500, 503, a
// validation error without details).
func TestErrorStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		err   error
		code  int
		field string
	}{
		{"a fault", errors.New("disk on fire"), http.StatusInternalServerError, "server"},
		{"a wrapped fault", fmt.Errorf("insert execution: %w", errors.New("boom")), http.StatusInternalServerError, "server"},
		{"database down", &unavailableError{field: "database", msg: "database unreachable"}, http.StatusServiceUnavailable, "database"},
		{"validation without details", &flow.ValidationError{}, http.StatusUnprocessableEntity, "body"},
		{"validation of the whole document", &flow.ValidationError{Errors: []flow.FieldError{{Message: "must be an object"}}}, http.StatusUnprocessableEntity, "body"},
		{"malformed", fmt.Errorf("%w: unexpected end", flow.ErrMalformedJSON), http.StatusBadRequest, "body"},
		{"too large", &http.MaxBytesError{Limit: 10}, http.StatusRequestEntityTooLarge, "body"},
		{"not found", fmt.Errorf("get flow: %w", store.ErrNotFound), http.StatusNotFound, "id"},
		{"no route", errNoRoute, http.StatusNotFound, "path"},
		{"method", &methodError{method: "PATCH"}, http.StatusMethodNotAllowed, "method"},
		{"conflict", fmt.Errorf("%w: flow is stopped; resume it first", store.ErrConflict), http.StatusConflict, "status"},
		{"template", fmt.Errorf("%w: flow is a template; clone it to run it", store.ErrConflict), http.StatusConflict, "is_template"},
		{"token", errUnauthorized, http.StatusUnauthorized, "Authorization"},
		{"hook token", errHookBadToken, http.StatusUnauthorized, "token"},
		{"hook signature", errHookBadSignature, http.StatusUnauthorized, "webhook-signature"},
		{"rate", errRateLimited, http.StatusTooManyRequests, "Authorization"},
		{"hook rate", errHookRateLimited, http.StatusTooManyRequests, "flow_id"},
		{"cursor", fmt.Errorf("decode: %w", store.ErrBadCursor), http.StatusBadRequest, "cursor"},
		{"parameter", badRequest("limit", "too big"), http.StatusBadRequest, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, msg, fields := errorStatus(tc.err)
			if code != tc.code || msg == "" || len(fields) != 1 || fields[0].Field != tc.field || fields[0].Message == "" {
				t.Errorf("got %d %q %v, want %d naming %s", code, msg, fields, tc.code, tc.field)
			}
		})
	}
	// The field errors of a ValidationError are not changed in place.
	verr := &flow.ValidationError{Errors: []flow.FieldError{{Message: "x"}}}
	errorStatus(verr)
	if d := cmp.Diff([]flow.FieldError{{Message: "x"}}, verr.Errors); d != "" {
		t.Errorf("errorStatus changed the error (-want +got):\n%s", d)
	}
}
