package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

// receiver is a webhook receiver holding one secret, verifying with the
// official Standard Webhooks Go library.
type receiver struct {
	name string
	wh   *standardwebhooks.Webhook
}

func newReceiver(t *testing.T, name, secret string) receiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("receiver %s: %v", name, err)
	}
	return receiver{name: name, wh: wh}
}

// TestSignaturesVerifyWithStandardWebhooks sends signed requests through
// a generated secret, a rotation and the end of its overlap, and checks
// each with the official library as receivers holding one secret would:
// during the overlap one holding only the old secret and one holding only
// the new both verify; after it only the new one does.
func TestSignaturesVerifyWithStandardWebhooks(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	def := flowDef("signed", []any{step(1, "POST", b.tg.URL+"/s", map[string]any{"webhook_body": map[string]any{"a": 1}})},
		map[string]any{"generate_signing_secret": true})
	r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks", def)
	var created struct {
		flow.Flow
		SigningSecret string `json:"signing_secret"`
	}
	r.Decode(t, &created)
	if r.Code != http.StatusCreated || created.SigningSecret == "" {
		t.Fatalf("create with generate_signing_secret: %d %s", r.Code, r.Raw)
	}
	id := created.ID
	// send runs the flow once and returns the request its step sent.
	send := func() flowdtest.Request {
		t.Helper()
		e := b.trigger(t, id, nil)
		b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success")
		for _, req := range b.tg.Requests("/s") {
			if req.Header.Get("webhook-id") == fmt.Sprintf("%s:1", e.ID) {
				return req
			}
		}
		t.Fatalf("no request of execution %s carries its webhook-id", e.ID)
		return flowdtest.Request{}
	}
	// expect checks how many signatures a request carries and which
	// receivers accept it.
	expect := func(when string, req flowdtest.Request, signatures int, accept, refuse []receiver) {
		t.Helper()
		if n := len(strings.Fields(req.Header.Get("webhook-signature"))); n != signatures {
			t.Errorf("%s: %d signatures (%q), want %d", when, n, req.Header.Get("webhook-signature"), signatures)
		}
		for _, rc := range accept {
			if err := rc.wh.Verify([]byte(req.Body), req.Header); err != nil {
				t.Errorf("%s: receiver with the %s secret refuses: %v", when, rc.name, err)
			}
		}
		for _, rc := range refuse {
			if err := rc.wh.Verify([]byte(req.Body), req.Header); err == nil {
				t.Errorf("%s: receiver with the %s secret accepts", when, rc.name)
			}
		}
	}

	first := newReceiver(t, "generated", created.SigningSecret)
	expect("generated secret", send(), 1, []receiver{first}, nil)

	var rotated struct {
		SigningSecret string `json:"signing_secret"`
	}
	b.env.Do(t, b.tenant, "POST", "/v1/webhooks/"+id.String()+"/signing-secret", nil).Decode(t, &rotated)
	second := newReceiver(t, "rotated", rotated.SigningSecret)
	expect("during the overlap", send(), 2, []receiver{first, second}, nil)

	// A rotation made one overlap ago: its overlap is over.
	third := flow.NewSigningSecret()
	if _, err := b.env.Store.FlowRotateSigningSecret(context.Background(), b.tenant.CompanyID, id, third,
		time.Now().Add(-flow.SigningSecretOverlap-time.Minute)); err != nil {
		t.Fatal(err)
	}
	expect("after the overlap", send(), 1, []receiver{newReceiver(t, "third", third)}, []receiver{first, second})
}

// TestLegacySigningSecretKeepsVerifying: a secret stored before secrets had
// to be in the whsec_ form keeps keying the HMAC with its raw bytes, so a
// receiver that was given that string keeps verifying (the official
// library's raw-key constructor stands for it).
func TestLegacySigningSecretKeepsVerifying(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	id := b.createFlow(t, flowDef("legacy", []any{step(1, "POST", b.tg.URL+"/s", nil)}, nil))
	const legacy = "a-raw-secret-stored-before-010"
	if _, err := b.env.Store.FlowRotateSigningSecret(context.Background(), b.tenant.CompanyID, id, legacy, time.Now()); err != nil {
		t.Fatal(err)
	}
	e := b.trigger(t, id, nil)
	b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success")
	req := b.tg.Requests("/s")[0]
	wh, err := standardwebhooks.NewWebhookRaw([]byte(legacy))
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify([]byte(req.Body), req.Header); err != nil {
		t.Errorf("legacy receiver refuses: %v", err)
	}
}
