package redact

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// MinSecretLen is the shortest variable value SecretValues reports: shorter
// values would mask ordinary text wherever they happen to occur.
const MinSecretLen = 4

// SecretValues returns the string values of the variables in vars whose
// names are sensitive (see SensitiveName), longest first and without
// duplicates, ready for String, URL and JSON. Nested objects and arrays are
// searched: every string under a sensitive name is a secret, and keys inside
// other objects are checked in turn. Values shorter than MinSecretLen and
// values that are not strings are left out.
func SecretValues(vars map[string]any) []string {
	seen := make(map[string]bool)
	collectSecrets(vars, false, seen)
	secrets := make([]string, 0, len(seen))
	for s := range seen {
		secrets = append(secrets, s)
	}
	sortLongestFirst(secrets)
	return secrets
}

func collectSecrets(v any, sensitive bool, seen map[string]bool) {
	switch v := v.(type) {
	case string:
		if sensitive && len(v) >= MinSecretLen {
			seen[v] = true
		}
	case map[string]any:
		for name, value := range v {
			collectSecrets(value, sensitive || SensitiveName(name), seen)
		}
	case map[string]string:
		for name, value := range v {
			collectSecrets(value, sensitive || SensitiveName(name), seen)
		}
	case []any:
		for _, value := range v {
			collectSecrets(value, sensitive, seen)
		}
	case []string:
		for _, value := range v {
			collectSecrets(value, sensitive, seen)
		}
	}
}

// sortLongestFirst orders secrets by decreasing length, then
// lexicographically, so a secret is replaced before any shorter one it
// contains.
func sortLongestFirst(secrets []string) {
	slices.SortFunc(secrets, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
}

// String returns s with every occurrence of each secret replaced by Mask,
// and also every occurrence of the secret's URL query-escaped, URL
// path-escaped and JSON-escaped forms. Longer secrets are replaced first,
// in one pass, so Mask itself is never rewritten. Empty secrets are ignored.
func String(s string, secrets []string) string { return NewMasker(secrets).String(s) }

// Masker masks one set of secrets, prepared once: String, URL and JSON
// each prepare theirs on every call, which a caller masking several values
// with the same secrets (a step attempt's URL, headers, body and error)
// need not pay again. A Masker is safe for concurrent use.
type Masker struct {
	replacer *strings.Replacer // nil: no secret to mask by value
}

// NewMasker returns a Masker of secrets (see String).
func NewMasker(secrets []string) *Masker { return &Masker{replacer: newReplacer(secrets)} }

// String is String with the Masker's secrets.
func (m *Masker) String(s string) string {
	if m.replacer == nil {
		return s
	}
	return m.replacer.Replace(s)
}

// newReplacer returns a replacer of secrets and their escaped forms by Mask,
// or nil when there is nothing to replace.
func newReplacer(secrets []string) *strings.Replacer {
	seen := make(map[string]bool)
	var forms []string
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		for _, form := range secretForms(secret) {
			if !seen[form] {
				seen[form] = true
				forms = append(forms, form)
			}
		}
	}
	if len(forms) == 0 {
		return nil
	}
	sortLongestFirst(forms)
	pairs := make([]string, 0, 2*len(forms))
	for _, form := range forms {
		pairs = append(pairs, form, Mask)
	}
	return strings.NewReplacer(pairs...)
}

// secretForms returns secret as it may appear in a URL or a JSON string.
func secretForms(secret string) []string {
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
	for _, escapeHTML := range []bool{true, false} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(escapeHTML)
		if enc.Encode(secret) == nil {
			quoted := strings.TrimSuffix(buf.String(), "\n")
			forms = append(forms, quoted[1:len(quoted)-1])
		}
	}
	return forms
}

// URL returns raw with secrets masked as by String, and also with the
// values of query (and fragment) parameters whose names are sensitive and
// any password in the user information replaced by Mask. A raw URL that
// does not parse is masked as plain text by String.
func URL(raw string, secrets []string) string { return NewMasker(secrets).URL(raw) }

// URL is URL with the Masker's secrets.
func (m *Masker) URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return m.String(raw)
	}
	u.RawQuery = maskParams(u.RawQuery)

	var out string
	if _, hasPassword := u.User.Password(); hasPassword {
		username := u.User.Username()
		u.User = nil
		out = u.String()
		if i := strings.Index(out, "//"); i >= 0 {
			out = out[:i+2] + url.User(username).String() + ":" + Mask + "@" + out[i+2:]
		}
	} else {
		out = u.String()
	}
	if i := strings.IndexByte(out, '#'); i >= 0 {
		out = out[:i+1] + maskParams(out[i+1:])
	}
	return m.String(out)
}

// maskParams replaces the values of sensitive parameters in an encoded
// query ("a=1&token=x") by Mask, leaving everything else as it was.
func maskParams(query string) string {
	if !strings.Contains(query, "=") {
		return query
	}
	params := strings.Split(query, "&")
	for i, param := range params {
		key, value, ok := strings.Cut(param, "=")
		if !ok || value == "" {
			continue
		}
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if SensitiveName(name) {
			params[i] = key + "=" + Mask
		}
	}
	return strings.Join(params, "&")
}
