package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

// The documents below are exactly what flowd stored before the store had
// documents of its own (the domain types' JSON). Rows already stored must
// keep reading the same, and new rows must be written the same.
const (
	goldenSteps = `{
		"1": {"status": "success", "attempts": 2, "first_started_at": "2026-01-02T03:04:05Z",
		      "finished_at": "2026-01-02T03:04:07.5Z", "vars": {"tok": "abc", "n": 42}},
		"2": {"status": "waiting", "attempts": 1, "first_started_at": "2026-01-02T03:04:05Z",
		      "next_attempt_at": "2026-01-02T03:05:00Z", "error": "status 503", "permanent": true},
		"3": {"status": "pending", "attempts": 0}}`
	goldenDefinition = `{
		"flow_id": "6f1c1a52-5bb3-4a4e-8d5e-8f8e8f8e8f8e", "version": 3, "name": "contacts",
		"retry_delay": 5, "retry_delay_unit": "seconds", "max_retries": 2, "flow_direction": "inbound",
		"flow_mapping": {"records": "items"},
		"predefinedVariables": [{"name": "user", "value": "admin"}],
		"variables": [{"name": "token", "location": "session.token", "stepId": 1, "type": "body", "dataType": "string", "customValue": ""}],
		"steps": [{"id": "00000000-0000-0000-0000-000000000000", "step_number": 1,
			"webhook_url": "https://crm.example.com/login", "webhook_method": "POST", "webhook_timeout": 30,
			"retry_limit": 2, "timeout": 120, "created_at": "0001-01-01T00:00:00Z", "updated_at": "0001-01-01T00:00:00Z",
			"webhook_url_params": {}, "webhook_headers": {"X-A": "b"}, "webhook_body": {"user": "{{user}}"},
			"depends_on_step": null, "success_condition": {"status_code": 200}, "deleted_at": null}]}`
)

func TestStepsDocumentCompatible(t *testing.T) {
	t.Parallel()
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	want := map[int]*flow.StepState{
		1: {Status: "success", Attempts: 2, FirstStartedAt: at("2026-01-02T03:04:05Z"), FinishedAt: at("2026-01-02T03:04:07.5Z"),
			Vars: json.RawMessage(`{"tok": "abc", "n": 42}`)},
		2: {Status: "waiting", Attempts: 1, FirstStartedAt: at("2026-01-02T03:04:05Z"), NextAttemptAt: at("2026-01-02T03:05:00Z"),
			Error: "status 503", Permanent: true},
		3: {Status: "pending"},
	}
	decodesTo(t, goldenSteps, decodeSteps, want)
	sameDocument(t, goldenSteps, encodeSteps(want))
}

func TestDefinitionDocumentCompatible(t *testing.T) {
	t.Parallel()
	want := &flow.Definition{
		FlowID: uuid.MustParse("6f1c1a52-5bb3-4a4e-8d5e-8f8e8f8e8f8e"), Version: 3, Name: "contacts",
		RetryDelay: 5, RetryDelayUnit: "seconds", MaxRetries: 2, FlowDirection: "inbound",
		FlowMapping:         json.RawMessage(`{"records": "items"}`),
		PredefinedVariables: []flow.PredefinedVariable{{Name: "user", Value: json.RawMessage(`"admin"`)}},
		Variables:           []flow.Variable{{Name: "token", Location: "session.token", StepID: 1, Type: "body", DataType: "string"}},
		Steps: []flow.Step{{StepNumber: 1, WebhookURL: "https://crm.example.com/login", WebhookMethod: "POST",
			WebhookTimeout: 30, RetryLimit: 2, Timeout: 120, WebhookURLParams: json.RawMessage(`{}`),
			WebhookHeaders: json.RawMessage(`{"X-A": "b"}`), WebhookBody: json.RawMessage(`{"user": "{{user}}"}`),
			SuccessCondition: json.RawMessage(`{"status_code": 200}`)}},
		PropagateTrace: true, // stored before the field: the default
	}
	decodesTo(t, goldenDefinition, decodeDefinition, want)
	sameDocument(t, goldenDefinition, encodeDefinition(want))

	// Definitions stored before migration 010 held the flow's signing
	// secret; one that still does (a database migrated down and up again
	// by hand) reads the same, the secret ignored.
	legacy := strings.TrimSuffix(goldenDefinition, "}") + `, "signing_secret": "whsec_abc"}`
	decodesTo(t, legacy, decodeDefinition, want)

	want.PropagateTrace = false
	off, err := decodeDefinition(encodeDefinition(want))
	if err != nil || off.PropagateTrace {
		t.Errorf("propagate_trace false does not survive the document: %v, %v", off, err)
	}
}

