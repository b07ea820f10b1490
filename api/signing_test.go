package api_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

// signedFlow is a create answer with the fields this file looks at.
type signedFlow struct {
	ID               uuid.UUID `json:"id"`
	HasSigningSecret bool      `json:"has_signing_secret"`
	SigningSecret    *string   `json:"signing_secret"`
}

// createSigned creates simpleFlow with extra fields and returns the answer.
func (b *testBundle) createSigned(t *testing.T, tn *flowdtest.Tenant, extra map[string]any) signedFlow {
	t.Helper()
	def := simpleFlow("signed", b.target.URL)
	for k, v := range extra {
		def[k] = v
	}
	r := b.env.Do(t, tn, "POST", "/v1/webhooks", def)
	if r.Code != http.StatusCreated {
		t.Fatalf("create %v: %d %s", extra, r.Code, r.Raw)
	}
	var f signedFlow
	r.Decode(t, &f)
	return f
}

// TestSigningSecretOnCreate: flowd generates the secret when asked and
// answers it that once; a secret given by the client is taken in the
// whsec_ form only and never echoed; reads never show either.
func TestSigningSecretOnCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	generated := b.createSigned(t, b.tenant, map[string]any{"generate_signing_secret": true})
	if generated.SigningSecret == nil || flow.CheckSigningSecret(*generated.SigningSecret) != nil || !generated.HasSigningSecret {
		t.Fatalf("create with generate_signing_secret: secret %v, has_signing_secret %v", generated.SigningSecret, generated.HasSigningSecret)
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(*generated.SigningSecret, "whsec_"))
	if len(key) != flow.SigningSecretBytes {
		t.Errorf("generated key of %d bytes, want %d", len(key), flow.SigningSecretBytes)
	}
	given := "whsec_" + base64.StdEncoding.EncodeToString([]byte("twenty-four bytes of key"))
	supplied := b.createSigned(t, b.tenant, map[string]any{"signing_secret": given})
	if supplied.SigningSecret != nil || !supplied.HasSigningSecret {
		t.Errorf("create with a given secret: echoed %v, has_signing_secret %v", supplied.SigningSecret, supplied.HasSigningSecret)
	}
	unsigned := b.createSigned(t, b.tenant, nil)
	if unsigned.SigningSecret != nil || unsigned.HasSigningSecret {
		t.Errorf("create without signing: secret %v, has_signing_secret %v", unsigned.SigningSecret, unsigned.HasSigningSecret)
	}
	for _, path := range []string{"/v1/webhooks", "/v1/webhooks/" + generated.ID.String(), "/v1/webhooks/" + supplied.ID.String()} {
		raw := string(b.env.Do(t, b.tenant, "GET", path, nil).Raw)
		if strings.Contains(raw, *generated.SigningSecret) || strings.Contains(raw, given) || strings.Contains(raw, `"signing_secret"`) {
			t.Errorf("GET %s shows a signing secret: %s", path, raw)
		}
	}
}

// TestSigningSecretRefused: a secret not in the whsec_ form, or of a key
// length out of bounds, is refused with 422 naming signing_secret, and
// nothing is stored; generate_signing_secret is for create only.
func TestSigningSecretRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tn := b.env.NewTenant(t)
	refused := func(r *flowdtest.Response, field string) {
		t.Helper()
		if r.Code != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.Errors[0].Field != field {
			t.Errorf("want 422 naming %s, got %d %s", field, r.Code, r.Raw)
		}
	}
	withSecret := func(secret string) map[string]any {
		def := simpleFlow("refused", b.target.URL)
		def["signing_secret"] = secret
		return def
	}
	// The document's pattern refuses these too (hence DoInvalid).
	for _, s := range []string{"a-raw-secret-of-forty-characters-012345", "whsec_not base64!", "whsec_MDEyMzQ1Njc4OWFiY2RlZg=="} {
		refused(b.env.DoInvalid(t, tn, "POST", "/v1/webhooks", withSecret(s)), "signing_secret")
	}
	// 65 bytes: the pattern cannot count bytes exactly; the server can.
	refused(b.env.Do(t, tn, "POST", "/v1/webhooks", withSecret("whsec_"+base64.StdEncoding.EncodeToString(make([]byte, 65)))), "signing_secret")
	var flows []flow.Flow
	b.env.Do(t, tn, "GET", "/v1/webhooks", nil).Decode(t, &flows)
	if len(flows) != 0 {
		t.Errorf("refused creates stored %d flows", len(flows))
	}

	f := b.createSigned(t, tn, nil)
	def := simpleFlow("replaced", b.target.URL)
	def["generate_signing_secret"] = true
	refused(b.env.Do(t, tn, "PUT", "/v1/webhooks/"+f.ID.String(), def), "generate_signing_secret")
	var got flow.Flow
	b.env.Do(t, tn, "GET", "/v1/webhooks/"+f.ID.String(), nil).Decode(t, &got)
	if got.Version != 1 || got.HasSigningSecret {
		t.Errorf("a refused replace changed the flow: version %d, has_signing_secret %v", got.Version, got.HasSigningSecret)
	}
}

