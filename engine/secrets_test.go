package engine_test

// Secrets in flows: whatever their name or value, they reach the target
// and nothing flowd keeps (records, answers, logs, the database); a flow's
// signing secrets sign its requests as Standard Webhooks receivers verify.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/redact"
)

// setupLogged is setupRunWith for a flowd that logs JSON at debug level
// through the production ReplaceAttr, as `flowd serve` does; it returns
// the log too.
func setupLogged(t *testing.T, opts *flowdtest.Options) (*runBundle, *flowdtest.LogBuffer) {
	t.Helper()
	logs := &flowdtest.LogBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: redact.ReplaceAttr}))
	return setupRunWith(t, opts), logs
}

// checkNoSecrets reports every secret (by name) that one of texts (by what
// it is) contains.
func checkNoSecrets(t *testing.T, texts, secrets map[string]string) {
	t.Helper()
	for what, text := range texts {
		for name, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s contain the %s secret %q", what, name, secret)
			}
		}
	}
}

// TestSecretsNeverStoredOrLogged runs a two-step flow full of secrets:
// Authorization, Cookie and X-Api-Key headers, variables named
// *token*, *secret*, *password*, *key* (predefined, given at trigger time
// and extracted from a response) used in headers of any name, in the URL
// and in the body, and a response that sets a cookie and returns a token.
// The target receives every real value; the stored attempts (every column),
// the execution as the API shows it, and the logs (at debug level, with the
// production ReplaceAttr) contain none of them.
func TestSecretsNeverStoredOrLogged(t *testing.T) {
	t.Parallel()
	b, logs := setupLogged(t, &flowdtest.Options{OwnDatabase: true})
	secrets := map[string]string{
		"api_token":       "tok-predefined-0001",
		"db_password":     "pw-predefined-0002",
		"client_secret":   "sec-trigger-0003",
		"partner_key":     "key-predefined-0004",
		"literal header":  "lit-authorization-0005",
		"literal cookie":  "lit-cookie-0006",
		"literal api key": "lit-x-api-key-0007",
		"set-cookie":      "resp-set-cookie-0008",
		"response token":  "resp-access-token-0009",
		"response secret": "resp-secret-header-0010",
	}
	b.tg.Handle("/login", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Set-Cookie", "sid="+secrets["set-cookie"]+"; HttpOnly")
		w.Header().Set("X-Session-Secret", secrets["response secret"])
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token": %q, "user": "ann"}`, secrets["response token"])
	})
	b.tg.Handle("/use", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		// An error message echoing what it got, secrets included.
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error": "bad token %s"}`, r.Header.Get("X-Forward"))
	})
	def := flowDef("secrets", []any{
		step(1, "POST", b.tg.URL+"/login?api_key={{partner_key}}", map[string]any{
			"webhook_headers": map[string]any{
				"Authorization": "Bearer " + secrets["literal header"],
				"Cookie":        "session=" + secrets["literal cookie"],
				"X-Api-Key":     secrets["literal api key"],
				"X-Custom":      "{{api_token}}",
			},
			"webhook_url_params": map[string]any{"secret": "{{client_secret}}", "plain": "visible"},
			"webhook_body":       map[string]any{"user": "ann", "password": "{{db_password}}", "note": "pw is {{db_password}}"},
		}),
		step(2, "POST", b.tg.URL+"/use", map[string]any{
			"depends_on_step":   1,
			"webhook_headers":   map[string]any{"X-Forward": "{{auth_token}}", "Authorization": "Bearer {{auth_token}}"},
			"webhook_body":      map[string]any{"t": "{{auth_token}}", "k": "{{partner_key}}"},
			"success_condition": map[string]any{"response_key": "error", "expected_value": "ok"},
		}),
	}, map[string]any{
		"predefinedVariables": []any{
			map[string]any{"name": "api_token", "value": secrets["api_token"]},
			map[string]any{"name": "db_password", "value": secrets["db_password"]},
			map[string]any{"name": "partner_key", "value": secrets["partner_key"]},
			map[string]any{"name": "client_secret", "value": "given at trigger time"},
		},
		"variables": []any{
			map[string]any{"name": "auth_token", "location": "access_token", "stepId": 1, "type": "body", "dataType": "string"},
		},
	})
	id := b.createFlow(t, def)
	e := b.trigger(t, id, map[string]any{"variables": map[string]any{"client_secret": secrets["client_secret"]}})
	done := b.env.WaitExecution(t, b.tenant, e.ID, 30e9, "success", "failed")
	if done.Status != "failed" || len(done.Attempts) != 2 {
		t.Fatalf("execution %s with %d attempts, want failed (step 2's condition) after 2", done.Status, len(done.Attempts))
	}

	// The requests actually sent carry every secret.
	login := b.tg.Requests("/login")
	use := b.tg.Requests("/use")
	if len(login) != 1 || len(use) != 1 {
		t.Fatalf("target saw %d and %d requests", len(login), len(use))
	}
	sent := []struct{ what, got, want string }{
		{"Authorization", login[0].Header.Get("Authorization"), "Bearer " + secrets["literal header"]},
		{"Cookie", login[0].Header.Get("Cookie"), "session=" + secrets["literal cookie"]},
		{"X-Api-Key", login[0].Header.Get("X-Api-Key"), secrets["literal api key"]},
		{"X-Custom", login[0].Header.Get("X-Custom"), secrets["api_token"]},
		{"query", login[0].Query, "api_key=" + secrets["partner_key"] + "&plain=visible&secret=" + secrets["client_secret"]},
		{"body password", fmt.Sprint(strings.Contains(login[0].Body, secrets["db_password"])), "true"},
		{"step 2 Authorization", use[0].Header.Get("Authorization"), "Bearer " + secrets["response token"]},
		{"step 2 X-Forward", use[0].Header.Get("X-Forward"), secrets["response token"]},
	}
	for _, s := range sent {
		if s.got != s.want {
			t.Errorf("sent %s = %q, want %q", s.what, s.got, s.want)
		}
	}

	// Every column of the stored attempts.
	var stored string
	err := b.env.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(row_to_json(a)::text, E'\n'), '') FROM step_attempts a WHERE execution_id = $1`, e.ID).Scan(&stored)
	if err != nil {
		t.Fatal(err)
	}
	// The execution as the API shows it (attempts, variables, step state).
	view := b.env.Do(t, b.tenant, "GET", "/v1/executions/"+e.ID.String(), nil)
	list := b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+id.String()+"/executions", nil)
	checkNoSecrets(t, map[string]string{
		"stored attempts": stored, "GET /v1/executions/{id}": string(view.Raw),
		"GET /v1/webhooks/{id}/executions": string(list.Raw), "logs": logs.String(),
	}, secrets)
	if !strings.Contains(stored, redact.Mask) || !strings.Contains(stored, "visible") || !strings.Contains(stored, `\"user\":\"ann\"`) {
		t.Errorf("stored attempts: want masks and the harmless values kept:\n%s", stored)
	}
	// The records still say what happened.
	var attempts []struct {
		RequestHeaders map[string]string `json:"request_headers"`
		Error          string            `json:"error"`
	}
	var data struct {
		Attempts json.RawMessage `json:"attempts"`
	}
	view.Decode(t, &data)
	if err := json.Unmarshal(data.Attempts, &attempts); err != nil || len(attempts) != 2 {
		t.Fatalf("attempts: %v %s", err, data.Attempts)
	}
	if got := attempts[0].RequestHeaders["Idempotency-Key"]; got != e.ID.String()+":1" {
		t.Errorf("Idempotency-Key stored as %q, want it readable", got)
	}
	if !strings.Contains(attempts[1].Error, "success_condition not met") {
		t.Errorf("step 2 error %q, want the condition named", attempts[1].Error)
	}
}

