package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/store"
)

// The tests of this file read the plans of the queries that must read
// through an index whatever the size of the tables.

// TestEventSubscribersIndexed: the subscribers of an event are found
// through the primary key of flow_event_subscriptions, reading only the
// matching rows, while the company has 5,000 other subscribed flows — the
// publisher never scans the company's flows. On a database of its own, so
// that ANALYZE sees only these rows.
func TestEventSubscribersIndexed(t *testing.T) {
	t.Parallel()
	b := setupOn(testdb.NewPool(t))
	ctx := context.Background()
	// 5,000 flows subscribed to lead.created, written in bulk.
	_, err := b.pool.Exec(ctx, `WITH f AS (
			INSERT INTO flows (id, company_id, created_by, workspace_id, name, retry_delay, retry_delay_unit,
				max_retries, status, flow_direction, hook_secret, events)
			SELECT gen_random_uuid(), $1, $1, 'default', 'bulk ' || n, 1, 'seconds', 0, 'running', 'outbound', 'x', '{lead.created}'
			FROM generate_series(1, 5000) n RETURNING id)
		INSERT INTO flow_event_subscriptions (company_id, workspace_id, pattern, flow_id)
		SELECT $1, 'default', 'lead.created', id FROM f`, b.company)
	if err != nil {
		t.Fatal(err)
	}
	var want []uuid.UUID
	for _, patterns := range []string{`["call.ended"]`, `["call.*"]`, `["*", "call.ended"]`} {
		in, err := flow.DecodeFlow([]byte(`{"name": "sub", "events": ` + patterns + `,
			"steps": [{"step_number": 1, "webhook_method": "POST", "webhook_url": "https://example.com"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		f, err := b.store.FlowCreate(ctx, b.company, uuid.New(), in, "whsec_x")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, f.ID)
	}
	if _, err := b.pool.Exec(ctx, `ANALYZE flows, flow_event_subscriptions`); err != nil {
		t.Fatal(err)
	}
	subs, err := b.store.EventSubscribers(ctx, b.company, "default", "call.ended")
	if err != nil || len(subs) != len(want) {
		t.Fatalf("EventSubscribers: %d flows (%v); want %d, each once", len(subs), err, len(want))
	}
	for i, s := range subs {
		if s.FlowID != want[i] || s.Version != 1 || s.EventFilter != nil {
			t.Errorf("subscriber %d: %+v, want flow %s version 1", i, s, want[i])
		}
	}

	explain(t, b.pool, store.EventSubscribersQuery, b.company, "default", flow.EventPatternsFor("call.ended")).
		wantIndexed(t, "flow_event_subscriptions_pkey", 4) // call.ended twice (one flow), call.*, *
}

// TestInFlightFlowsIndexed: which flows have an execution in flight is
// answered through executions_flow_status_created_idx, reading at most one
// entry per flow and status, while the busy flow has 3,000 executions (a
// thousand of them in flight) and the idle one 2,000 finished ones. On a
// database of its own, so that ANALYZE sees only these rows.
func TestInFlightFlowsIndexed(t *testing.T) {
	t.Parallel()
	b := setupOn(testdb.NewPool(t))
	ctx := context.Background()
	busy, idle := b.createFlow(t, 1), b.createFlow(t, 1)
	for _, bulk := range []struct {
		flow   uuid.UUID
		status string
		n      int
	}{{busy.ID, "success", 2000}, {busy.ID, "in_progress", 1000}, {idle.ID, "success", 2000}} {
		_, err := b.pool.Exec(ctx, `INSERT INTO executions (id, flow_id, company_id, flow_version, status, trigger)
			SELECT gen_random_uuid(), $1, $2, 1, $3, 'manual' FROM generate_series(1, $4)`,
			bulk.flow, b.company, bulk.status, bulk.n)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.pool.Exec(ctx, `ANALYZE executions`); err != nil {
		t.Fatal(err)
	}
	rows, err := b.pool.Query(ctx, store.InFlightFlowsQuery, []uuid.UUID{busy.ID, idle.ID})
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil || len(got) != 1 || got[0] != busy.ID {
		t.Fatalf("in-flight flows: %v, %v; want only the busy flow %s", got, err, busy.ID)
	}

	explain(t, b.pool, store.InFlightFlowsQuery, []uuid.UUID{busy.ID, idle.ID}).
		wantIndexed(t, "executions_flow_status_created_idx", 1) // the first entry per probe
}

// TestHotPathReadsByIndex: the worker's group read and group commit read
// executions by primary key even when the plan their connection keeps was
// made while the table was a page (hotPathPlans): a dozen of each on a
// one-connection pool, then the table's sequential scans are counted. On
// a database of its own, so that no other test scans it.
func TestHotPathReadsByIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := oneConnPool(t) // every statement on the one backend whose stats are flushed below
	b := setupOn(pool)
	f := b.createFlow(t, 1)
	var execs []*flow.Execution
	for range 3 {
		execs = append(execs, b.createExecution(t, f))
	}
	seqScans := func() int64 {
		t.Helper()
		// The backend's statistics reach the shared ones when it is idle
		// and a second has passed, or, when forced, as soon as it is idle
		// (after the first statement here, before the second).
		if _, err := pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := pool.QueryRow(ctx, `SELECT coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'executions'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := seqScans()
	for i := range 12 {
		e := execs[i%len(execs)]
		up := flow.ExecutionUpdate{ID: e.ID, Status: flow.ExecutionStatusInProgress, AttemptNumber: 1, Steps: map[int]*flow.StepState{}}
		if err := b.store.ExecutionCommit(ctx, nil, []flow.ExecutionUpdate{up}); err != nil {
			t.Fatal(err)
		}
		n := 0
		err := b.store.ExecutionsGetForRun(ctx, []uuid.UUID{e.ID}, func(uuid.UUID, *flow.Execution, flow.SigningSecrets, error) { n++ })
		if err != nil || n != 1 {
			t.Fatalf("read for run: %d found, %v", n, err)
		}
	}
	if n := seqScans() - before; n != 0 {
		t.Errorf("12 group commits and 12 group reads scanned executions %d times; want none (by primary key only)", n)
	}
	// Batches of other sizes reuse the plan too: PostgreSQL would plan a
	// read of one or two ids afresh each time (a custom plan costs less
	// than the generic one, which guesses ten) unless told not to.
	for range 6 {
		if err := b.store.ExecutionsGetForRun(ctx, []uuid.UUID{execs[0].ID, execs[1].ID, execs[2].ID}, func(uuid.UUID, *flow.Execution, flow.SigningSecrets, error) {}); err != nil {
			t.Fatal(err)
		}
	}
	wantGenericPlans(t, pool, "group read", "%FROM executions e JOIN flows f ON f.id = e.flow_id WHERE e.id = ANY%")
	wantGenericPlans(t, pool, "group commit", "UPDATE executions e SET%")
}

// TestGroupTxPlansGeneric: the executions insert of the trigger and
// publish groups, in batches of varying size, reuses one generic plan on
// its connection (InGroupTx) instead of planning afresh.
func TestGroupTxPlansGeneric(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := oneConnPool(t)
	b := setupOn(pool)
	f := b.createFlow(t, 1)
	for i := range 12 {
		execs := make([]*flow.Execution, 1+i%3)
		for j := range execs {
			execs[j] = newExecution(f)
		}
		err := b.store.InGroupTx(ctx, func(tx *store.Store) error {
			inserted, err := tx.ExecutionsInsert(ctx, execs, nil)
			if err == nil && len(inserted) != len(execs) {
				err = fmt.Errorf("%d of %d inserted", len(inserted), len(execs))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wantGenericPlans(t, pool, "executions insert", "INSERT INTO executions %")
	var mode string
	if err := pool.QueryRow(ctx, `SELECT current_setting('plan_cache_mode')`).Scan(&mode); err != nil || mode != "auto" {
		t.Errorf("plan_cache_mode after the transactions: %q, %v; want auto (the setting is the transaction's)", mode, err)
	}
}

// oneConnPool returns a pool of one connection on a database of the
// test's own, so that what one statement leaves on its backend (plans,
// statistics) is there for the next.
func oneConnPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pcfg, err := pgxpool.ParseConfig(testdb.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	pcfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// wantGenericPlans checks that the statements prepared on pool's one
// connection whose text is like pattern made generic plans only.
func wantGenericPlans(t *testing.T, pool *pgxpool.Pool, name, like string) {
	t.Helper()
	var generic, custom int64
	err := pool.QueryRow(context.Background(), `SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)
		FROM pg_prepared_statements WHERE statement LIKE $1`, like).Scan(&generic, &custom)
	if err != nil {
		t.Fatal(err)
	}
	if custom != 0 || generic == 0 {
		t.Errorf("%s: %d custom plans, %d generic ones on the connection; want one generic plan reused (no custom plans)", name, custom, generic)
	}
}

// wantIndexed checks that no node of the plan reads a table sequentially
// and that index serves it, reading at most maxRows rows per loop; it logs
// the plan's shape.
func (p *plan) wantIndexed(t *testing.T, index string, maxRows int) {
	t.Helper()
	var shape []string
	indexed := false
	for _, n := range p.find(func(n *planNode) bool { return n.RelationName != "" || n.IndexName != "" }) {
		shape = append(shape, n.String())
		if n.NodeType == "Seq Scan" {
			t.Errorf("the statement scans %s", n.RelationName)
		}
		if n.IndexName == index {
			indexed = true
			if n.ActualRows > maxRows {
				t.Errorf("%s read %d rows; want at most %d", index, n.ActualRows, maxRows)
			}
		}
	}
	if !indexed {
		t.Errorf("%s does not serve the statement", index)
	}
	t.Logf("plan: %v", shape)
}

// plan is the output of EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of one
// statement.
type plan struct {
	planNode
	ExecutionTime float64 // milliseconds
}

// explain runs query with args under EXPLAIN ANALYZE and returns its plan.
func explain(t *testing.T, pool *pgxpool.Pool, query string, args ...any) *plan {
	t.Helper()
	var raw []byte
	if err := pool.QueryRow(context.Background(), `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) `+query, args...).Scan(&raw); err != nil {
		t.Fatalf("explain: %v", err)
	}
	var plans []struct {
		Plan          planNode `json:"Plan"`
		ExecutionTime float64  `json:"Execution Time"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("explain output: %v: %s", err, raw)
	}
	return &plan{planNode: plans[0].Plan, ExecutionTime: plans[0].ExecutionTime}
}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	ActualRows   int        `json:"Actual Rows"`
	Plans        []planNode `json:"Plans"`
}

// String is the node as the tests log it.
func (p *planNode) String() string {
	return fmt.Sprintf("%s %s %s rows=%d", p.NodeType, p.RelationName, p.IndexName, p.ActualRows)
}

// find returns the nodes of the tree for which match is true, depth first.
func (p *planNode) find(match func(*planNode) bool) []*planNode {
	var out []*planNode
	if match(p) {
		out = append(out, p)
	}
	for i := range p.Plans {
		out = append(out, p.Plans[i].find(match)...)
	}
	return out
}
