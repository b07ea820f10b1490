package redact

import (
	"bytes"
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
	// strings.ToLower allocates for every name holding an upper-case
	// letter (every canonical header name), and this runs for every
	// header, key and variable of every record: an ASCII name of up to 64
	// bytes is lowered into a buffer on the stack instead. Other names are
	// lowered as Unicode lowers them (the Kelvin sign lowers to k).
	upper := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= utf8.RuneSelf || len(name) > 64 {
			return sensitiveLower(strings.ToLower(name))
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if !upper {
		return sensitiveLower(name)
	}
	var buf [64]byte
	lower := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	if sensitiveNames[string(lower)] { // no allocation: a map index by string(bytes)
		return true
	}
	if notSensitive[string(lower)] {
		return false
	}
	for _, part := range sensitivePartBytes {
		if bytes.Contains(lower, part) {
			return true
		}
	}
	return false
}

// sensitivePartBytes is sensitiveParts as byte slices.
var sensitivePartBytes = func() [][]byte {
	parts := make([][]byte, len(sensitiveParts))
	for i, p := range sensitiveParts {
		parts[i] = []byte(p)
	}
	return parts
}()

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
