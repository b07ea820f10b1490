package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// tokenView is a token as the API shows it: never its secret or hash.
type tokenView struct {
	ID         uuid.UUID  `json:"id"`
	Name       string     `json:"name"`
	Scope      string     `json:"scope"`
	UserID     uuid.UUID  `json:"user_id"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func viewToken(t *store.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Scope: t.Scope, UserID: t.UserID, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

// createdToken is a new token with its secret, shown this once.
type createdToken struct {
	tokenView
	Token string `json:"token"`
}

// tokenRequest is the body of POST /v1/tokens.
type tokenRequest struct {
	Name      string  `json:"name"`
	Scope     string  `json:"scope"`
	UserID    *string `json:"user_id"`
	ExpiresIn *string `json:"expires_in"`
	ExpiresAt *string `json:"expires_at"`
}

// MaxTokenNameLen bounds a token's name.
const MaxTokenNameLen = 200

// GET /v1/tokens
func (s *Server) tokenList(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.TokenList(r.Context(), principalFrom(r.Context()).CompanyID)
	if err != nil {
		return err
	}
	out := make([]tokenView, 0, len(list))
	for _, t := range list {
		out = append(out, viewToken(t))
	}
	writeOK(w, http.StatusOK, fmt.Sprintf("%d tokens", len(out)), out)
	return nil
}

// POST /v1/tokens
func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	var in tokenRequest
	if _, err := readStrict(r, &in); err != nil {
		return err
	}
	req, err := newTokenRequest(p, &in, time.Now())
	if err != nil {
		return err
	}
	token, t, err := auth.Issue(r.Context(), s.store, p, req)
	if err != nil {
		return err
	}
	writeOK(w, http.StatusCreated, "token created; its secret is shown this once", createdToken{tokenView: viewToken(t), Token: token})
	return nil
}

// newTokenRequest checks a token's body: a scope, a name, at most one of
// expires_in and expires_at (in the future). The user is the caller's
// unless named.
func newTokenRequest(p *auth.Principal, in *tokenRequest, now time.Time) (*auth.NewTokenRequest, error) {
	var errs []flow.FieldError
	fail := func(field, msg string) { errs = append(errs, flow.FieldError{Field: field, Message: msg}) }
	scope, err := auth.ParseScope(in.Scope)
	if err != nil {
		fail("scope", "must be read, trigger or admin")
	}
	if len([]rune(in.Name)) > MaxTokenNameLen {
		fail("name", fmt.Sprintf("must be at most %d characters", MaxTokenNameLen))
	}
	req := &auth.NewTokenRequest{CompanyID: p.CompanyID, UserID: p.UserID, Name: in.Name, Scope: scope}
	if in.UserID != nil {
		if req.UserID, err = uuid.Parse(*in.UserID); err != nil {
			fail("user_id", "must be a UUID")
		}
	}
	switch {
	case in.ExpiresIn != nil && in.ExpiresAt != nil:
		fail("expires_at", "give expires_in or expires_at, not both")
	case in.ExpiresIn != nil:
		d, err := auth.ParseLifetime(*in.ExpiresIn)
		if err != nil {
			fail("expires_in", err.Error())
		}
		at := now.Add(d)
		req.ExpiresAt = &at
	case in.ExpiresAt != nil:
		at, err := time.Parse(time.RFC3339, *in.ExpiresAt)
		if err != nil || !at.After(now) || at.Sub(now) > auth.MaxLifetime {
			fail("expires_at", "must be an RFC 3339 time in the future, within ten years")
		}
		req.ExpiresAt = &at
	}
	if len(errs) > 0 {
		return nil, &flow.ValidationError{Errors: errs}
	}
	return req, nil
}

// DELETE /v1/tokens/{id}
func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request) error {
	msg := fmt.Sprintf("token revoked; other processes refuse it within %s", auth.CacheTTL)
	return onID(w, r, http.StatusOK, msg, func(ctx context.Context, companyID, id uuid.UUID) (tokenView, error) {
		t, err := auth.Revoke(ctx, s.store, principalFrom(ctx), companyID, id)
		if err != nil {
			return tokenView{}, err
		}
		s.auth.Forget(t.ID)
		return viewToken(t), nil
	})
}
