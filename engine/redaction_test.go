package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/redact"
)

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
	logs := &flowdtest.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: redact.ReplaceAttr}))
	env := flowdtest.New(t, &flowdtest.Options{OwnDatabase: true, Logger: logger})
	b := &runBundle{env: env, tenant: env.NewTenant(t)}
	tg := flowdtest.NewTarget(t)
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
	tg.Handle("/login", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Set-Cookie", "sid="+secrets["set-cookie"]+"; HttpOnly")
		w.Header().Set("X-Session-Secret", secrets["response secret"])
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token": %q, "user": "ann"}`, secrets["response token"])
	})
	tg.Handle("/use", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		// An error message echoing what it got, secrets included.
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error": "bad token %s"}`, r.Header.Get("X-Forward"))
	})
	def := flowDef("secrets", []any{
		step(1, "POST", tg.URL+"/login?api_key={{partner_key}}", map[string]any{
			"webhook_headers": map[string]any{
				"Authorization": "Bearer " + secrets["literal header"],
				"Cookie":        "session=" + secrets["literal cookie"],
				"X-Api-Key":     secrets["literal api key"],
				"X-Custom":      "{{api_token}}",
			},
			"webhook_url_params": map[string]any{"secret": "{{client_secret}}", "plain": "visible"},
			"webhook_body":       map[string]any{"user": "ann", "password": "{{db_password}}", "note": "pw is {{db_password}}"},
		}),
		step(2, "POST", tg.URL+"/use", map[string]any{
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
	login := tg.Requests("/login")
	use := tg.Requests("/use")
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
	for what, text := range map[string]string{
		"stored attempts": stored, "GET /v1/executions/{id}": string(view.Raw),
		"GET /v1/webhooks/{id}/executions": string(list.Raw), "logs": logs.String(),
	} {
		for name, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s contain the %s secret %q: %s", what, name, secret, text)
			}
		}
	}
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
