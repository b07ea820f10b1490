package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/store"
)

// TokenPrefix starts every API token, so leaked tokens are easy to spot.
const TokenPrefix = "fd_"

// CacheTTL is how long Authenticate remembers a token it found: a busy
// client does not cost a query per request, and a revoked token stops
// working within CacheTTL. It is counted from before the lookup, so an
// answer read just before a revocation is not remembered longer; a token
// that expires sooner is remembered only until it expires.
const CacheTTL = 10 * time.Second

// TouchInterval is how often, at most, a token's last_used_at is written:
// the write is off the request path, and one a minute per token is
// precise enough to tell a used token from an idle one.
const TouchInterval = time.Minute

// touchTimeout bounds one last_used_at write.
const touchTimeout = 5 * time.Second

// cacheMax bounds the tokens remembered; past it the cache starts afresh.
const cacheMax = 10000

// ErrInvalidToken is returned by Authenticate for a missing, unknown,
// revoked or expired token, and for a token that acts for no company.
var ErrInvalidToken = errors.New("missing or invalid API token")

// Principal is who a request acts for: the company and user an API token
// was issued to, and what the token may do.
type Principal struct {
	TokenID   uuid.UUID
	CompanyID uuid.UUID
	UserID    uuid.UUID
	Scope     Scope
}

// Store is what an Authenticator reads, and where it records a token's
// last use.
type Store interface {
	TokenGetByHash(ctx context.Context, hash []byte) (*store.Token, error)
	TokenTouch(ctx context.Context, id uuid.UUID, minGap time.Duration) error
}

// Authenticator checks API tokens against the store, with a short cache.
// It is safe for concurrent use.
type Authenticator struct {
	store Store
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry   // by token hash
	touched map[uuid.UUID]time.Time // last_used_at written, by token id
}

type cacheEntry struct {
	p       *Principal
	expires time.Time
}

// New returns an Authenticator reading tokens from st.
func New(st Store) *Authenticator {
	return &Authenticator{store: st, now: time.Now}
}

// NewToken returns a new random API token (32 random bytes) and the hash
// to store.
func NewToken() (token string, hash []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the SHA-256 of a token: tokens are 256-bit random
// values, so a fast hash is enough to make the stored form useless.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateToken stores in st a new admin API token that never expires
// (Issue), named name, acting for companyID as userID, made by the
// operator (no actor token), and returns the plain token, shown once and
// never stored, and the principal it acts for.
func CreateToken(ctx context.Context, st *store.Store, companyID, userID uuid.UUID, name string) (string, *Principal, error) {
	token, t, err := Issue(ctx, st, nil, &NewTokenRequest{CompanyID: companyID, UserID: userID, Name: name, Scope: ScopeAdmin})
	if err != nil {
		return "", nil, err
	}
	return token, principalOf(t), nil
}

// Authenticate returns the principal of token, the secret a request
// presents (surrounding spaces ignored). A missing, unknown, revoked or
// expired token, or one of no company, answers ErrInvalidToken; other
// errors are the database's. The token's last use is recorded in the
// background (touch).
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*Principal, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, ErrInvalidToken
	}
	hash := HashToken(token)
	if p := a.cached(hash); p != nil {
		a.touch(p.TokenID)
		return p, nil
	}
	// The cache counts from before the lookup: the row read may be older
	// than the moment the answer arrives.
	asked := a.now()
	t, err := a.store.TokenGetByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNoCompany) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	// The lookup was by hash; compare again in constant time.
	if subtle.ConstantTimeCompare(t.Hash, hash) != 1 {
		return nil, ErrInvalidToken
	}
	if t.ExpiresAt != nil && !asked.Before(*t.ExpiresAt) {
		return nil, fmt.Errorf("%w: it expired at %s", ErrInvalidToken, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	p := principalOf(t)
	until := asked.Add(CacheTTL)
	if t.ExpiresAt != nil && t.ExpiresAt.Before(until) {
		until = *t.ExpiresAt
	}
	a.remember(hash, p, until)
	a.touch(p.TokenID)
	return p, nil
}

// principalOf is the principal a stored token acts for.
func principalOf(t *store.Token) *Principal {
	return &Principal{TokenID: t.ID, CompanyID: t.CompanyID, UserID: t.UserID, Scope: Scope(t.Scope)}
}

func (a *Authenticator) cached(hash []byte) *Principal {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.entries[string(hash)]
	if !ok || !a.now().Before(e.expires) {
		return nil
	}
	return e.p
}

func (a *Authenticator) remember(hash []byte, p *Principal, until time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.entries == nil || len(a.entries) >= cacheMax {
		a.entries = map[string]cacheEntry{}
	}
	a.entries[string(hash)] = cacheEntry{p: p, expires: until}
}

// Forget drops the cached answers of a token, so that this process refuses
// it at once once it is revoked (other processes within CacheTTL).
func (a *Authenticator) Forget(tokenID uuid.UUID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for hash, e := range a.entries {
		if e.p.TokenID == tokenID {
			delete(a.entries, hash)
		}
	}
}

// touch records in the background that a token was used, at most once per
// TouchInterval per token from this process (and, by the store's
// condition, from all processes together). A failed write is dropped: the
// next use after TouchInterval tries again.
func (a *Authenticator) touch(tokenID uuid.UUID) {
	now := a.now()
	a.mu.Lock()
	if last, ok := a.touched[tokenID]; ok && now.Sub(last) < TouchInterval {
		a.mu.Unlock()
		return
	}
	if a.touched == nil || len(a.touched) >= cacheMax {
		a.touched = map[uuid.UUID]time.Time{}
	}
	a.touched[tokenID] = now
	a.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
		defer cancel()
		_ = a.store.TokenTouch(ctx, tokenID, TouchInterval)
	}()
}
