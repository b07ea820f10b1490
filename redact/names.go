package redact

import "strings"

// Mask replaces every value this package hides.
const Mask = "[redacted]"

// sensitiveNames are names that are sensitive as a whole.
var sensitiveNames = map[string]bool{
	"authorization":       true,
	"proxy-authorization": true,
	"cookie":              true,
	"set-cookie":          true,
	"x-api-key":           true,
}

// sensitiveParts are substrings that make a name sensitive.
var sensitiveParts = []string{
	"token", "secret", "password", "passwd", "key", "auth", "session", "signature", "credential",
}

// notSensitive are names that match a sensitive part but carry no secret
// and must stay readable in records.
var notSensitive = map[string]bool{
	"idempotency-key": true, // the same on every retry of a step; shown so attempts can be matched
	"idempotency_key": true,
}

// SensitiveName reports whether a header, parameter, key, variable or
// attribute called name holds a secret. The comparison ignores case: the
// names Authorization, Proxy-Authorization, Cookie, Set-Cookie and X-Api-Key
// are sensitive, and so is any name containing token, secret, password,
// passwd, key, auth, session, signature or credential, except the
// Idempotency-Key header. Names match generously ("author" is sensitive): a
// masked harmless value costs less than a leaked secret.
func SensitiveName(name string) bool {
	name = strings.ToLower(name)
	if sensitiveNames[name] {
		return true
	}
	if notSensitive[name] {
		return false
	}
	for _, part := range sensitiveParts {
		if strings.Contains(name, part) {
			return true
		}
	}
	return false
}
