package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
)

// secretFlow is a flow sending its secret variable crm in a header to
// target.
func secretFlow(target, value string) map[string]any {
	return map[string]any{
		"name": "secret flow",
		"predefinedVariables": []any{
			map[string]any{"name": "crm", "value": value, "secret": true},
			map[string]any{"name": "plain", "value": "visible"},
		},
		"steps": []any{map[string]any{
			"step_number": 1, "webhook_url": target, "webhook_method": "POST",
			"webhook_headers": map[string]any{"X-Crm": "{{crm}}", "X-Plain": "{{plain}}"},
		}},
	}
}

// checkSecretHidden fails unless every flow in data (one flow object or a
// list) shows crm as {"value": null, "secret": true} and plain's value.
func checkSecretHidden(t *testing.T, what string, data json.RawMessage) {
	t.Helper()
	var flows []struct {
		PredefinedVariables []map[string]json.RawMessage `json:"predefinedVariables"`
	}
	if err := json.Unmarshal(data, &flows); err != nil {
		flows = flows[:0]
		var one struct {
			PredefinedVariables []map[string]json.RawMessage `json:"predefinedVariables"`
		}
		if err := json.Unmarshal(data, &one); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		flows = append(flows, one)
	}
	for _, f := range flows {
		got, _ := json.Marshal(f.PredefinedVariables)
		if want := `[{"name":"crm","secret":true,"value":null},{"name":"plain","value":"visible"}]`; string(got) != want {
			t.Errorf("%s: predefinedVariables %s, want %s", what, got, want)
		}
	}
}

// createHidden sends body to path, wants 201 with the secret hidden (what
// names the request), and returns the new flow's id.
func (b *testBundle) createHidden(t *testing.T, what, path string, body any) uuid.UUID {
	t.Helper()
	r := b.env.Do(t, b.tenant, "POST", path, body)
	if r.Code != http.StatusCreated {
		t.Fatalf("%s: %d %s", what, r.Code, r.Raw)
	}
	checkSecretHidden(t, what, r.Data)
	var f struct {
		ID uuid.UUID `json:"id"`
	}
	r.Decode(t, &f)
	return f.ID
}

// sentSecret triggers flow id and returns the X-Crm header the target got.
func (b *testBundle) sentSecret(t *testing.T, tg *flowdtest.Target, id uuid.UUID) string {
	t.Helper()
	e := b.env.Trigger(t, b.tenant, id, nil)
	done := b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success", "failed")
	if done.Status != "success" {
		t.Fatalf("execution %s, want success", done.Status)
	}
	reqs := tg.Requests("/crm")
	return reqs[len(reqs)-1].Header.Get("X-Crm")
}

// TestSecretVariablesWriteOnly: every answer hides a secret's value; a PUT
// of an answer keeps it, a new value replaces it; a clone keeps it secret,
// with the source's value or an override; nothing is stored in clear.
func TestSecretVariablesWriteOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tg := flowdtest.NewTarget(t)
	values := []string{"crm-A1-SECRET-first", "crm-B2-SECRET-second", "crm-C3-SECRET-clone"}

	id := b.createHidden(t, "POST /v1/webhooks", "/v1/webhooks", secretFlow(tg.URL+"/crm", values[0]))
	path := "/v1/webhooks/" + id.String()
	got := b.env.Do(t, b.tenant, "GET", path, nil)
	checkSecretHidden(t, "GET /v1/webhooks/{id}", got.Data)
	checkSecretHidden(t, "GET /v1/webhooks", b.env.Do(t, b.tenant, "GET", "/v1/webhooks", nil).Data)

	// The answer sent back as is keeps the secret.
	replaced := b.env.Do(t, b.tenant, "PUT", path, []byte(got.Data))
	if replaced.Code != http.StatusOK {
		t.Fatalf("PUT the answer back: %d %s", replaced.Code, replaced.Raw)
	}
	checkSecretHidden(t, "PUT /v1/webhooks/{id}", replaced.Data)
	if sent := b.sentSecret(t, tg, id); sent != values[0] {
		t.Errorf("after a PUT without the value the step sent %q, want the stored %q", sent, values[0])
	}
	// A new value replaces it.
	if r := b.env.Do(t, b.tenant, "PUT", path, secretFlow(tg.URL+"/crm", values[1])); r.Code != http.StatusOK {
		t.Fatalf("PUT a new value: %d %s", r.Code, r.Raw)
	}
	if sent := b.sentSecret(t, tg, id); sent != values[1] {
		t.Errorf("after a PUT with a new value the step sent %q, want %q", sent, values[1])
	}

	// Clones keep the secrecy, with the source's value or an override.
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"flow_name": "copy"}, values[1]},
		{map[string]any{"flow_name": "override", "dynamicVariables": map[string]any{"crm": values[2]}}, values[2]},
	} {
		clone := b.createHidden(t, "POST /v1/integrations/{id}/clone", "/v1/integrations/"+id.String()+"/clone", tc.body)
		if sent := b.sentSecret(t, tg, clone); sent != tc.want {
			t.Errorf("clone %v sent %q, want %q", tc.body, sent, tc.want)
		}
	}

	dump := testdb.TextDump(t, b.env.Pool)
	for _, v := range values {
		if strings.Contains(dump, v) {
			t.Errorf("the database holds the secret %q in clear", v)
		}
	}
}

// TestSecretVariableRefused: a secret's value must be a string long enough
// to be masked by value.
func TestSecretVariableRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, value := range []any{"abc", 12345, map[string]any{"k": "v"}} {
		def := secretFlow(b.target.URL, "")
		def["predefinedVariables"].([]any)[0].(map[string]any)["value"] = value
		r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks", def)
		if r.Code != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.Errors[0].Field != "predefinedVariables[0].value" {
			t.Errorf("secret value %v: %d %+v, want 422 naming predefinedVariables[0].value", value, r.Code, r.Errors)
		}
	}
}
