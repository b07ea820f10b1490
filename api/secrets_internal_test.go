package api

// Tests of what answers and audit summaries show of secrets.

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/keyring"
)

// TestRedactExecutionShowsEverySecret: a sealed trigger value is shown as
// a secret whatever its name, including a name redact masks by itself
// (api_key); a sensitive name that is not a secret is masked; the key
// "secret" of the shown form is not.
func TestRedactExecutionShowsEverySecret(t *testing.T) {
	t.Parallel()
	sealed := keyring.Prefix + "k1:c2VhbGVk"
	e := &flow.Execution{Variables: json.RawMessage(`{"api_key":"` + sealed + `","crm":"` + sealed + `","password":"pw","n":1}`)}
	redactExecution(e)
	var got, want map[string]any
	if err := json.Unmarshal(e.Variables, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(`{"api_key":{"value":null,"secret":true},"crm":{"value":null,"secret":true},"password":"[redacted]","n":1}`), &want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("variables shown (-want +got):\n%s", diff)
	}
}

// TestChangedFieldsSeesSecretValues: an update that changes only a secret
// variable's value is summarised as changing predefinedVariables, though
// both states answer the value as null; the summary never holds a value.
func TestChangedFieldsSeesSecretValues(t *testing.T) {
	t.Parallel()
	state := func(value string) *flow.Flow {
		return &flow.Flow{Name: "f", PredefinedVariables: []flow.PredefinedVariable{
			{Name: "crm", Value: json.RawMessage(`"` + value + `"`), Secret: true}}}
	}
	before, after := state("old-SECRET-value"), state("new-SECRET-value")
	if diff := cmp.Diff([]string{"predefinedVariables"}, changedFields(before, after, &flow.FlowInput{})); diff != "" {
		t.Errorf("changed fields (-want +got):\n%s", diff)
	}
	if got := changedFields(before, state("old-SECRET-value"), &flow.FlowInput{}); len(got) != 0 {
		t.Errorf("an unchanged secret: changed fields %v, want none", got)
	}
}
