package auth

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Scope is what a token may do (SPEC "Tokens, scopes and audit"). Each
// scope allows what the ones before it allow.
type Scope string

// The scopes, from the narrowest.
const (
	// ScopeRead allows every GET but the token list.
	ScopeRead Scope = "read"
	// ScopeTrigger adds triggers, publishing events, and cancelling and
	// retrying executions.
	ScopeTrigger Scope = "trigger"
	// ScopeAdmin allows everything, tokens included.
	ScopeAdmin Scope = "admin"
)

// Scopes lists the scopes from the narrowest.
var Scopes = []Scope{ScopeRead, ScopeTrigger, ScopeAdmin}

func (s Scope) rank() int {
	for i, sc := range Scopes {
		if sc == s {
			return i + 1
		}
	}
	return 0 // unknown: allows nothing
}

// Allows reports whether a token of scope s may call a route that needs
// scope need.
func (s Scope) Allows(need Scope) bool { return s.rank() > 0 && s.rank() >= need.rank() }

// ParseScope reads a scope name, in any case.
func ParseScope(s string) (Scope, error) {
	sc := Scope(strings.ToLower(s))
	if sc.rank() == 0 {
		return "", fmt.Errorf("scope %q: must be read, trigger or admin", s)
	}
	return sc, nil
}

// MaxLifetime bounds a token's expiry (ParseLifetime): ten years.
const MaxLifetime = 10 * 365 * 24 * time.Hour

// ParseLifetime reads how long a new token lives: a Go duration ("12h",
// "90m") or a number of days ("90d"), positive and at most MaxLifetime.
func ParseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
		if n > int(MaxLifetime/(24*time.Hour)) {
			d = MaxLifetime + 1 // refused below; a huge count would overflow the Duration
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q: must be a duration such as 90d, 12h or 30m", s)
	case d <= 0:
		return 0, fmt.Errorf("%q: must be positive", s)
	case d > MaxLifetime:
		return 0, fmt.Errorf("%q: must be at most %dd", s, int(MaxLifetime/(24*time.Hour)))
	}
	return d, nil
}
