package api_test

import (
	"net/http"
	"testing"

	"github.com/flowd/flowd/flow"
)

// TestPropagateTraceField follows the flow field propagate_trace through
// create, GET, list, PUT and clone: true by default, false kept wherever
// the flow is answered or copied, anything but a boolean refused naming
// the field.
func TestPropagateTraceField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	check := func(what string, r interface{ Decode(testing.TB, any) }, want bool) {
		t.Helper()
		var f flow.Flow
		r.Decode(t, &f)
		if f.PropagateTrace != want {
			t.Errorf("%s: propagate_trace %v, want %v", what, f.PropagateTrace, want)
		}
	}
	if f := b.create(t, b.tenant, simpleFlow("default", b.target.URL+"/x")); !f.PropagateTrace {
		t.Errorf("create without propagate_trace: got false, want the default true")
	}

	def := simpleFlow("off", b.target.URL+"/x")
	def["propagate_trace"] = false
	off := b.create(t, b.tenant, def)
	if off.PropagateTrace {
		t.Errorf("create with propagate_trace false: got true")
	}
	path := "/v1/webhooks/" + off.ID.String()
	check("GET", b.env.Do(t, b.tenant, "GET", path, nil), false)

	var list []flow.Flow
	b.env.Do(t, b.tenant, "GET", "/v1/webhooks", nil).Decode(t, &list)
	for _, f := range list {
		if f.ID == off.ID && f.PropagateTrace {
			t.Errorf("list: propagate_trace true, want false")
		}
	}

	def["propagate_trace"] = true
	check("PUT true", b.env.Do(t, b.tenant, "PUT", path, def), true)
	def["propagate_trace"] = false
	check("PUT false", b.env.Do(t, b.tenant, "PUT", path, def), false)

	clone := b.env.Do(t, b.tenant, "POST", "/v1/integrations/"+off.ID.String()+"/clone", map[string]any{"flow_name": "copy"})
	if clone.Code != http.StatusCreated {
		t.Fatalf("clone: %d %s", clone.Code, clone.Raw)
	}
	check("clone", clone, false)

	def["propagate_trace"] = "no"
	r := b.env.DoInvalid(t, b.tenant, "PUT", path, def)
	if r.Code != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.Errors[0].Field != "propagate_trace" {
		t.Errorf("propagate_trace \"no\": want 422 naming propagate_trace, got %d %s", r.Code, r.Raw)
	}
	check("GET after the refused PUT", b.env.Do(t, b.tenant, "GET", path, nil), false)
}
