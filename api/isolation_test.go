package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

// TestTenantIsolation walks every route that takes an id, as company B,
// with company A's flows and executions (one running, one failed, so that
// cancel and retry would apply to them): every answer is 404 in the error
// envelope, exactly like an id that does not exist, and nothing of A
// changes (flows, executions, their number) nor appears for B.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, other := b.env.NewTenant(t), b.env.NewTenant(t)
	tg := flowdtest.NewTarget(t)
	tg.Gate(t, "/hold")
	tg.Handle("/fail", func(w http.ResponseWriter, r *http.Request, _ int) { http.Error(w, "down", 500) })

	running := b.create(t, a, simpleFlow("A running", tg.URL+"/hold"))
	failing := b.create(t, a, simpleFlow("A failing", tg.URL+"/fail"))
	trigger := func(f *flow.Flow) uuid.UUID { return b.env.Trigger(t, a, f.ID, nil).ID }
	inProgress := trigger(running)
	failed := trigger(failing)
	b.env.WaitExecution(t, a, inProgress, 20*time.Second, "in_progress")
	b.env.WaitExecution(t, a, failed, 20*time.Second, "failed")

	// snapshot is everything A can see of its flows and executions.
	snapshot := func() []string {
		var out []string
		for _, p := range []string{
			"/v1/webhooks", "/v1/webhooks/" + running.ID.String(), "/v1/webhooks/" + failing.ID.String(),
			"/v1/webhooks/" + running.ID.String() + "/executions", "/v1/webhooks/" + failing.ID.String() + "/executions",
			"/v1/executions/" + inProgress.String(), "/v1/executions/" + failed.String(),
		} {
			r := b.env.Do(t, a, "GET", p, nil)
			out = append(out, fmt.Sprintf("%s %d %s", p, r.Code, r.Raw))
		}
		return out
	}
	before := snapshot()
	countRows := func() (n int) {
		err := b.env.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM flows WHERE company_id = $1) +
			(SELECT count(*) FROM executions WHERE company_id = $1)`, a.CompanyID).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	rowsBefore := countRows()

	bodies := map[string]any{
		"PUT /v1/webhooks/{id}":            simpleFlow("stolen", tg.URL),
		"POST /v1/webhooks/{id}/trigger":   map[string]any{"variables": map[string]any{"x": 1}},
		"POST /v1/integrations/{id}/clone": map[string]any{"flow_name": "stolen"},
	}
	tested := 0
	for _, rt := range api.RoutesForTest() {
		if rt.Public || !pathParam.MatchString(rt.Path) {
			continue
		}
		ids := []uuid.UUID{running.ID, failing.ID}
		if strings.HasPrefix(rt.Path, "/v1/executions/") {
			ids = []uuid.UUID{inProgress, failed}
		}
		for _, id := range append(ids, uuid.New()) {
			path := pathParam.ReplaceAllString(rt.Path, id.String())
			r := b.env.Do(t, other, rt.Method, path, bodies[rt.Method+" "+rt.Path])
			want := []flow.FieldError{{Field: "id", Message: "no such resource"}}
			if r.Code != http.StatusNotFound || r.Status != "error" || r.Message != "not found" || !cmp.Equal(r.Errors, want) {
				t.Errorf("%s %s as company B: want 404 {not found, errors: id}, got %d %s", rt.Method, path, r.Code, r.Raw)
			}
			tested++
		}
	}
	if tested < 11*3 {
		t.Errorf("only %d requests tried; want every route with an id (11 at least) with 3 ids each", tested)
	}
	if d := cmp.Diff(before, snapshot()); d != "" {
		t.Errorf("company B changed company A's data (-before +after):\n%s", d)
	}
	if n := countRows(); n != rowsBefore {
		t.Errorf("company A has %d flows and executions, had %d", n, rowsBefore)
	}
	var flows []flow.Flow
	b.env.Do(t, other, "GET", "/v1/webhooks", nil).Decode(t, &flows)
	if len(flows) != 0 {
		t.Errorf("company B sees %d flows", len(flows))
	}
	// A itself still can: the 404s were about ownership, not the ids.
	if r := b.env.Do(t, a, "POST", "/v1/executions/"+inProgress.String()+"/cancel", nil); r.Code != http.StatusOK {
		t.Errorf("company A cancels its execution: %d %s", r.Code, r.Raw)
	}
	b.env.WaitExecution(t, a, inProgress, 10*time.Second, "cancelled")
	if r := b.env.Do(t, a, "POST", "/v1/executions/"+failed.String()+"/retry", nil); r.Code != http.StatusAccepted {
		t.Errorf("company A retries its execution: %d %s", r.Code, r.Raw)
	}
}