// TestSecretVariablesMaskedByValue runs a flow whose secret variables have
// harmless names (so masking by name cannot help): one, overridden at
// trigger time, is sent in the query string, one in a header, one inside a
// longer body string, and the target echoes one into the response that the
// error text quotes. The target gets
// every real value; the records, the execution as answered, the error
// message, the logs and every text column of the database hold none.
func TestSecretVariablesMaskedByValue(t *testing.T) {
	t.Parallel()
	b, logs := setupLogged(t, &flowdtest.Options{})
	secrets := map[string]string{"account": "acct-7Q2-SECRET-query", "region": "rgn-9Z4-SECRET-header", "note": "nte-3K8-SECRET-body",
		"trigger account": "acct-5T1-SECRET-trigger"}
	b.tg.Handle("/crm", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"error": "no account %s"}`, r.URL.Query().Get("account"))
	})
	def := flowDef("secret variables", []any{
		step(1, "POST", b.tg.URL+"/crm", map[string]any{
			"webhook_url_params": map[string]any{"account": "{{account}}"},
			"webhook_headers":    map[string]any{"X-Region": "{{region}}"},
			"webhook_body":       map[string]any{"text": "see {{note}} for details"},
			"success_condition":  map[string]any{"response_key": "error", "expected_value": "none"},
		}),
	}, map[string]any{"predefinedVariables": []any{
		map[string]any{"name": "account", "value": secrets["account"], "secret": true},
		map[string]any{"name": "region", "value": secrets["region"], "secret": true},
		map[string]any{"name": "note", "value": secrets["note"], "secret": true},
	}})
	id := b.createFlow(t, def)
	// A value given at trigger time for a secret is a secret too.
	e := b.trigger(t, id, map[string]any{"variables": map[string]any{"account": secrets["trigger account"]}})
	if string(e.Variables) != `{"account":{"value":null,"secret":true}}` {
		t.Errorf("trigger answer variables %s, want the secret hidden", e.Variables)
	}
	done := b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success", "failed")
	if done.Status != "failed" || len(done.Attempts) != 1 {
		t.Fatalf("execution %s with %d attempts, want failed (the condition) after 1", done.Status, len(done.Attempts))
	}

	sent := b.tg.Requests("/crm")
	if len(sent) != 1 || sent[0].Header.Get("X-Region") != secrets["region"] ||
		!strings.Contains(sent[0].Query, secrets["trigger account"]) || !strings.Contains(sent[0].Body, "see "+secrets["note"]+" for details") {
		t.Fatalf("the target did not get the real values: %+v", sent)
	}
	a := done.Attempts[0]
	for what, got := range map[string]string{
		"request_url": a.RequestURL, "X-Region header": a.RequestHeaders["X-Region"],
		"request_body": a.RequestBody, "error": a.Error, "error_message": *done.ErrorMessage,
	} {
		if !strings.Contains(got, redact.Mask) {
			t.Errorf("%s = %q, want the secret masked as %s", what, got, redact.Mask)
		}
	}
	view := b.env.Do(t, b.tenant, "GET", "/v1/executions/"+e.ID.String(), nil)
	flowAnswer := b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+id.String(), nil)
	dump := testdb.TextDump(t, b.env.Pool)
	checkNoSecrets(t, map[string]string{
		"GET /v1/executions/{id}": string(view.Raw), "GET /v1/webhooks/{id}": string(flowAnswer.Raw),
		"logs": logs.String(), "database": dump,
	}, secrets)
	var shown struct {
		PredefinedVariables []map[string]json.RawMessage `json:"predefinedVariables"`
	}
	flowAnswer.Decode(t, &shown)
	for _, pv := range shown.PredefinedVariables {
		if string(pv["value"]) != "null" || string(pv["secret"]) != "true" {
			t.Errorf("answered predefined variable %s, want value null and secret true", mustJSON(pv))
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

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
