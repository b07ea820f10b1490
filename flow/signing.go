package flow

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// signingKey returns the HMAC key of a secret: "whsec_<base64>" secrets are
// used base64-decoded, as Standard Webhooks libraries do; any other secret
// is used as its bytes.
func signingKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
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
