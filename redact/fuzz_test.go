package redact

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzJSON checks that a valid document stays valid and that a value under
// a sensitive key never survives.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"password":"hunter2","a":[1,{"token":"t"}]}`), "hunter2")
	f.Add([]byte(`[1,"x",null,true,{"k":{}}]`), "x")
	f.Add([]byte(`"\u003cs3cr3t\u003e"`), "<s3cr3t>")
	f.Fuzz(func(t *testing.T, raw []byte, secret string) {
		out := JSON(raw, []string{secret})
		if json.Valid(raw) && !json.Valid(out) {
			t.Fatalf("JSON(%q) = %q, not valid JSON", raw, out)
		}
		if json.Valid(raw) {
			// Without secrets, the output means what the input means with
			// the values of sensitive keys replaced (decoded by encoding/json
			// on both sides, so escapes and invalid UTF-8 compare as read).
			masked, want := decodeNumbers(t, JSON(raw, nil)), maskDecoded(decodeNumbers(t, raw))
			if !reflect.DeepEqual(masked, want) {
				t.Fatalf("JSON(%q) reads as %#v; want %#v", raw, masked, want)
			}
		}
		wrapped := []byte(`{"api_key":` + string(raw) + `}`)
		if !json.Valid(wrapped) {
			return
		}
		var got map[string]any
		if err := json.Unmarshal(JSON(wrapped, nil), &got); err != nil {
			t.Fatalf("JSON(%q) is not valid JSON: %v", wrapped, err)
		}
		if v := got["api_key"]; v != nil && v != Mask {
			t.Fatalf("JSON(%q) kept the value %v of a sensitive key", wrapped, v)
		}
	})
}

// decodeNumbers decodes a valid document with numbers as written.
func decodeNumbers(t *testing.T, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", raw, err)
	}
	return v
}

// maskDecoded is what JSON does, on a decoded document: the value of every
// sensitive key becomes Mask, unless it is null.
func maskDecoded(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if SensitiveName(k) && e != nil {
				v[k] = Mask
			} else {
				v[k] = maskDecoded(e)
			}
		}
	case []any:
		for i, e := range v {
			v[i] = maskDecoded(e)
		}
	}
	return v
}

// FuzzString checks that a secret made of digits (which cannot be formed
// with the letters of Mask) never remains in the output of String or URL.
func FuzzString(f *testing.F) {
	f.Add("https://u:1234@h/p?token=1234#x", "1234")
	f.Add("a 98765 b %39%38", "98765")
	f.Fuzz(func(t *testing.T, s, secret string) {
		if len(secret) < MinSecretLen || strings.Trim(secret, "0123456789") != "" {
			return
		}
		if got := String(s, []string{secret}); strings.Contains(got, secret) {
			t.Fatalf("String(%q, %q) = %q, still contains the secret", s, secret, got)
		}
		if got := URL(s, []string{secret}); strings.Contains(got, secret) {
			t.Fatalf("URL(%q, %q) = %q, still contains the secret", s, secret, got)
		}
	})
}

// FuzzSensitiveName checks the ASCII fast path against the definition:
// a name is sensitive when its lower-case form is.
func FuzzSensitiveName(f *testing.F) {
	for _, s := range []string{"Authorization", "X-Api-Key", "Idempotency-Key", "apiKey", "Content-Type", "API_\u212aEY"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := SensitiveName(name), sensitiveLower(strings.ToLower(name)); got != want {
			t.Fatalf("SensitiveName(%q) = %v; its lower case form %q says %v", name, got, strings.ToLower(name), want)
		}
	})
}
