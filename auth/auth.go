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
// working within CacheTTL.
const CacheTTL = 10 * time.Second

// cacheMax bounds the tokens remembered; past it the cache starts afresh.
const cacheMax = 10000

// ErrInvalidToken is returned by Authenticate for a missing, unknown or
// revoked token, and for a token that acts for no company.
var ErrInvalidToken = errors.New("missing or invalid API token")

// Principal is who a request acts for: the company and user an API token
// was issued to.
type Principal struct {
	TokenID   uuid.UUID
	CompanyID uuid.UUID
	UserID    uuid.UUID
}

// Store is what an Authenticator reads.
type Store interface {
	TokenGetByHash(ctx context.Context, hash []byte) (*store.Token, error)
}

// Authenticator checks API tokens against the store, with a short cache.
// It is safe for concurrent use.
type Authenticator struct {
	store Store
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry // by token hash
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

// CreateToken stores in st a new API token, named name, acting for
// companyID (never the zero company: store.ErrNoCompany) as userID, and
// returns the plain token, which is shown once and never stored, and the
// principal it acts for.
func CreateToken(ctx context.Context, st *store.Store, companyID, userID uuid.UUID, name string) (string, *Principal, error) {
	token, hash := NewToken()
	t := &store.Token{ID: uuid.New(), CompanyID: companyID, UserID: userID, Name: name, Hash: hash}
	if err := st.TokenInsert(ctx, t); err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	return token, principalOf(t), nil
}

// Authenticate returns the principal of token, the secret a request
// presents (surrounding spaces ignored). A missing, unknown or revoked
// token, or one of no company, answers ErrInvalidToken; other errors are
// the database's.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*Principal, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, ErrInvalidToken
	}
	hash := HashToken(token)
	if p := a.cached(hash); p != nil {
		return p, nil
	}
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
	p := principalOf(t)
	a.remember(hash, p)
	return p, nil
}

// principalOf is the principal a stored token acts for.
func principalOf(t *store.Token) *Principal {
	return &Principal{TokenID: t.ID, CompanyID: t.CompanyID, UserID: t.UserID}
}

func (a *Authenticator) cached(hash []byte) *Principal {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.entries[string(hash)]
	if !ok || a.now().After(e.expires) {
		return nil
	}
	return e.p
}

func (a *Authenticator) remember(hash []byte, p *Principal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.entries == nil || len(a.entries) >= cacheMax {
		a.entries = map[string]cacheEntry{}
	}
	a.entries[string(hash)] = cacheEntry{p: p, expires: a.now().Add(CacheTTL)}
}
