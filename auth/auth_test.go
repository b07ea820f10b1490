package auth_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/store"
)

type testBundle struct {
	pool   *pgxpool.Pool
	store  *store.Store
	lookup *countingStore
	auth   *auth.Authenticator
	now    *atomic.Pointer[time.Time]
}

// countingStore counts the token lookups and last-use writes that reach
// the database.
type countingStore struct {
	*store.Store
	lookups atomic.Int32
	touches atomic.Int32
}

func (c *countingStore) TokenGetByHash(ctx context.Context, hash []byte) (*store.Token, error) {
	c.lookups.Add(1)
	return c.Store.TokenGetByHash(ctx, hash)
}

func (c *countingStore) TokenTouch(ctx context.Context, id uuid.UUID, minGap time.Duration) error {
	c.touches.Add(1)
	return c.Store.TokenTouch(ctx, id, minGap)
}

// setup returns an Authenticator on the package's test database whose
// clock the test moves.
func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := testdb.Pool(t)
	st := store.New(pool, testdb.Keys())
	b := &testBundle{pool: pool, store: st, lookup: &countingStore{Store: st}, now: &atomic.Pointer[time.Time]{}}
	start := time.Now()
	b.now.Store(&start)
	b.auth = auth.New(b.lookup)
	b.auth.SetClock(func() time.Time { return *b.now.Load() })
	return b
}

func (b *testBundle) advance(d time.Duration) {
	t := b.now.Load().Add(d)
	b.now.Store(&t)
}

