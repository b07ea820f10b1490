package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/flowd/flowd/auth"
)

// NewSecret returns a random secret for inbound hooks, prefixed "whsec_"
// like Standard Webhooks secrets.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

type principalKey struct{}

func principalFrom(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

// bearerToken returns the token of an "Authorization: Bearer" header, ""
// when there is none.
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return token
}

// scopeError is a token whose scope does not allow the route (403).
type scopeError struct{ need, have auth.Scope }

func (e *scopeError) Error() string {
	return fmt.Sprintf("this route needs a token with scope %s (or wider); this token's scope is %s", e.need, e.have)
}

// requireToken wraps a handler with Bearer token authentication
// (auth.Authenticator.Authenticate) and the scope check: the token's
// scope must allow need, the route's scope in the route table.
func (s *Server) requireToken(need auth.Scope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.auth.Authenticate(r.Context(), bearerToken(r))
		if err == nil && !p.Scope.Allows(need) {
			err = &scopeError{need: need, have: p.Scope}
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}
