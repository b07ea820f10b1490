package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
)

// TestTokensAPI: an admin creates tokens (the secret answered once, with
// its scope, user and expiry), lists them (never a secret or a hash),
// revokes one (refused at once by the same process); bad bodies answer
// 422 naming the field; another company's token is 404.
func TestTokensAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.env.NewTenant(t)
	before := time.Now()
	tok, reader := newToken(t, b.env, admin, map[string]any{"name": "ci", "scope": "READ", "expires_in": "90d"})
	if !strings.HasPrefix(tok.Token, auth.TokenPrefix) || tok.Scope != "read" || tok.Name != "ci" || tok.UserID != admin.UserID {
		t.Errorf("created token: %+v", tok)
	}
	if tok.ExpiresAt == nil || tok.ExpiresAt.Before(before.Add(90*24*time.Hour)) || tok.ExpiresAt.After(time.Now().Add(90*24*time.Hour)) {
		t.Errorf("expires_at %v, want 90 days from now", tok.ExpiresAt)
	}
	if r := b.env.Do(t, reader, "GET", "/v1/webhooks", nil); r.Code != http.StatusOK {
		t.Errorf("the new read token lists flows: %d %s", r.Code, r.Raw)
	}

	r := b.env.Do(t, admin, "GET", "/v1/tokens", nil)
	if r.Code != http.StatusOK || strings.Contains(string(r.Raw), tok.Token) || strings.Contains(string(r.Raw), "hash") {
		t.Errorf("token list: %d %s; want 200 without secrets or hashes", r.Code, r.Raw)
	}
	var list []tokenAnswer
	r.Decode(t, &list)
	if len(list) != 2 || list[0].ID != tok.ID || list[0].Token != "" {
		t.Errorf("token list: %+v; want the new token first, then the admin's", list)
	}

	for name, body := range map[string]map[string]any{
		"scope":      {"scope": "owner"},
		"expires_in": {"scope": "read", "expires_in": "-1d"},
		"expires_at": {"scope": "read", "expires_in": "1d", "expires_at": time.Now().Add(time.Hour)},
	} {
		r := b.env.DoInvalid(t, admin, "POST", "/v1/tokens", body)
		if r.Code != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.Errors[0].Field != name {
			t.Errorf("token body %v: want 422 naming %s, got %d %s", body, name, r.Code, r.Raw)
		}
	}

	other := b.env.NewTenant(t)
	if r := b.env.Do(t, other, "DELETE", "/v1/tokens/"+tok.ID.String(), nil); r.Code != http.StatusNotFound {
		t.Errorf("another company revokes the token: want 404, got %d %s", r.Code, r.Raw)
	}
	r = b.env.Do(t, admin, "DELETE", "/v1/tokens/"+tok.ID.String(), nil)
	var revoked tokenAnswer
	r.Decode(t, &revoked)
	if r.Code != http.StatusOK || revoked.RevokedAt == nil || revoked.Token != "" {
		t.Fatalf("revoke: %d %s", r.Code, r.Raw)
	}
	if r := b.env.DoInvalid(t, reader, "GET", "/v1/webhooks", nil); r.Code != http.StatusUnauthorized {
		t.Errorf("the revoked token on the process that revoked it: want 401 at once, got %d %s", r.Code, r.Raw)
	}
}

// TestRevokeAndExpiryAcrossProcesses: two flowd API processes (each its
// own pool and token cache) both accept a token, then refuse it within
// auth.CacheTTL of its revocation on the other, and of its expiry on both,
// although each had it cached.
func TestRevokeAndExpiryAcrossProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pool, err := pgxpool.New(context.Background(), testdb.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	second := flowdtest.New(t, &flowdtest.Options{Pool: pool, NoWorker: true})
	admin := b.env.NewTenant(t)
	revokedTok, revoked := newToken(t, b.env, admin, map[string]any{"scope": "read"})
	// Expiry inside the cache window: the caches must not outlive it.
	expiring := time.Now().Add(5 * time.Second)
	_, expires := newToken(t, b.env, admin, map[string]any{"scope": "read", "expires_at": expiring})
	for _, tn := range []*flowdtest.Tenant{revoked, expires} {
		for _, env := range []*flowdtest.Env{b.env, second} {
			if r := env.Do(t, tn, "GET", "/v1/webhooks", nil); r.Code != http.StatusOK {
				t.Fatalf("before revocation and expiry: %d %s", r.Code, r.Raw)
			}
		}
	}
	if r := b.env.Do(t, admin, "DELETE", "/v1/tokens/"+revokedTok.ID.String(), nil); r.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Code, r.Raw)
	}
	// The bound is CacheTTL by construction (TestAuthenticateCache checks
	// it exactly on a fake clock); the margin is for a loaded machine's
	// requests, not for the cache.
	refused := func(env *flowdtest.Env, tn *flowdtest.Tenant) func() bool {
		return func() bool { return env.DoInvalid(t, tn, "GET", "/v1/webhooks", nil).Code == http.StatusUnauthorized }
	}
	flowdtest.WaitFor(t, auth.CacheTTL+5*time.Second, "the revoked token refused by the other process", refused(second, revoked))
	for name, env := range map[string]*flowdtest.Env{"first": b.env, "second": second} {
		flowdtest.WaitFor(t, time.Until(expiring)+5*time.Second, "the expired token refused by the "+name+" process", refused(env, expires))
	}
	r := second.DoInvalid(t, expires, "GET", "/v1/webhooks", nil)
	if len(r.Errors) != 1 || r.Errors[0].Field != "Authorization" || !strings.Contains(r.Errors[0].Message, "expired") {
		t.Errorf("expired token: want 401 naming Authorization and saying it expired, got %d %s", r.Code, r.Raw)
	}
}

// TestLastUsedWritten: a token's use is recorded in last_used_at (off the
// request path, so the test waits for it).
func TestLastUsedWritten(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.env.NewTenant(t)
	tok, tn := newToken(t, b.env, admin, map[string]any{"scope": "read"})
	if tok.LastUsedAt != nil {
		t.Errorf("a new token has last_used_at %v", tok.LastUsedAt)
	}
	b.env.Do(t, tn, "GET", "/v1/webhooks", nil)
	flowdtest.WaitFor(t, 10*time.Second, "last_used_at written", func() bool {
		var list []tokenAnswer
		b.env.Do(t, admin, "GET", "/v1/tokens", nil).Decode(t, &list)
		for _, x := range list {
			if x.ID == tok.ID {
				return x.LastUsedAt != nil
			}
		}
		t.Fatalf("token %s not listed", tok.ID)
		return false
	})
}