func TestVariablesDocumentsCompatible(t *testing.T) {
	t.Parallel()
	const predefined = `[{"name": "user", "value": {"id": 7}}]`
	const variables = `[{"name": "n", "location": "total", "stepId": 2, "type": "body", "dataType": "integer", "customValue": "x"}]`
	p, err := decodePredefinedVariables([]byte(predefined))
	if err != nil {
		t.Fatal(err)
	}
	sameDocument(t, predefined, encodePredefinedVariables(p))
	v, err := decodeVariables([]byte(variables))
	if err != nil {
		t.Fatal(err)
	}
	if v[0].StepID != 2 || v[0].CustomValue != "x" {
		t.Errorf("decoded variables: %+v", v)
	}
	sameDocument(t, variables, encodeVariables(v))
	sameDocument(t, `[]`, encodeVariables(nil))
	if p, err := decodePredefinedVariables([]byte(`[]`)); err != nil || p == nil || len(p) != 0 {
		t.Errorf("empty predefined variables: %#v, %v", p, err)
	}
}

// TestDefinitionDocumentHasEveryField: definitionDoc is converted field by
// field, so it must list the fields of flow.Definition, in order (the other
// documents convert with a plain conversion, which the compiler checks).
func TestDefinitionDocumentHasEveryField(t *testing.T) {
	t.Parallel()
	names := func(typ reflect.Type) []string {
		var out []string
		for f := range typ.Fields() {
			out = append(out, f.Name)
		}
		return out
	}
	if diff := cmp.Diff(names(reflect.TypeFor[flow.Definition]()), names(reflect.TypeFor[definitionDoc]())); diff != "" {
		t.Errorf("fields of flow.Definition (-) and definitionDoc (+):\n%s", diff)
	}
}

func TestStorableJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     any // the decoded value of the output
	}{
		{"clean", `{"a": "b", "n": 1}`, map[string]any{"a": "b", "n": json.Number("1")}},
		{"escaped NUL", `{"a": "x\u0000y"}`, map[string]any{"a": "x\uFFFDy"}},
		{"NUL in a key", `{"k\u0000": 1}`, map[string]any{"k\uFFFD": json.Number("1")}},
		{"escaped backslash then u0000", `{"a": "\\u0000"}`, map[string]any{"a": `\u0000`}},
		{"invalid UTF-8", "{\"a\": \"x\xff\xfey\"}", map[string]any{"a": "x\uFFFD\uFFFDy"}},
		{"lone surrogate", `{"a": "\ud800"}`, map[string]any{"a": "\uFFFD"}},
		{"surrogate pair", `{"a": "\ud83d\ude00"}`, map[string]any{"a": "😀"}},
		{"big number kept", `[12345678901234567890, "\u0000", {"b": [true, null]}]`,
			[]any{json.Number("12345678901234567890"), "\uFFFD", map[string]any{"b": []any{true, nil}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := storableJSON([]byte(tc.in))
			if tc.name == "clean" && string(out) != tc.in {
				t.Errorf("a clean document was rewritten: %s", out)
			}
			var got any
			dec := json.NewDecoder(bytes.NewReader(out))
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("output %q is not JSON: %v", out, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("storableJSON(%q) = %s (-want +got):\n%s", tc.in, out, diff)
			}
		})
	}
}

// decodesTo fails unless the stored document doc decodes to want.
func decodesTo[T any](t *testing.T, doc string, decode func([]byte) (T, error), want T) {
	t.Helper()
	got, err := decode([]byte(doc))
	if err != nil {
		t.Fatalf("decode stored document: %v", err)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(sameJSON)); diff != "" {
		t.Errorf("decode stored document (-want +got):\n%s", diff)
	}
}

// sameDocument fails unless got encodes the same JSON value as want.
func sameDocument(t *testing.T, want string, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("encoded document %s: %v", got, err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("encoded document differs from what is stored (-stored +encoded):\n%s", diff)
	}
}

// sameJSON compares raw JSON values by meaning.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(x, y)
}
