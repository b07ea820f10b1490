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

// countingStore counts the token lookups that reach the database.
type countingStore struct {
	*store.Store
	lookups atomic.Int32
}

func (c *countingStore) TokenGetByHash(ctx context.Context, hash []byte) (*store.Token, error) {
	c.lookups.Add(1)
	return c.Store.TokenGetByHash(ctx, hash)
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
	want := &auth.Principal{TokenID: p.TokenID, CompanyID: company, UserID: user}
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
	revoked, p, err := auth.CreateToken(ctx, b.store, uuid.New(), uuid.New(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, p.TokenID); err != nil {
		t.Fatal(err)
	}
	// A token of the zero company can only be written by hand; it never
	// acts for anyone.
	zero, hash := auth.NewToken()
	if _, err := b.pool.Exec(ctx, `INSERT INTO api_tokens (id, company_id, user_id, token_hash) VALUES ($1, $2, $3, $4)`,
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
	token, p, err := auth.CreateToken(ctx, b.store, uuid.New(), uuid.New(), "")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := b.auth.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.lookup.lookups.Load(); n != 1 {
		t.Errorf("%d lookups for 3 requests within the TTL, want 1", n)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1`, p.TokenID); err != nil {
		t.Fatal(err)
	}
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
