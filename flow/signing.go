package flow

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Outbound signing secrets, in the Standard Webhooks format: "whsec_" and
// the base64 (standard alphabet, padded) of the HMAC key, as Svix and the
// official libraries read them.
const (
	// SigningSecretPrefix starts every signing secret flowd makes or takes.
	SigningSecretPrefix = "whsec_"
	// SigningSecretBytes is the key length of the secrets flowd generates:
	// 32 bytes, the output size of SHA-256, which RFC 2104 recommends as
	// an HMAC key's minimum.
	SigningSecretBytes = 32
	// MinSigningKeyBytes and MaxSigningKeyBytes bound the key of a
	// user-supplied secret: 24 bytes is what Svix generates; more than 64
	// (SHA-256's block size) would be hashed down by HMAC anyway.
	MinSigningKeyBytes = 24
	MaxSigningKeyBytes = 64
	// SigningSecretOverlap is how long, after a rotation, outbound requests
	// also carry the previous secret's signature, so that receivers can
	// switch to the new secret at their own pace within it.
	SigningSecretOverlap = 24 * time.Hour
)

// NewSigningSecret returns a fresh signing secret: "whsec_" and the base64
// of SigningSecretBytes random bytes.
func NewSigningSecret() string {
	key := make([]byte, SigningSecretBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return SigningSecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// CheckSigningSecret tells why a user-supplied signing secret is refused,
// or nil: it must be "whsec_" followed by the canonical base64 of
// MinSigningKeyBytes to MaxSigningKeyBytes bytes.
func CheckSigningSecret(secret string) error {
	rest, ok := strings.CutPrefix(secret, SigningSecretPrefix)
	if !ok {
		return fmt.Errorf("must start with %q (Standard Webhooks format: whsec_ and the base64 of the key)", SigningSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || base64.StdEncoding.EncodeToString(key) != rest {
		return errors.New("must be whsec_ followed by standard padded base64")
	}
	if len(key) < MinSigningKeyBytes || len(key) > MaxSigningKeyBytes {
		return fmt.Errorf("the base64 after whsec_ must decode to %d to %d bytes, not %d", MinSigningKeyBytes, MaxSigningKeyBytes, len(key))
	}
	return nil
}

// signingKey returns the HMAC key of a secret: "whsec_<base64>" secrets are
// used base64-decoded, as Standard Webhooks libraries do. Any other secret
// is a legacy one, stored before secrets had to be in that format, and is
// used as its bytes, as it always was, until the flow's secret is rotated.
func signingKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, SigningSecretPrefix); ok {
		if k, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return k
		}
	}
	return []byte(secret)
}

// Sign returns the Standard Webhooks signature "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>".
func Sign(secret, msgID, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, signingKey(secret))
	mac.Write([]byte(msgID + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignAll returns the webhook-signature header of a message signed with
// each secret: the signatures separated by spaces, as the spec allows.
func SignAll(secrets []string, msgID, timestamp string, body []byte) string {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = Sign(s, msgID, timestamp, body)
	}
	return strings.Join(sigs, " ")
}

// VerifySignature checks a webhook-signature header (one or more
// space-separated "v1,<base64>" entries) in constant time.
func VerifySignature(secret, msgID, timestamp string, body []byte, header string) bool {
	want := []byte(Sign(secret, msgID, timestamp, body))
	ok := false
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), want) {
			ok = true
		}
	}
	return ok
}

// SigningSecrets are a flow's outbound signing secrets: the current one
// ("" when the flow does not sign) and, for SigningSecretOverlap after a
// rotation, the previous one.
type SigningSecrets struct {
	Current       string
	Previous      string
	PreviousUntil *time.Time
}

// Rotate returns the secrets after secret replaces the current one at now:
// the current one becomes the previous one until now+SigningSecretOverlap.
// Setting the secret a flow already has, or a first secret, starts no
// overlap.
func (ss SigningSecrets) Rotate(secret string, now time.Time) SigningSecrets {
	switch ss.Current {
	case secret:
		return ss
	case "":
		return SigningSecrets{Current: secret}
	}
	until := now.Add(SigningSecretOverlap)
	return SigningSecrets{Current: secret, Previous: ss.Current, PreviousUntil: &until}
}

// Active returns the secrets that sign a request sent at now: none, the
// current one, or the current and the previous one during the overlap.
func (ss SigningSecrets) Active(now time.Time) []string {
	switch {
	case ss.Current == "":
		return nil
	case ss.Previous != "" && ss.PreviousUntil != nil && now.Before(*ss.PreviousUntil):
		return []string{ss.Current, ss.Previous}
	}
	return []string{ss.Current}
}
