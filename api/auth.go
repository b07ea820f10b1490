package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// TokenPrefix starts every API token, so leaked tokens are easy to spot.
const TokenPrefix = "fd_"

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

// NewSecret returns a random secret for inbound hooks, prefixed "whsec_"
// like Standard Webhooks secrets.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

type principalKey struct{}

func principalFrom(ctx context.Context) *flow.Principal {
	p, _ := ctx.Value(principalKey{}).(*flow.Principal)
	return p
}

// tokenCache keeps recent token lookups for a short time so a busy client
// does not cost a query per request. A revoked token stops working within
// tokenCacheTTL.
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]tokenEntry
}

type tokenEntry struct {
	p       *flow.Principal
	expires time.Time
}

const tokenCacheTTL = 10 * time.Second

func (c *tokenCache) get(hash []byte) *flow.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(hash)]
	if !ok || time.Now().After(e.expires) {
		return nil
	}
	return e.p
}

func (c *tokenCache) put(hash []byte, p *flow.Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) > 10000 {
		c.entries = map[string]tokenEntry{}
	}
	c.entries[string(hash)] = tokenEntry{p: p, expires: time.Now().Add(tokenCacheTTL)}
}

// authenticate resolves the Bearer token of a request.
func (s *Server) authenticate(r *http.Request) (*flow.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, errUnauthorized
	}
	hash := HashToken(strings.TrimSpace(token))
	if p := s.tokens.get(hash); p != nil {
		return p, nil
	}
	p, err := s.store.TokenGetByHash(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	// The zero company means "any company" to some store reads; no token
	// may act for it.
	if subtle.ConstantTimeCompare(p.TokenHash, hash) != 1 || p.CompanyID == uuid.Nil {
		return nil, errUnauthorized
	}
	s.tokens.put(hash, p)
	return p, nil
}

// requireToken wraps a handler with Bearer token authentication.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}
