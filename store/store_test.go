package store_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/store"
)

type testBundle struct {
	pool    *pgxpool.Pool
	store   *store.Store
	company uuid.UUID
}

// setup returns a Store on the package's test database and a company of
// the test's own.
func setup(tb testing.TB) *testBundle {
	tb.Helper()
	return setupOn(testdb.Pool(tb))
}

// setupOn is setup on pool (a database of the test's own, testdb.NewPool).
func setupOn(pool *pgxpool.Pool) *testBundle {
	return &testBundle{pool: pool, store: store.New(pool, testdb.Keys()), company: uuid.New()}
}

// setupExecution is setup with a flow of n chained steps
// (createFlow) and one scheduled execution of it (createExecution).
func setupExecution(tb testing.TB, n int) (*testBundle, *flow.Flow, *flow.Execution) {
	tb.Helper()
	b := setup(tb)
	f := b.createFlow(tb, n)
	return b, f, b.createExecution(tb, f)
}

// createFlow stores a valid flow of n chained steps for b.company.
func (b *testBundle) createFlow(tb testing.TB, n int) *flow.Flow {
	tb.Helper()
	steps := ""
	for i := 1; i <= n; i++ {
		dep := "null"
		if i > 1 {
			dep = fmt.Sprint(i - 1)
		}
		if i > 1 {
			steps += ","
		}
		steps += fmt.Sprintf(`{"step_number": %d, "webhook_method": "POST", "webhook_url": "https://example.com/%d",
			"depends_on_step": %s, "webhook_headers": {"X-Step": "%d"}, "webhook_body": {"n": %d}}`, i, i, dep, i, i)
	}
	in, err := flow.DecodeFlow([]byte(`{"name": "store test", "retry_delay": 1, "max_retries": 2,
		"predefinedVariables": [{"name": "who", "value": "ann"}],
		"variables": [{"name": "tok", "location": "token", "stepId": 1, "type": "body", "dataType": "string"}],
		"steps": [` + steps + `]}`))
	if err != nil {
		tb.Fatalf("decode flow: %v", err)
	}
	f, err := b.store.FlowCreate(context.Background(), b.company, uuid.New(), in, "whsec_test")
	if err != nil {
		tb.Fatalf("create flow: %v", err)
	}
	return f
}

// createExecution stores a scheduled execution of f.
func (b *testBundle) createExecution(tb testing.TB, f *flow.Flow) *flow.Execution {
	tb.Helper()
	e := newExecution(f)
	inserted, err := b.store.ExecutionsInsert(context.Background(), []*flow.Execution{e}, nil)
	if err != nil || !inserted[e.ID] {
		tb.Fatalf("insert execution: inserted %v, %v", inserted, err)
	}
	return e
}

// TestPruneVacuumThrottledLikeAutovacuum: the pruner's VACUUM runs with
// autovacuum's cost-based delay and limit, not unthrottled as a VACUUM
// typed by hand does (vacuum_cost_delay 0), so a cycle's VACUUM does not
// take the workers' CPU and I/O in a burst.
func TestPruneVacuumThrottledLikeAutovacuum(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var wantDelay, wantLimit string
	if err := b.pool.QueryRow(ctx, `SELECT
		CASE current_setting('autovacuum_vacuum_cost_delay') WHEN '-1' THEN current_setting('vacuum_cost_delay') ELSE current_setting('autovacuum_vacuum_cost_delay') END,
		CASE current_setting('autovacuum_vacuum_cost_limit') WHEN '-1' THEN current_setting('vacuum_cost_limit') ELSE current_setting('autovacuum_vacuum_cost_limit') END`).
		Scan(&wantDelay, &wantLimit); err != nil {
		t.Fatal(err)
	}
	if wantDelay == "0" {
		t.Fatalf("autovacuum's cost delay is 0 on this server: the test cannot tell a throttled VACUUM from an unthrottled one")
	}
	var ps *store.PruneSession
	flowdtest.WaitFor(t, 30*time.Second, "the pruners' lock", func() bool {
		s, locked, err := b.store.OpenPruneSession(ctx, 10*time.Second, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if locked {
			ps = s
		}
		return locked
	})
	defer ps.Close(ctx)
	if got, err := ps.Setting(ctx, "vacuum_cost_delay"); err != nil || got != "0" {
		t.Fatalf("a new session's vacuum_cost_delay: %q %v, want 0", got, err)
	}
	done, err := ps.PruneVacuum(ctx, []string{"audit_log"}, store.Pruned{"audit_log": 1 << 20})
	if err != nil || len(done) != 1 || done[0] != "audit_log" {
		t.Fatalf("PruneVacuum: %v %v, want audit_log vacuumed", done, err)
	}
	for name, want := range map[string]string{"vacuum_cost_delay": wantDelay, "vacuum_cost_limit": wantLimit} {
		if got, err := ps.Setting(ctx, name); err != nil || got != want {
			t.Errorf("%s during the pruner's VACUUM: %q %v, want autovacuum's %q", name, got, err, want)
		}
	}
}

// TestExecutionsInsertPayloads: executions inserted together keep each
// its own payload, whether they share one (an event's envelope, sent once)
// or not, and an empty payload is stored as null.
func TestExecutionsInsertPayloads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.createFlow(t, 1)
	payloads := []string{`{"event":1}`, `{"other":[2]}`, `{"event":1}`, ``, `{"event":1}`}
	var execs []*flow.Execution
	for _, p := range payloads {
		e := newExecution(f)
		e.Payload = json.RawMessage(p)
		execs = append(execs, e)
	}
	inserted, err := b.store.ExecutionsInsert(context.Background(), execs, nil)
	if err != nil || len(inserted) != len(execs) {
		t.Fatalf("insert: %d of %d, %v", len(inserted), len(execs), err)
	}
	for i, e := range execs {
		got, err := b.store.ExecutionGet(context.Background(), b.company, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := cmp.Or(payloads[i], "null"); !store.SameJSON(got.Payload, json.RawMessage(want)) {
			t.Errorf("execution %d: payload %s, want %s", i, got.Payload, want)
		}
	}
}