// issue makes a token of a new company with the scope and expiry.
func (b *testBundle) issue(t *testing.T, scope auth.Scope, expires *time.Time) (string, *store.Token) {
	t.Helper()
	token, row, err := auth.Issue(context.Background(), b.store, nil,
		&auth.NewTokenRequest{CompanyID: uuid.New(), UserID: uuid.New(), Scope: scope, ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	return token, row
}

// revoke marks the token id revoked.
func (b *testBundle) revoke(t *testing.T, id uuid.UUID) {
	t.Helper()
	if _, err := b.pool.Exec(context.Background(), `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
}

// use authenticates token n times; each must succeed.
func (b *testBundle) use(t *testing.T, token string, n int) {
	t.Helper()
	for range n {
		if _, err := b.auth.Authenticate(context.Background(), token); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCreateAndAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	company, user := uuid.New(), uuid.New()
	token, p, err := auth.CreateToken(ctx, b.store, company, user, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, auth.TokenPrefix) || len(token) < 40 {
		t.Errorf("token %q: want the %q prefix and 32 random bytes", token, auth.TokenPrefix)
	}
	want := &auth.Principal{TokenID: p.TokenID, CompanyID: company, UserID: user, Scope: auth.ScopeAdmin}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("created principal (-want +got):\n%s", diff)
	}
	// Only the hash is stored.
	var stored []byte
	var name string
	if err := b.pool.QueryRow(ctx, `SELECT token_hash, name FROM api_tokens WHERE id = $1`, p.TokenID).Scan(&stored, &name); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	if string(stored) != string(sum[:]) || string(stored) != string(auth.HashToken(token)) || name != "ci" {
		t.Errorf("stored hash %x name %q; want the SHA-256 of the token and its name", stored, name)
	}

	for _, presented := range []string{token, "  " + token + " "} {
		got, err := b.auth.Authenticate(ctx, presented)
		if err != nil {
			t.Fatalf("authenticate %q: %v", presented, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("authenticated principal (-want +got):\n%s", diff)
		}
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	revoked, row := b.issue(t, auth.ScopeAdmin, nil)
	b.revoke(t, row.ID)
	// A token of the zero company can only be written by hand; it never
	// acts for anyone.
	zero, hash := auth.NewToken()
	if _, err := b.pool.Exec(ctx, `INSERT INTO api_tokens (id, company_id, user_id, token_hash, scope) VALUES ($1, $2, $3, $4, 'admin')`,
		uuid.New(), uuid.Nil, uuid.New(), hash); err != nil {
		t.Fatal(err)
	}
	unknown, _ := auth.NewToken()
	for name, token := range map[string]string{
		"empty": "", "spaces": "   ", "unknown": unknown, "revoked": revoked, "zero company": zero,
		"another token's hash": string(hash),
	} {
		if p, err := b.auth.Authenticate(ctx, token); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: want auth.ErrInvalidToken, got %+v, %v", name, p, err)
		}
	}
	if _, _, err := auth.CreateToken(ctx, b.store, uuid.Nil, uuid.New(), ""); !errors.Is(err, store.ErrNoCompany) {
		t.Errorf("create a token for the zero company: want store.ErrNoCompany, got %v", err)
	}
}

// TestAuthenticateCache: a token found is remembered for CacheTTL (no
// query per request); past it the token is looked up again, so a revoked
// one stops working. Refusals are not remembered.
func TestAuthenticateCache(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	token, row := b.issue(t, auth.ScopeAdmin, nil)
	b.use(t, token, 3)
	if n := b.lookup.lookups.Load(); n != 1 {
		t.Errorf("%d lookups for 3 requests within the TTL, want 1", n)
	}
	b.revoke(t, row.ID)
	b.advance(auth.CacheTTL - time.Second)
	if _, err := b.auth.Authenticate(ctx, token); err != nil {
		t.Errorf("within the TTL a revoked token is still remembered: %v", err)
	}
	b.advance(2 * time.Second)
	if _, err := b.auth.Authenticate(ctx, token); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("past the TTL a revoked token: want auth.ErrInvalidToken, got %v", err)
	}
	before := b.lookup.lookups.Load()
	for range 2 {
		_, _ = b.auth.Authenticate(ctx, token)
	}
	if n := b.lookup.lookups.Load() - before; n != 2 {
		t.Errorf("%d lookups for 2 refused requests, want 2 (refusals are not remembered)", n)
	}
}

// TestAuthenticateExpiry: a token is refused from its expiry on, also when
// it expires inside the cache window (the cache never outlives it), with
// a message that says so.
func TestAuthenticateExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	expires := b.now.Load().Add(3 * time.Second)
	token, row := b.issue(t, auth.ScopeTrigger, &expires)
	p, err := b.auth.Authenticate(ctx, token)
	if err != nil || p.Scope != auth.ScopeTrigger || p.TokenID != row.ID {
		t.Fatalf("before expiry: %+v, %v", p, err)
	}
	b.advance(3 * time.Second)
	if _, err := b.auth.Authenticate(ctx, token); !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("at its expiry, within the cache TTL: want auth.ErrInvalidToken saying expired, got %v", err)
	}
	past := b.now.Load().Add(-time.Second)
	expired, _ := b.issue(t, auth.ScopeRead, &past)
	if _, err := b.auth.Authenticate(ctx, expired); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("expired token: want auth.ErrInvalidToken, got %v", err)
	}
}

// TestLastUsedOncePerInterval: a token's use is written at most once per
// TouchInterval from a process, however often it is used.
func TestLastUsedOncePerInterval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	token, row := b.issue(t, auth.ScopeRead, nil)
	b.use(t, token, 5)
	// The write is in the background: wait for it.
	flowdtest.WaitFor(t, 10*time.Second, "last_used_at written", func() bool {
		var used *time.Time
		if err := b.pool.QueryRow(ctx, `SELECT last_used_at FROM api_tokens WHERE id = $1`, row.ID).Scan(&used); err != nil {
			t.Fatal(err)
		}
		return used != nil
	})
	b.advance(auth.TouchInterval)
	b.use(t, token, 1)
	flowdtest.WaitFor(t, 10*time.Second, "the write after TouchInterval", func() bool { return b.lookup.touches.Load() >= 2 })
	if n := b.lookup.touches.Load(); n != 2 {
		t.Errorf("%d last-use writes for 5 uses within TouchInterval and one after, want 2", n)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		have, need auth.Scope
		allowed    bool
	}{
		{auth.ScopeRead, auth.ScopeRead, true}, {auth.ScopeRead, auth.ScopeTrigger, false}, {auth.ScopeRead, auth.ScopeAdmin, false},
		{auth.ScopeTrigger, auth.ScopeRead, true}, {auth.ScopeTrigger, auth.ScopeTrigger, true}, {auth.ScopeTrigger, auth.ScopeAdmin, false},
		{auth.ScopeAdmin, auth.ScopeRead, true}, {auth.ScopeAdmin, auth.ScopeTrigger, true}, {auth.ScopeAdmin, auth.ScopeAdmin, true},
		{"", auth.ScopeRead, false}, {"owner", auth.ScopeRead, false},
	} {
		if got := c.have.Allows(c.need); got != c.allowed {
			t.Errorf("%q allows %q: %v, want %v", c.have, c.need, got, c.allowed)
		}
	}
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "12h": 12 * time.Hour, "1d": 24 * time.Hour} {
		if got, err := auth.ParseLifetime(in); err != nil || got != want {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "-1d", "x", "1.5d", "99999999d", "100000h"} {
		if _, err := auth.ParseLifetime(in); err == nil {
			t.Errorf("ParseLifetime(%q) accepted", in)
		}
	}
}

// TestIssueStoresTheParsedScope: a scope given in another case is stored
// as the scope it names (stored as given it would rank as no scope and
// allow nothing).
func TestIssueStoresTheParsedScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	token, row := b.issue(t, "ADMIN", nil)
	if row.Scope != string(auth.ScopeAdmin) {
		t.Errorf("stored scope %q, want %q", row.Scope, auth.ScopeAdmin)
	}
	p, err := b.auth.Authenticate(context.Background(), token)
	if err != nil || !p.Scope.Allows(auth.ScopeAdmin) {
		t.Errorf("the token authenticates as %+v, %v; want an admin", p, err)
	}
}
