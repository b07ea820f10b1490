package engine_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/redact"
)

// TestSecretVariablesMaskedByValue runs a flow whose secret variables have
// harmless names (so masking by name cannot help): one, overridden at
// trigger time, is sent in the query string, one in a header, one inside a
// longer body string, and the target echoes one into the response that the
// error text quotes. The target gets
// every real value; the records, the execution as answered, the error
// message, the logs and every text column of the database hold none.
func TestSecretVariablesMaskedByValue(t *testing.T) {
	t.Parallel()
	logs := &flowdtest.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: redact.ReplaceAttr}))
	env := flowdtest.New(t, &flowdtest.Options{Logger: logger})
	b := &runBundle{env: env, tenant: env.NewTenant(t)}
	tg := flowdtest.NewTarget(t)
	secrets := map[string]string{"account": "acct-7Q2-SECRET-query", "region": "rgn-9Z4-SECRET-header", "note": "nte-3K8-SECRET-body",
		"trigger account": "acct-5T1-SECRET-trigger"}
	tg.Handle("/crm", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"error": "no account %s"}`, r.URL.Query().Get("account"))
	})
	def := flowDef("secret variables", []any{
		step(1, "POST", tg.URL+"/crm", map[string]any{
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

	sent := tg.Requests("/crm")
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
	for what, text := range map[string]string{
		"GET /v1/executions/{id}": string(view.Raw), "GET /v1/webhooks/{id}": string(flowAnswer.Raw),
		"logs": logs.String(), "database": dump,
	} {
		for name, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s contain the %s secret %q", what, name, secret)
			}
		}
	}
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
