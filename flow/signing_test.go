package flow

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/tabletest"
)

func TestNewSigningSecret(t *testing.T) {
	t.Parallel()
	a, b := NewSigningSecret(), NewSigningSecret()
	if a == b {
		t.Fatalf("two secrets are equal: %s", a)
	}
	for _, s := range []string{a, b} {
		if err := CheckSigningSecret(s); err != nil {
			t.Errorf("generated secret %q refused: %v", s, err)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SigningSecretPrefix))
		if err != nil || len(key) != SigningSecretBytes {
			t.Errorf("secret %q: key of %d bytes (%v), want %d", s, len(key), err, SigningSecretBytes)
		}
	}
}

func TestSigningSecretsRotation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	until := now.Add(SigningSecretOverlap)
	type step struct {
		secret string // rotated to, "" for none
		at     time.Time
	}
	active := func(steps []step) [][]string {
		var ss SigningSecrets
		var out [][]string
		for _, s := range steps {
			if s.secret != "" {
				ss = ss.Rotate(s.secret, s.at)
			}
			out = append(out, ss.Active(s.at))
		}
		return out
	}
	tabletest.Func(t, "active secrets", active, []tabletest.Case[[]step, [][]string]{
		{Name: "no secret", In: []step{{"", now}}, Want: [][]string{nil}},
		{Name: "first secret, no overlap", In: []step{{"a", now}}, Want: [][]string{{"a"}}},
		{Name: "rotation overlaps, then ends", In: []step{{"a", now}, {"b", now}, {"", until.Add(-time.Second)}, {"", until}},
			Want: [][]string{{"a"}, {"b", "a"}, {"b", "a"}, {"b"}}},
		{Name: "same secret again keeps the overlap", In: []step{{"a", now}, {"b", now}, {"b", now.Add(time.Hour)}, {"", until.Add(-time.Second)}},
			Want: [][]string{{"a"}, {"b", "a"}, {"b", "a"}, {"b", "a"}}},
		{Name: "a second rotation drops the oldest", In: []step{{"a", now}, {"b", now}, {"c", now.Add(time.Hour)}},
			Want: [][]string{{"a"}, {"b", "a"}, {"c", "b"}}},
	})
}

func TestSignAll(t *testing.T) {
	t.Parallel()
	const legacy = "a-raw-secret-stored-before-010" // not whsec_: its bytes are the key
	secrets := []string{NewSigningSecret(), legacy}
	header := SignAll(secrets, "msg_1", "1700000000", []byte(`{"a":1}`))
	if n := len(strings.Fields(header)); n != 2 {
		t.Fatalf("header %q has %d signatures, want 2", header, n)
	}
	for _, s := range secrets {
		if !VerifySignature(s, "msg_1", "1700000000", []byte(`{"a":1}`), header) {
			t.Errorf("%q does not verify header %q", s, header)
		}
	}
	if VerifySignature(NewSigningSecret(), "msg_1", "1700000000", []byte(`{"a":1}`), header) {
		t.Error("a third secret verifies")
	}
	if got := string(signingKey(legacy)); got != legacy {
		t.Errorf("legacy key %q, want its bytes", got)
	}
}
