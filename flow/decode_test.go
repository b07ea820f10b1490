package flow

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/internal/tabletest"
)

func ptr[T any](v T) *T { return &v }

func TestDecodeFlowSeed(t *testing.T) {
	t.Parallel()

	got := seedInput(t)
	want := &FlowInput{
		WorkspaceID:    "default",
		Name:           "VTIGER BRING CONTACTS",
		Logo:           "https://cdn.example.com/logos/vtiger.png",
		RetryDelay:     5,
		RetryDelayUnit: "seconds",
		MaxRetries:     3,
		FlowDirection:  "inbound",
		FlowMapping:    json.RawMessage(`{"records":{"step":2,"path":"result","fields":{"vtiger_id":"id","first_name":"firstname","last_name":"lastname","email":"email","phone":"mobile"}}}`),
		TagName:        "lead1",
		CategoryName:   "all leads",
		PropagateTrace: true,
		Events:         []string{},
		PredefinedVariables: []PredefinedVariable{
			{Name: "vtiger_base_url", Value: json.RawMessage(`"https://acme.od1.vtiger.com/restapi/v1/vtiger/default"`)},
			{Name: "vtiger_credentials", Value: json.RawMessage(`"YWRtaW5AYWNtZS5leGFtcGxlOmFjY2Vzc2tleQ=="`)},
		},
		Variables: []Variable{
			{Name: "user_id", Location: "result.id", StepID: 1, Type: "body", DataType: "string"},
			{Name: "contact_count", Location: "result.#", StepID: 2, Type: "body", DataType: "integer", CustomValue: "0"},
		},
		Steps: []Step{
			{
				StepNumber:       1,
				WebhookURL:       "{{vtiger_base_url}}/me",
				WebhookMethod:    "GET",
				WebhookTimeout:   30,
				RetryLimit:       3,
				Timeout:          123,
				WebhookURLParams: json.RawMessage(`{}`),
				WebhookHeaders:   json.RawMessage(`{"Authorization":"Basic {{vtiger_credentials}}","Accept":"application/json"}`),
				WebhookBody:      json.RawMessage(`{}`),
				SuccessCondition: json.RawMessage(`{"status_code":200,"response_key":"success","expected_value":true}`),
			},
			{
				StepNumber:       2,
				WebhookURL:       "https://acme.od1.vtiger.com/restapi/v1/vtiger/default/query",
				WebhookMethod:    "GET",
				WebhookTimeout:   30,
				RetryLimit:       3,
				Timeout:          123,
				WebhookURLParams: json.RawMessage(`{"query":"SELECT id, firstname, lastname, email, mobile FROM Contacts WHERE assigned_user_id = '{{user_id}}' LIMIT 100;"}`),
				WebhookHeaders:   json.RawMessage(`{"Authorization":"Basic {{vtiger_credentials}}","X-Request-Id":"{{$execution_id}}"}`),
				WebhookBody:      json.RawMessage(`{}`),
				DependsOnStep:    ptr(1),
				SuccessCondition: json.RawMessage(`{"status_code":[200],"expression":"body.success == true && len(body.result) <= 100"}`),
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeFlow(seed_flow.json) (-want +got):\n%s", diff)
	}
}

func TestDecodeFlowDefaults(t *testing.T) {
	t.Parallel()

	got, err := DecodeFlow([]byte(`{"name": "  minimal  ", "steps": [{"step_number": 1, "webhook_method": "post", "webhook_url": "https://example.com/hook"}],
		"predefinedVariables": null, "variables": null, "logo": null, "schedule": "", "signing_secret": null,
		"retry_delay_unit": "MINUTES", "flow_direction": "", "workspace_id": ""}`))
	if err != nil {
		t.Fatalf("DecodeFlow: %v", err)
	}
	want := &FlowInput{
		WorkspaceID:         "default",
		Name:                "minimal",
		RetryDelay:          5,
		RetryDelayUnit:      "minutes",
		FlowDirection:       "outbound",
		FlowMapping:         json.RawMessage(`{}`),
		PropagateTrace:      true,
		PredefinedVariables: []PredefinedVariable{},
		Variables:           []Variable{},
		Events:              []string{},
		Steps: []Step{{
			StepNumber:       1,
			WebhookURL:       "https://example.com/hook",
			WebhookMethod:    "POST",
			WebhookTimeout:   30,
			Timeout:          300,
			WebhookURLParams: json.RawMessage(`{}`),
			WebhookHeaders:   json.RawMessage(`{}`),
			WebhookBody:      json.RawMessage(`null`),
			SuccessCondition: json.RawMessage(`{}`),
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeFlow (-want +got):\n%s", diff)
	}
}

func TestDecodeFlowKeepsValues(t *testing.T) {
	t.Parallel()

	got, err := DecodeFlow([]byte(`{"name": "x", "schedule": " */5 * * * * ", "signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"is_template": true, "max_retries": 20, "retry_delay": 30, "retry_delay_unit": "days", "flow_mapping": {"email": "contact.email"},
		"predefinedVariables": [{"name": "n", "value": {"b": 1.50, "a": "<&>"}}, {"name": "m"}],
		"steps": [{"step_number": 1, "webhook_method": "post", "webhook_url": "https://example.com/{{email}}",
		  "webhook_body": {"z": "{{n}}", "a": [1e2, "\u00e9\ud800"]}, "webhook_timeout": 300, "timeout": 300, "retry_limit": 10}]}`))
	if err != nil {
		t.Fatalf("DecodeFlow: %v", err)
	}
	type kept struct {
		Schedule, SigningSecret string
		IsTemplate              bool
		MaxRetries, RetryDelay  int
		Mapping, Body           string
		Predefined              []PredefinedVariable
	}
	gotKept := kept{
		Schedule: *got.Schedule, SigningSecret: *got.SigningSecret, IsTemplate: got.IsTemplate,
		MaxRetries: got.MaxRetries, RetryDelay: got.RetryDelay,
		Mapping: string(got.FlowMapping), Body: string(got.Steps[0].WebhookBody), Predefined: got.PredefinedVariables,
	}
	want := kept{
		Schedule: "*/5 * * * *", SigningSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", IsTemplate: true, MaxRetries: 20, RetryDelay: 30,
		Mapping: `{"email":"contact.email"}`,
		Body:    `{"z":"{{n}}","a":[1e2,"é` + "\ufffd" + `"]}`,
		Predefined: []PredefinedVariable{
			{Name: "n", Value: json.RawMessage(`{"b":1.50,"a":"<&>"}`)},
			{Name: "m", Value: json.RawMessage(`null`)},
		},
	}
	if diff := cmp.Diff(want, gotKept); diff != "" {
		t.Errorf("DecodeFlow (-want +got):\n%s", diff)
	}
}

func TestDecodeFlowMalformed(t *testing.T) {
	t.Parallel()

	// The message of the error, which must wrap ErrMalformedJSON.
	decode := func(body string) string {
		_, err := DecodeFlow([]byte(body))
		if !errors.Is(err, ErrMalformedJSON) {
			return fmt.Sprintf("%v, not an error wrapping ErrMalformedJSON", err)
		}
		return err.Error()
	}
	tabletest.Func(t, "DecodeFlow", decode, []tabletest.Case[string, string]{
		{Name: "empty", In: ``, Want: "malformed JSON: the body is empty"},
		{Name: "spaces", In: "  \n", Want: "malformed JSON: the body is empty"},
		{Name: "not JSON", In: `name=x`, Want: "malformed JSON: invalid character 'a' in literal null (expecting 'u')"},
		{Name: "truncated", In: `{"name": "x"`, Want: "malformed JSON: unexpected EOF"},
		{Name: "trailing data", In: `{"name": "x"} {}`, Want: "malformed JSON: invalid JSON: data after the top-level value"},
		{Name: "trailing garbage", In: `{"name": "x"}x`, Want: "malformed JSON: invalid JSON: data after the top-level value"},
		{Name: "array", In: `[{"name": "x"}]`, Want: "malformed JSON: the body must be a JSON object"},
		{Name: "string", In: `"x"`, Want: "malformed JSON: the body must be a JSON object"},
		{Name: "null", In: `null`, Want: "malformed JSON: the body must be a JSON object"},
		{Name: "invalid UTF-8", In: "{\"name\": \"\xff\"}", Want: "malformed JSON: the body is not valid UTF-8"},
	})
}

// validFlow is the flow the validation cases start from.
const validFlow = `{
  "name": "valid",
  "predefinedVariables": [{"name": "base", "value": "https://api.example.com"}, {"name": "token", "value": "t"}],
  "variables": [
    {"name": "user_id", "type": "body", "location": "data.id", "stepId": 1, "dataType": "integer"},
    {"name": "etag", "type": "header", "location": "ETag", "stepId": 1}
  ],
  "flow_mapping": {"email": "contact.email"},
  "steps": [
    {"step_number": 1, "webhook_method": "GET", "webhook_url": "https://api.example.com/me",
     "webhook_headers": {"Authorization": "Bearer {{token}}"}},
    {"step_number": 2, "webhook_method": "POST", "webhook_url": "https://api.example.com/users/{{user_id}}",
     "depends_on_step": 1, "webhook_body": {"email": "{{email}}", "etag": "{{etag}}"}}
  ]
}`

// flowWith returns validFlow changed by edit, which gets the flow decoded
// as maps and slices.
func flowWith(t *testing.T, edit func(f map[string]any)) []byte {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal([]byte(validFlow), &f); err != nil {
		t.Fatal(err)
	}
	edit(f)
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// step returns step i of a flow being edited.
func step(f map[string]any, i int) map[string]any {
	return f["steps"].([]any)[i].(map[string]any)
}

// variable returns variable i of a flow being edited.
func variable(f map[string]any, i int) map[string]any {
	return f["variables"].([]any)[i].(map[string]any)
}

// fromJSON decodes a JSON literal for use in an edit.
func fromJSON(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

func TestDecodeFlowValid(t *testing.T) {
	t.Parallel()

	if _, err := DecodeFlow([]byte(validFlow)); err != nil {
		t.Fatalf("DecodeFlow(validFlow): %v", err)
	}
}

func TestDecodeFlowValidation(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		edit func(f map[string]any)
		want []FieldError
	}{
		// Document and flow fields.
		{"unknown field", func(f map[string]any) { f["nmae"] = "x"; f["Name"] = "y" },
			[]FieldError{{"Name", "unknown field"}, {"nmae", "unknown field"}}},
		{"read-only fields ignored", func(f map[string]any) {
			for _, k := range []string{"id", "created_by", "company_id", "status", "created_at", "updated_at", "executions", "deleted_at", "version", "has_signing_secret"} {
				f[k] = "anything"
			}
			for _, k := range []string{"id", "created_at", "updated_at", "deleted_at"} {
				step(f, 0)[k] = "anything"
			}
		}, nil},
		{"name missing", func(f map[string]any) { delete(f, "name") }, []FieldError{{"name", "is required"}}},
		{"name null", func(f map[string]any) { f["name"] = nil }, []FieldError{{"name", "is required"}}},
		{"name blank", func(f map[string]any) { f["name"] = "   " }, []FieldError{{"name", "must not be empty"}}},
		{"name too long", func(f map[string]any) { f["name"] = strings.Repeat("é", 201) }, []FieldError{{"name", "must be at most 200 characters"}}},
		{"name 200 runes", func(f map[string]any) { f["name"] = strings.Repeat("é", 200) }, nil},
		{"name type", func(f map[string]any) { f["name"] = 12 }, []FieldError{{"name", "must be a string"}}},
		{"workspace_id too long", func(f map[string]any) { f["workspace_id"] = strings.Repeat("w", 101) }, []FieldError{{"workspace_id", "must be at most 100 characters"}}},
		{"logo type", func(f map[string]any) { f["logo"] = true }, []FieldError{{"logo", "must be a string"}}},
		{"tag and category too long", func(f map[string]any) {
			f["tag_name"] = strings.Repeat("t", 201)
			f["category_name"] = strings.Repeat("c", 201)
		}, []FieldError{{"category_name", "must be at most 200 characters"}, {"tag_name", "must be at most 200 characters"}}},
		{"retry_delay range", func(f map[string]any) { f["retry_delay"] = -1 }, []FieldError{{"retry_delay", "must be between 0 and 10000"}}},
		{"retry_delay type", func(f map[string]any) { f["retry_delay"] = "5" }, []FieldError{{"retry_delay", "must be an integer"}}},
		{"retry_delay fraction", func(f map[string]any) { f["retry_delay"] = 1.5 }, []FieldError{{"retry_delay", "must be an integer"}}},
		{"retry_delay huge", func(f map[string]any) { f["retry_delay"] = fromJSON("1e300") }, []FieldError{{"retry_delay", "must be between 0 and 10000"}}},
		{"retry_delay over 30 days", func(f map[string]any) { f["retry_delay"] = 31; f["retry_delay_unit"] = "Days" },
			[]FieldError{{"retry_delay", "retry_delay x retry_delay_unit must be at most 30 days"}}},
		{"retry_delay 30 days", func(f map[string]any) { f["retry_delay"] = 720; f["retry_delay_unit"] = "hours" }, nil},
		{"retry_delay_unit", func(f map[string]any) { f["retry_delay_unit"] = "weeks" },
			[]FieldError{{"retry_delay_unit", "must be one of seconds, minutes, hours or days"}}},
		{"max_retries", func(f map[string]any) { f["max_retries"] = 21 }, []FieldError{{"max_retries", "must be between 0 and 20"}}},
		{"is_template type", func(f map[string]any) { f["is_template"] = "false" }, []FieldError{{"is_template", "must be a boolean"}}},
		{"propagate_trace type", func(f map[string]any) { f["propagate_trace"] = "no" }, []FieldError{{"propagate_trace", "must be a boolean"}}},
		{"propagate_trace false", func(f map[string]any) { f["propagate_trace"] = false }, nil},
		{"flow_direction", func(f map[string]any) { f["flow_direction"] = "sideways" },
			[]FieldError{{"flow_direction", "must be one of inbound or outbound"}}},
		{"schedule", func(f map[string]any) { f["schedule"] = "every day" },
			[]FieldError{{"schedule", "invalid cron expression: expected exactly 5 fields, found 2: [every day]"}}},
		{"schedule type", func(f map[string]any) { f["schedule"] = 5 }, []FieldError{{"schedule", "must be a string"}}},
		{"events valid", func(f map[string]any) {
			f["events"] = []any{"call.ended", "call.*", "*", "lead_2.created-x"}
			f["event_filter"] = `event.data.duration > 30 && event.type startsWith "call."`
		}, nil},
		{"events type", func(f map[string]any) { f["events"] = "call.ended" }, []FieldError{{"events", "must be an array"}}},
		{"events patterns", func(f map[string]any) {
			f["events"] = []any{"call..ended", "call ended", 5, "call.*.x", ".*", "call.*", "call.*", strings.Repeat("a", 129), ""}
		}, []FieldError{
			{"events[0]", "must be an event type (call.ended), a prefix pattern (call.*) or *"},
			{"events[1]", "must be an event type (call.ended), a prefix pattern (call.*) or *"},
			{"events[2]", "must be a string"},
			{"events[3]", "must be an event type (call.ended), a prefix pattern (call.*) or *"},
			{"events[4]", "must be an event type (call.ended), a prefix pattern (call.*) or *"},
			{"events[6]", "repeats events[5]"},
			{"events[7]", "must be at most 128 characters"},
			{"events[8]", "must be an event type (call.ended), a prefix pattern (call.*) or *"},
		}},
		{"events too many", func(f map[string]any) {
			var ev []any
			for i := range 51 {
				ev = append(ev, fmt.Sprintf("e%d", i))
			}
			f["events"] = ev
		}, []FieldError{{"events", "must hold at most 50 patterns"}}},
		{"event_filter syntax", func(f map[string]any) { f["event_filter"] = "event.data.duration >" },
			[]FieldError{{"event_filter", "unexpected token EOF (1:21)"}}},
		{"event_filter not boolean", func(f map[string]any) { f["event_filter"] = `event.type + "!"` },
			[]FieldError{{"event_filter", "expected bool, but got string"}}},
		{"event_filter unknown field", func(f map[string]any) { f["event_filter"] = `event.kind == "x"` },
			[]FieldError{{"event_filter", "type flow.eventFields has no field kind (1:7)"}}},
		{"event_filter type", func(f map[string]any) { f["event_filter"] = true }, []FieldError{{"event_filter", "must be a string"}}},
		{"event_filter blank", func(f map[string]any) { f["event_filter"] = "  " }, nil},
		{"signing_secret not whsec_", func(f map[string]any) { f["signing_secret"] = "a-raw-secret-of-40-characters-0123456789" },
			[]FieldError{{"signing_secret", `must start with "whsec_" (Standard Webhooks format: whsec_ and the base64 of the key)`}}},
		{"signing_secret not base64", func(f map[string]any) { f["signing_secret"] = "whsec_not base64 at all, not at all!!" },
			[]FieldError{{"signing_secret", "must be whsec_ followed by standard padded base64"}}},
		{"signing_secret unpadded", func(f map[string]any) { f["signing_secret"] = "whsec_" + strings.Repeat("A", 43) },
			[]FieldError{{"signing_secret", "must be whsec_ followed by standard padded base64"}}},
		{"signing_secret short key", func(f map[string]any) { f["signing_secret"] = "whsec_MDEyMzQ1Njc4OWFiY2RlZg==" },
			[]FieldError{{"signing_secret", "the base64 after whsec_ must decode to 24 to 64 bytes, not 16"}}},
		{"signing_secret long key", func(f map[string]any) {
			f["signing_secret"] = "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))
		},
			[]FieldError{{"signing_secret", "the base64 after whsec_ must decode to 24 to 64 bytes, not 65"}}},
		{"signing_secret 64-byte key", func(f map[string]any) {
			f["signing_secret"] = "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 64))
		}, nil},
		{"generate_signing_secret with signing_secret", func(f map[string]any) {
			f["signing_secret"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
			f["generate_signing_secret"] = true
		}, []FieldError{{"generate_signing_secret", "not with signing_secret: either flowd makes the secret or you give one"}}},
		{"generate_signing_secret type", func(f map[string]any) { f["generate_signing_secret"] = "yes" },
			[]FieldError{{"generate_signing_secret", "must be a boolean"}}},
		{"NUL characters", func(f map[string]any) {
			f["logo"] = "a\x00b"
			step(f, 1)["webhook_body"] = map[string]any{"k\x00": "v", "list": []any{"ok", "\x00"}}
		}, []FieldError{{"logo", "must not contain NUL characters"}, {"steps[1].webhook_body.list[1]", "must not contain NUL characters"}, {"steps[1].webhook_body[\"k\\x00\"]", "must not contain NUL characters"}}},

		// Steps.
		{"steps missing", func(f map[string]any) { delete(f, "steps") }, []FieldError{{"steps", "is required"}}},
		{"steps empty", func(f map[string]any) { f["steps"] = []any{} }, []FieldError{{"steps", "at least one step is required"}}},
		{"steps type", func(f map[string]any) { f["steps"] = map[string]any{} }, []FieldError{{"steps", "must be an array"}}},
		{"too many steps", func(f map[string]any) {
			var steps []any
			for i := 1; i <= 51; i++ {
				steps = append(steps, map[string]any{"step_number": i, "webhook_method": "GET", "webhook_url": "https://example.com"})
			}
			f["steps"] = steps
			f["variables"] = nil
		}, []FieldError{{"steps", "must have at most 50 steps"}}},
		{"step not an object", func(f map[string]any) { f["steps"].([]any)[0] = "step" },
			[]FieldError{{"steps[0]", "must be an object"}}},
		{"step references", func(f map[string]any) { f["steps"] = f["steps"].([]any)[1:] },
			[]FieldError{{"steps[0].depends_on_step", "step 1 does not exist"}, {"variables[0].stepId", "step 1 does not exist"}, {"variables[1].stepId", "step 1 does not exist"}}},
		{"step unknown field", func(f map[string]any) { step(f, 1)["webhook_urls"] = "x" }, []FieldError{{"steps[1].webhook_urls", "unknown field"}}},
		{"step_number missing", func(f map[string]any) { delete(step(f, 0), "step_number") },
			[]FieldError{{"steps[0].step_number", "is required"}}},
		{"step_number zero", func(f map[string]any) { step(f, 1)["step_number"] = 0 }, []FieldError{{"steps[1].step_number", "must be between 1 and 10000"}}},
		{"step_number too big", func(f map[string]any) { step(f, 1)["step_number"] = 10001 }, []FieldError{{"steps[1].step_number", "must be between 1 and 10000"}}},
		{"step_number type", func(f map[string]any) { step(f, 1)["step_number"] = "2" }, []FieldError{{"steps[1].step_number", "must be an integer"}}},
		{"step_number duplicate", func(f map[string]any) { step(f, 1)["step_number"] = 1; delete(step(f, 1), "depends_on_step") },
			[]FieldError{{"steps[1].step_number", "duplicate step_number 1 (also steps[0])"}}},
		{"webhook_method missing", func(f map[string]any) { delete(step(f, 1), "webhook_method") }, []FieldError{{"steps[1].webhook_method", "is required"}}},
		{"webhook_method invalid", func(f map[string]any) { step(f, 1)["webhook_method"] = "FETCH" },
			[]FieldError{{"steps[1].webhook_method", "must be one of GET, POST, PUT, DELETE, PATCH, OPTIONS or HEAD"}}},
		{"webhook_url missing", func(f map[string]any) { delete(step(f, 0), "webhook_url") }, []FieldError{{"steps[0].webhook_url", "is required"}}},
		{"webhook_url blank", func(f map[string]any) { step(f, 0)["webhook_url"] = " " }, []FieldError{{"steps[0].webhook_url", "is required"}}},
		{"webhook_url relative", func(f map[string]any) { step(f, 0)["webhook_url"] = "/me" },
			[]FieldError{{"steps[0].webhook_url", "must be an absolute http or https URL with a host"}}},
		{"webhook_url scheme", func(f map[string]any) { step(f, 0)["webhook_url"] = "ftp://example.com/x" },
			[]FieldError{{"steps[0].webhook_url", "must be an absolute http or https URL with a host"}}},
		{"webhook_url placeholder in host", func(f map[string]any) { step(f, 0)["webhook_url"] = "https://{{token}}.example.com/x" }, nil},
		{"webhook_url starting with placeholder", func(f map[string]any) { step(f, 0)["webhook_url"] = "{{base}}/me" }, nil},
		{"webhook_url starting with unknown placeholder", func(f map[string]any) { step(f, 0)["webhook_url"] = "{{nope}}/me" },
			[]FieldError{{"steps[0].webhook_url", `unknown variable "nope"`}}},
		{"webhook_url too long", func(f map[string]any) { step(f, 0)["webhook_url"] = "https://example.com/" + strings.Repeat("a", 2029) },
			[]FieldError{{"steps[0].webhook_url", "must be at most 2048 bytes"}}},
		{"webhook_timeout range", func(f map[string]any) { step(f, 0)["webhook_timeout"] = 301 }, []FieldError{{"steps[0].webhook_timeout", "must be between 1 and 300"}}},
		{"webhook_timeout zero", func(f map[string]any) { step(f, 0)["webhook_timeout"] = 0 }, []FieldError{{"steps[0].webhook_timeout", "must be between 1 and 300"}}},
		{"timeout range", func(f map[string]any) { step(f, 0)["timeout"] = 86401 }, []FieldError{{"steps[0].timeout", "must be between 1 and 86400"}}},
		{"timeout below webhook_timeout", func(f map[string]any) { step(f, 0)["timeout"] = 10 },
			[]FieldError{{"steps[0].timeout", "must be at least webhook_timeout (30)"}}},
		{"retry_limit range", func(f map[string]any) { step(f, 0)["retry_limit"] = 11 }, []FieldError{{"steps[0].retry_limit", "must be between 0 and 10"}}},
		{"params", func(f map[string]any) {
			step(f, 0)["webhook_url_params"] = map[string]any{"ok": "{{token}}", "n": 1, "b": true, "obj": map[string]any{}, "nil": nil, "bad": "{{nope}}", "long": strings.Repeat("x", 2049)}
		}, []FieldError{
			{"steps[0].webhook_url_params.bad", `unknown variable "nope"`},
			{"steps[0].webhook_url_params.long", "must be at most 2048 bytes"},
			{"steps[0].webhook_url_params.nil", "must be a string, number or boolean"},
			{"steps[0].webhook_url_params.obj", "must be a string, number or boolean"},
		}},
		{"params type", func(f map[string]any) { step(f, 0)["webhook_url_params"] = []any{} }, []FieldError{{"steps[0].webhook_url_params", "must be an object"}}},
		{"headers", func(f map[string]any) {
			step(f, 0)["webhook_headers"] = map[string]any{"Authorization": "Bearer {{nope}}", "Bad Name": "x", "X-N": 1, "X-Break": "a\r\nb", "X-Big": strings.Repeat("v", 8193)}
		}, []FieldError{
			{"steps[0].webhook_headers.Authorization", `unknown variable "nope"`},
			{"steps[0].webhook_headers.X-Big", "must be at most 8 KiB"},
			{"steps[0].webhook_headers.X-Break", "must not contain line breaks or NUL characters"},
			{"steps[0].webhook_headers.X-N", "must be a string"},
			{`steps[0].webhook_headers["Bad Name"]`, "invalid header name"},
		}},
		{"too many headers", func(f map[string]any) {
			h := map[string]any{}
			for i := range 51 {
				h["X-H"+strings.Repeat("a", i)] = "v"
			}
			step(f, 0)["webhook_headers"] = h
		}, []FieldError{{"steps[0].webhook_headers", "must have at most 50 headers"}}},
		{"body too big", func(f map[string]any) { step(f, 1)["webhook_body"] = strings.Repeat("b", 256<<10) },
			[]FieldError{{"steps[1].webhook_body", "must be at most 256 KiB"}}},
		{"body any JSON", func(f map[string]any) { step(f, 1)["webhook_body"] = []any{1, "two", nil, false} }, nil},
		{"body unknown variables", func(f map[string]any) {
			step(f, 1)["webhook_body"] = map[string]any{"a": map[string]any{"b": []any{"x", "{{nope}} {{ $flow_id }} {{$now}}"}}, "c": "{{$secret}}"}
		}, []FieldError{
			{"steps[1].webhook_body.a.b[1]", `unknown variable "nope"`},
			{"steps[1].webhook_body.c", `unknown variable "$secret"`},
		}},
		{"depends_on_step missing step", func(f map[string]any) { step(f, 1)["depends_on_step"] = 7 }, []FieldError{{"steps[1].depends_on_step", "step 7 does not exist"}}},
		{"depends_on_step itself", func(f map[string]any) { step(f, 1)["depends_on_step"] = 2 }, []FieldError{{"steps[1].depends_on_step", "a step cannot depend on itself"}}},
		{"depends_on_step type", func(f map[string]any) { step(f, 1)["depends_on_step"] = "1" }, []FieldError{{"steps[1].depends_on_step", "must be an integer"}}},
		{"success_condition", func(f map[string]any) {
			step(f, 0)["success_condition"] = map[string]any{"status_code": []any{200, 700}, "expected_value": 1, "expression": "status ==", "other": 1}
		}, []FieldError{
			{"steps[0].success_condition.expected_value", "is only allowed together with response_key"},
			{"steps[0].success_condition.expression", "unexpected token EOF (1:9)"},
			{"steps[0].success_condition.other", "unknown field"},
			{"steps[0].success_condition.status_code[1]", "must be an integer between 100 and 599"},
		}},
		{"success_condition type", func(f map[string]any) { step(f, 0)["success_condition"] = "2xx" }, []FieldError{{"steps[0].success_condition", "must be an object"}}},
		{"success_condition empty", func(f map[string]any) { step(f, 0)["success_condition"] = map[string]any{} }, nil},

		// Predefined variables.
		{"predefined", func(f map[string]any) {
			f["predefinedVariables"] = []any{
				map[string]any{"name": "ok", "value": map[string]any{"any": []any{1}}},
				map[string]any{"value": "no name"},
				map[string]any{"name": "ok", "value": 2},
				map[string]any{"name": "bad name", "extra": 1},
				"x",
				map[string]any{"name": "$execution_id"},
			}
		}, []FieldError{
			{"predefinedVariables[1].name", "is required"},
			{"predefinedVariables[2].name", `duplicate name "ok"`},
			{"predefinedVariables[3].extra", "unknown field"},
			{"predefinedVariables[3].name", "must start with a letter or _ and contain only letters, digits, _, . and -"},
			{"predefinedVariables[4]", "must be an object"},
			{"predefinedVariables[5].name", "must start with a letter or _ and contain only letters, digits, _, . and -"},
			{"steps[0].webhook_headers.Authorization", `unknown variable "token"`},
		}},
		{"predefined type", func(f map[string]any) { f["predefinedVariables"] = map[string]any{} },
			[]FieldError{{"predefinedVariables", "must be an array"}, {"steps[0].webhook_headers.Authorization", `unknown variable "token"`}}},

		// Variables.
		{"variable name", func(f map[string]any) { variable(f, 1)["name"] = "user_id" },
			[]FieldError{{"steps[1].webhook_body.etag", `unknown variable "etag"`}, {"variables[1].name", `duplicate name "user_id"`}}},
		{"variable name missing", func(f map[string]any) { delete(variable(f, 1), "name") },
			[]FieldError{{"steps[1].webhook_body.etag", `unknown variable "etag"`}, {"variables[1].name", "is required"}}},
		{"variable name invalid", func(f map[string]any) { variable(f, 1)["name"] = "1etag" },
			[]FieldError{{"steps[1].webhook_body.etag", `unknown variable "etag"`}, {"variables[1].name", "must start with a letter or _ and contain only letters, digits, _, . and -"}}},
		{"variable may shadow a predefined variable", func(f map[string]any) { variable(f, 1)["name"] = "base"; step(f, 1)["webhook_body"] = nil }, nil},
		{"variable type", func(f map[string]any) { variable(f, 0)["type"] = "cookie" },
			[]FieldError{{"variables[0].type", "must be one of body, header, status or custom"}}},
		{"variable type missing", func(f map[string]any) { delete(variable(f, 0), "type") }, []FieldError{{"variables[0].type", "is required"}}},
		{"variable type upper case", func(f map[string]any) { variable(f, 0)["type"] = "BODY"; variable(f, 0)["dataType"] = "Integer" }, nil},
		{"variable location missing", func(f map[string]any) { delete(variable(f, 0), "location"); variable(f, 1)["location"] = "" },
			[]FieldError{{"variables[0].location", "is required for a body variable"}, {"variables[1].location", "is required for a header variable"}}},
		{"variable header location invalid", func(f map[string]any) { variable(f, 1)["location"] = "E Tag" },
			[]FieldError{{"variables[1].location", "must be a valid HTTP header name"}}},
		{"variable status and custom need no location", func(f map[string]any) {
			f["variables"] = append(f["variables"].([]any),
				map[string]any{"name": "code", "type": "status", "stepId": 1},
				map[string]any{"name": "c", "type": "custom", "stepId": 2, "customValue": "7", "dataType": "number"})
		}, nil},
		{"variable stepId", func(f map[string]any) { variable(f, 0)["stepId"] = 9; delete(variable(f, 1), "stepId") },
			[]FieldError{{"variables[0].stepId", "step 9 does not exist"}, {"variables[1].stepId", "is required"}}},
		{"variable stepId type", func(f map[string]any) { variable(f, 0)["stepId"] = "1" }, []FieldError{{"variables[0].stepId", "must be an integer"}}},
		{"variable dataType", func(f map[string]any) { variable(f, 0)["dataType"] = "date" },
			[]FieldError{{"variables[0].dataType", "must be one of string, number, integer, boolean, object or array"}}},
		{"variable customValue type", func(f map[string]any) { variable(f, 0)["customValue"] = 5 }, []FieldError{{"variables[0].customValue", "must be a string"}}},
		{"variable customValue must convert", func(f map[string]any) { variable(f, 0)["customValue"] = "abc" },
			[]FieldError{{"variables[0].customValue", `cannot convert "abc" to integer`}}},
		{"custom variable value must convert", func(f map[string]any) {
			f["variables"] = append(f["variables"].([]any), map[string]any{"name": "c", "type": "custom", "stepId": 1, "dataType": "boolean"})
		}, []FieldError{{"variables[2].customValue", `cannot convert "" to boolean`}}},
		{"variable unknown field", func(f map[string]any) { variable(f, 0)["step_id"] = 1 }, []FieldError{{"variables[0].step_id", "unknown field"}}},
		{"too many variables", func(f map[string]any) {
			var vs []any
			for i := range 101 {
				vs = append(vs, map[string]any{"name": "v" + strconv.Itoa(i), "type": "status", "stepId": 1})
			}
			f["variables"] = vs
		}, []FieldError{{"steps[1].webhook_body.etag", `unknown variable "etag"`}, {"steps[1].webhook_url", `unknown variable "user_id"`}, {"variables", "must have at most 100 variables"}}},

		// flow_mapping.
		{"flow_mapping type", func(f map[string]any) { f["flow_mapping"] = "x" },
			[]FieldError{{"flow_mapping", "must be an object"}, {"steps[1].webhook_body.email", `unknown variable "email"`}}},
		{"flow_mapping values", func(f map[string]any) {
			f["flow_mapping"] = map[string]any{"email": 1, "bad key": "a", "empty": ""}
		}, []FieldError{
			{"flow_mapping.email", "must be a string"},
			{"flow_mapping.empty", "must not be empty"},
			{`flow_mapping["bad key"]`, "invalid variable name: must start with a letter or _ and contain only letters, digits, _, . and -"},
		}},
		{"flow_mapping records", func(f map[string]any) {
			f["flow_mapping"] = map[string]any{"email": "e", "records": map[string]any{"step": 2, "path": "data.items", "fields": map[string]any{"id": "id", "name": "attributes.name"}}}
		}, nil},
		{"flow_mapping records invalid", func(f map[string]any) {
			f["flow_mapping"] = map[string]any{"email": "e", "records": map[string]any{"step": 5, "fields": map[string]any{"id": 3}, "limit": 1}}
		}, []FieldError{
			{"flow_mapping.records.fields.id", "must be a string"},
			{"flow_mapping.records.limit", "unknown field"},
			{"flow_mapping.records.path", "is required"},
			{"flow_mapping.records.step", "step 5 does not exist"},
		}},
		{"flow_mapping records type", func(f map[string]any) { f["flow_mapping"] = map[string]any{"email": "e", "records": []any{}} },
			[]FieldError{{"flow_mapping.records", "must be an object"}}},
		{"records is not a template variable", func(f map[string]any) {
			f["flow_mapping"] = map[string]any{"email": "e", "records": map[string]any{"step": 1, "path": "x"}}
			step(f, 0)["webhook_url"] = "https://example.com/{{records}}"
		}, []FieldError{{"steps[0].webhook_url", `unknown variable "records"`}}},

		// Dependencies.
		{"variable used before it exists makes a dependency", func(f map[string]any) {
			delete(step(f, 1), "depends_on_step")
		}, nil},
		{"step uses its own variable", func(f map[string]any) { step(f, 0)["webhook_url"] = "https://example.com/{{user_id}}" },
			[]FieldError{{"steps", "dependency cycle: step 1 uses a variable it extracts itself"}}},
		{"cycle through variables and depends_on_step", func(f map[string]any) {
			step(f, 0)["depends_on_step"] = 2
		}, []FieldError{{"steps", "dependency cycle between steps 1 and 2"}}},
		{"longer cycle", func(f map[string]any) {
			f["steps"] = append(f["steps"].([]any), map[string]any{"step_number": 3, "webhook_method": "GET", "webhook_url": "https://example.com", "depends_on_step": 2})
			step(f, 0)["depends_on_step"] = 3
		}, []FieldError{{"steps", "dependency cycle between steps 1, 2 and 3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := flowWith(t, tt.edit)
			in, err := DecodeFlow(body)
			var got []FieldError
			if err != nil {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("DecodeFlow = %v, want a *ValidationError", err)
				}
				got = ve.Errors
			} else if in == nil {
				t.Fatal("DecodeFlow returned neither a flow nor an error")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeFlow(%s) errors (-want +got):\n%s", body, diff)
			}
		})
	}
}

func TestCheckJSONValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw, want string
		errs            []FieldError
	}{
		{name: "empty", raw: "", want: ""},
		{name: "compacted", raw: `{ "a" : [1, 2.5e3, "x"] }`, want: `{"a":[1,2.5e3,"x"]}`},
		{name: "lone surrogate replaced", raw: `{"a": "x\ud800y"}`, want: `{"a":"x` + "\ufffd" + `y"}`},
		{name: "surrogate pair kept", raw: `"\ud83d\ude00"`, want: `"😀"`},
		{name: "largest float", raw: `[1.7976931348623157e308, -1e-400]`, want: `[1.7976931348623157e308,-1e-400]`},
		{name: "NUL in a string", raw: `{"a": {"b": "x\u0000"}}`, errs: []FieldError{{"payload.a.b", nulMsg}}},
		{name: "NUL in a key", raw: `{"a\u0000": 1}`, errs: []FieldError{{`payload["a\x00"]`, nulMsg}}},
		{name: "number too large", raw: `{"n": [1e400]}`, errs: []FieldError{{"payload.n[0]", "number 1e400 is out of range: JSON numbers must fit a 64-bit float (about ±1.8e308)"}}},
		{name: "huge exponent at the top", raw: `-1e200000`, errs: []FieldError{{"payload", "number -1e200000 is out of range: JSON numbers must fit a 64-bit float (about ±1.8e308)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, errs := CheckJSONValue("payload", json.RawMessage(tc.raw))
			if d := cmp.Diff(tc.errs, errs); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
			if errs == nil && string(got) != tc.want {
				t.Errorf("value %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDecodeFlowRefusesNumbersOutOfRange(t *testing.T) {
	t.Parallel()
	_, err := DecodeFlow([]byte(`{"name": "n", "predefinedVariables": [{"name": "v", "value": 1e999}],
		"steps": [{"step_number": 1, "webhook_url": "https://a.io", "webhook_method": "POST", "webhook_body": {"k": [2e308]}}]}`))
	verr, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("want a validation error, got %v", err)
	}
	var fields []string
	for _, fe := range verr.Errors {
		fields = append(fields, fe.Field)
	}
	if d := cmp.Diff([]string{"predefinedVariables[0].value", "steps[0].webhook_body.k[0]"}, fields); d != "" {
		t.Errorf("error fields (-want +got):\n%s\n%v", d, verr.Errors)
	}
}