// TestSigningSecretRotate: the rotation endpoint makes a new secret, shows
// it once, says until when the previous one still signs (null for a flow
// that did not sign), and answers like the hook secret rotation: 401
// without a token, 404 for another company's flow, 409 once deleted.
func TestSigningSecretRotate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.createSigned(t, b.tenant, map[string]any{"generate_signing_secret": true})
	rotate := "/v1/webhooks/" + f.ID.String() + "/signing-secret"
	if r := b.env.DoInvalid(t, nil, "POST", rotate, nil); r.Code != http.StatusUnauthorized {
		t.Errorf("rotate without a token: want 401, got %d", r.Code)
	}
	if r := b.env.Do(t, b.env.NewTenant(t), "POST", rotate, nil); r.Code != http.StatusNotFound {
		t.Errorf("rotate another company's flow: want 404, got %d", r.Code)
	}
	type rotated struct {
		FlowID             uuid.UUID  `json:"flow_id"`
		SigningSecret      string     `json:"signing_secret"`
		PreviousValidUntil *time.Time `json:"previous_valid_until"`
	}
	before := time.Now()
	r := b.env.Do(t, b.tenant, "POST", rotate, nil)
	var got rotated
	r.Decode(t, &got)
	if r.Code != http.StatusOK || got.FlowID != f.ID || flow.CheckSigningSecret(got.SigningSecret) != nil || got.SigningSecret == *f.SigningSecret {
		t.Fatalf("rotate: %d %s", r.Code, r.Raw)
	}
	if u := got.PreviousValidUntil; u == nil || u.Before(before.Add(flow.SigningSecretOverlap)) || u.After(time.Now().Add(flow.SigningSecretOverlap)) {
		t.Errorf("previous_valid_until %v, want the rotation time + %s", u, flow.SigningSecretOverlap)
	}
	raw := string(b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+f.ID.String(), nil).Raw)
	if strings.Contains(raw, got.SigningSecret) {
		t.Errorf("GET flow shows the rotated secret: %s", raw)
	}

	unsigned := b.createSigned(t, b.tenant, nil)
	var first rotated
	b.env.Do(t, b.tenant, "POST", "/v1/webhooks/"+unsigned.ID.String()+"/signing-secret", nil).Decode(t, &first)
	var now flow.Flow
	b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+unsigned.ID.String(), nil).Decode(t, &now)
	if first.PreviousValidUntil != nil || flow.CheckSigningSecret(first.SigningSecret) != nil || !now.HasSigningSecret {
		t.Errorf("first secret by rotation: %+v, has_signing_secret %v", first, now.HasSigningSecret)
	}

	if r := b.env.Do(t, b.tenant, "DELETE", "/v1/webhooks/"+f.ID.String(), nil); r.Code != http.StatusOK {
		t.Fatalf("delete: %d", r.Code)
	}
	if r := b.env.Do(t, b.tenant, "POST", rotate, nil); r.Code != http.StatusConflict || len(r.Errors) == 0 {
		t.Errorf("rotate a deleted flow: want 409, got %d %s", r.Code, r.Raw)
	}
}
