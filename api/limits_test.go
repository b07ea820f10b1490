package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/flow"
)

// TestBodySizeBoundary: a request body of exactly MaxBodyBytes is read; one
// byte more answers 413 naming the limit, and nothing is written.
func TestBodySizeBoundary(t *testing.T) {
	t.Parallel()
	b := setup(t)
	raw, err := json.Marshal(simpleFlow("boundary", b.target.URL))
	if err != nil {
		t.Fatal(err)
	}
	pad := func(n int) string { return string(raw) + strings.Repeat(" ", n-len(raw)) }
	tn := b.env.NewTenant(t)
	r := b.env.Do(t, tn, "POST", "/v1/webhooks", pad(api.MaxBodyBytesDefault))
	if r.Code != http.StatusCreated {
		t.Errorf("body of exactly %d bytes: want 201, got %d %s", api.MaxBodyBytesDefault, r.Code, r.Raw)
	}
	r = b.env.DoInvalid(t, tn, "POST", "/v1/webhooks", pad(api.MaxBodyBytesDefault+1))
	want := fmt.Sprintf("request body is larger than %d bytes", api.MaxBodyBytesDefault)
	if r.Code != http.StatusRequestEntityTooLarge || r.Status != "error" || r.Message != want {
		t.Errorf("body one byte over: want 413 %q, got %d %s", want, r.Code, r.Raw)
	}
	var flows []flow.Flow
	b.env.Do(t, tn, "GET", "/v1/webhooks", nil).Decode(t, &flows)
	if len(flows) != 1 {
		t.Errorf("want only the first flow written, got %d flows", len(flows))
	}
	// The limit holds on every endpoint with a body, and on a trigger.
	f := b.create(t, tn, simpleFlow("trigger me", b.target.URL))
	big := `{"payload": "` + strings.Repeat("x", api.MaxBodyBytesDefault) + `"}`
	if r := b.env.DoInvalid(t, tn, "POST", "/v1/webhooks/"+f.ID.String()+"/trigger", big); r.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("trigger with a body over the limit: want 413, got %d", r.Code)
	}
}

// TestDefinitionLimits checks each limit of a flow definition at its
// boundary: the limit itself is accepted, one more is a 422 naming the
// field and the limit.
func TestDefinitionLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stepN := func(n int) map[string]any {
		return map[string]any{"step_number": n, "webhook_url": b.target.URL, "webhook_method": "GET"}
	}
	withSteps := func(n int) map[string]any {
		var steps []any
		for i := 1; i <= n; i++ {
			steps = append(steps, stepN(i))
		}
		return map[string]any{"name": "many steps", "steps": steps}
	}
	withStep := func(extra map[string]any) map[string]any {
		s := stepN(1)
		for k, v := range extra {
			s[k] = v
		}
		return map[string]any{"name": "one step", "steps": []any{s}}
	}
	headers := func(n int) map[string]any {
		h := map[string]any{}
		for i := range n {
			h[fmt.Sprintf("X-H%d", i)] = "v"
		}
		return h
	}
	params := func(n int) map[string]any {
		p := map[string]any{}
		for i := range n {
			p[fmt.Sprintf("p%d", i)] = "v"
		}
		return p
	}
	predefined := func(n int) map[string]any {
		var vs []any
		for i := range n {
			vs = append(vs, map[string]any{"name": fmt.Sprintf("v%d", i), "value": i})
		}
		f := withSteps(1)
		f["predefinedVariables"] = vs
		return f
	}
	variables := func(n int) map[string]any {
		var vs []any
		for i := range n {
			vs = append(vs, map[string]any{"name": fmt.Sprintf("v%d", i), "type": "status", "stepId": 1, "dataType": "integer"})
		}
		f := withSteps(1)
		f["variables"] = vs
		return f
	}
	url := func(n int) string { return b.target.URL + "/" + strings.Repeat("u", n-len(b.target.URL)-1) }
	// A webhook_body that is a JSON string of n bytes once compacted.
	body := func(n int) string { return strings.Repeat("b", n-2) }
	for _, tc := range []struct {
		name     string
		ok, over map[string]any
		field    string
		overMsg  string
	}{
		{name: "steps per flow", ok: withSteps(flow.MaxSteps), over: withSteps(flow.MaxSteps + 1),
			field: "steps", overMsg: "must have at most 50 steps"},
		{name: "headers per step", ok: withStep(map[string]any{"webhook_headers": headers(flow.MaxHeaders)}),
			over:  withStep(map[string]any{"webhook_headers": headers(flow.MaxHeaders + 1)}),
			field: "steps[0].webhook_headers", overMsg: "must have at most 50 headers"},
		{name: "header value size", ok: withStep(map[string]any{"webhook_headers": map[string]any{"X-Big": strings.Repeat("h", flow.MaxHeaderValueBytes)}}),
			over:  withStep(map[string]any{"webhook_headers": map[string]any{"X-Big": strings.Repeat("h", flow.MaxHeaderValueBytes+1)}}),
			field: "steps[0].webhook_headers.X-Big", overMsg: "must be at most 8 KiB"},
		{name: "body size", ok: withStep(map[string]any{"webhook_method": "POST", "webhook_body": body(flow.MaxBodyBytes)}),
			over:  withStep(map[string]any{"webhook_method": "POST", "webhook_body": body(flow.MaxBodyBytes + 1)}),
			field: "steps[0].webhook_body", overMsg: "must be at most 256 KiB"},
		{name: "URL length", ok: withStep(map[string]any{"webhook_url": url(flow.MaxURLLen)}),
			over:  withStep(map[string]any{"webhook_url": url(flow.MaxURLLen + 1)}),
			field: "steps[0].webhook_url", overMsg: "must be at most 2048 bytes"},
		{name: "URL parameters", ok: withStep(map[string]any{"webhook_url_params": params(flow.MaxParams)}),
			over:  withStep(map[string]any{"webhook_url_params": params(flow.MaxParams + 1)}),
			field: "steps[0].webhook_url_params", overMsg: "must have at most 100 parameters"},
		{name: "predefined variables", ok: predefined(flow.MaxPredefinedVariables), over: predefined(flow.MaxPredefinedVariables + 1),
			field: "predefinedVariables", overMsg: "must have at most 100 variables"},
		{name: "variables", ok: variables(flow.MaxVariables), over: variables(flow.MaxVariables + 1),
			field: "variables", overMsg: "must have at most 100 variables"},
		{name: "name length", ok: map[string]any{"name": strings.Repeat("n", flow.MaxNameLen), "steps": []any{stepN(1)}},
			over:  map[string]any{"name": strings.Repeat("n", flow.MaxNameLen+1), "steps": []any{stepN(1)}},
			field: "name", overMsg: "must be at most 200 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := b.env.NewTenant(t)
			if r := b.env.Do(t, tn, "POST", "/v1/webhooks", tc.ok); r.Code != http.StatusCreated {
				t.Errorf("at the limit: want 201, got %d %s", r.Code, r.Raw)
			}
			r := b.env.DoInvalid(t, tn, "POST", "/v1/webhooks", tc.over)
			if r.Code != http.StatusUnprocessableEntity {
				t.Fatalf("over the limit: want 422, got %d %s", r.Code, r.Raw)
			}
			want := []flow.FieldError{{Field: tc.field, Message: tc.overMsg}}
			if d := cmp.Diff(want, r.Errors); d != "" {
				t.Errorf("over the limit: errors (-want +got):\n%s", d)
			}
		})
	}
}
