package redact

import (
	"strings"
	"unicode/utf8"
)

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
	// ASCII names (nearly all) are compared without strings.ToLower: they
	// are mostly canonical header names ("Content-Type"), lowering one
	// allocates, and this runs for every header, key and variable of every
	// record. Others are lowered as Unicode lowers them (the Kelvin sign
	// lowers to k).
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return sensitiveLower(strings.ToLower(name))
		}
	}
	for whole := range sensitiveNames {
		if strings.EqualFold(name, whole) {
			return true
		}
	}
	for whole := range notSensitive {
		if strings.EqualFold(name, whole) {
			return false
		}
	}
	for _, part := range sensitiveParts {
		if containsFold(name, part) {
			return true
		}
	}
	return false
}

// sensitiveLower is SensitiveName of a name already in lower case.
func sensitiveLower(name string) bool {
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

// containsFold reports whether s contains part, ignoring ASCII case; part
// is lower case ASCII.
func containsFold(s, part string) bool {
	for i := 0; i+len(part) <= len(s); i++ {
		j := 0
		for ; j < len(part); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != part[j] {
				break
			}
		}
		if j == len(part) {
			return true
		}
	}
	return false
}
