package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/store"
)

type statsBundle struct {
	pool  *pgxpool.Pool
	store *store.Store
}

func setupStats(t *testing.T) *statsBundle {
	t.Helper()
	pool := testdb.Pool(t)
	return &statsBundle{pool: pool, store: store.New(pool, testdb.Keys())}
}

// createFlow stores a one-step flow of company and returns its id.
func (b *statsBundle) createFlow(t *testing.T, company uuid.UUID) uuid.UUID {
	t.Helper()
	in, err := flow.DecodeFlow([]byte(`{"name": "stats", "retry_delay": 1, "retry_delay_unit": "seconds",
		"steps": [{"step_number": 1, "webhook_method": "GET", "webhook_url": "https://example.com/"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	f, err := b.store.FlowCreate(context.Background(), company, uuid.New(), in, "whsec_test")
	if err != nil {
		t.Fatalf("create flow: %v", err)
	}
	return f.ID
}

// execution is a row to insert: created at, status, and how long after
// creation it finished (< 0: not finished).
type execution struct {
	created time.Time
	status  string
	took    time.Duration
}

func (b *statsBundle) insert(t *testing.T, flowID, company uuid.UUID, list ...execution) {
	t.Helper()
	for _, e := range list {
		var finished *time.Time
		if e.took >= 0 {
			f := e.created.Add(e.took)
			finished = &f
		}
		_, err := b.pool.Exec(context.Background(), `INSERT INTO executions
			(id, flow_id, company_id, flow_version, status, trigger, created_at, executed_at, finished_at)
			VALUES ($1, $2, $3, 1, $4, 'manual', $5, $5, $6)`, uuid.New(), flowID, company, e.status, e.created, finished)
		if err != nil {
			t.Fatalf("insert execution: %v", err)
		}
	}
}

func TestExecutionHoursByFlow(t *testing.T) {
	t.Parallel()
	b := setupStats(t)
	ctx := context.Background()
	company, other := uuid.New(), uuid.New()
	f1, f2, foreign := b.createFlow(t, company), b.createFlow(t, company), b.createFlow(t, other)
	since := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return since.Add(d) }
	b.insert(t, f1, company,
		execution{at(-time.Second), "success", time.Second}, // before the window
		execution{at(0), "success", 1 * time.Second},
		execution{at(10 * time.Minute), "success", 2 * time.Second},
		execution{at(59*time.Minute + 59*time.Second), "success", 3 * time.Second},
		execution{at(20 * time.Minute), "failed", 5 * time.Second},
		execution{at(30 * time.Minute), "cancelled", time.Hour}, // not a duration that counts
		execution{at(40 * time.Minute), "in_progress", -1},
		execution{at(2*time.Hour + time.Minute), "scheduled", -1},
	)
	b.insert(t, f2, company, execution{at(time.Hour), "success", 10 * time.Second})
	b.insert(t, foreign, other, execution{at(time.Minute), "success", time.Second})

	got, err := b.store.ExecutionHoursByFlow(ctx, company, []uuid.UUID{f1, f2, foreign}, since)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID][]store.ExecutionHour{
		f1: {
			{FlowID: f1, Hour: since, Success: 3, Failed: 1, Cancelled: 1, InFlight: 1,
				P50: 2500 * time.Millisecond, P95: 4700 * time.Millisecond},
			{FlowID: f1, Hour: at(2 * time.Hour), InFlight: 1},
		},
		f2: {{FlowID: f2, Hour: at(time.Hour), Success: 1, P50: 10 * time.Second, P95: 10 * time.Second}},
	}
	byFlow := map[uuid.UUID][]store.ExecutionHour{}
	for _, h := range got {
		h.Hour = h.Hour.UTC()
		byFlow[h.FlowID] = append(byFlow[h.FlowID], h)
	}
	if diff := cmp.Diff(want, byFlow); diff != "" {
		t.Errorf("ExecutionHoursByFlow (-want +got):\n%s", diff)
	}

	// The other company sees its own flow only.
	got, err = b.store.ExecutionHoursByFlow(ctx, other, []uuid.UUID{f1, foreign}, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].FlowID != foreign || got[0].Success != 1 {
		t.Errorf("other company: %+v", got)
	}
	if got, err := b.store.ExecutionHoursByFlow(ctx, company, nil, since); err != nil || len(got) != 0 {
		t.Errorf("no flows: %v, %v", got, err)
	}
}

// TestExecutionHoursPlan seeds 100,000 executions of one flow over 30
// days and 100,000 of another in the last 24 hours, and reads the plan of
// the hourly query. With a long history it must range-scan
// executions_flow_created_idx and read only the window's rows, never the
// history. When the window holds most of the table (the second flow's
// 100,000 rows are a large part of this test database), a sequential scan
// is the planner's right choice and only the plan is logged. The timings it
// logs (go test -run TestExecutionHoursPlan -v ./store/) are the README's
// measurement; nothing here asserts a duration.
func TestExecutionHoursPlan(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("seeds 200,000 executions")
	}
	b := setupStats(t)
	ctx := context.Background()
	company := uuid.New()
	now := time.Now().UTC()
	since := now.Truncate(time.Hour).Add(-23 * time.Hour)
	for _, tc := range []struct {
		name string
		span time.Duration // the executions are spread evenly over span before now
		// indexed: the plan must read the window through the index.
		indexed bool
	}{
		{"100k over 30 days", 30 * 24 * time.Hour, true},
		{"100k in the last 24 hours", 23 * time.Hour, false},
	} {
		flowID := b.createFlow(t, company)
		const n = 100_000
		_, err := b.pool.Exec(ctx, `INSERT INTO executions
			(id, flow_id, company_id, flow_version, status, trigger, created_at, executed_at, finished_at)
			SELECT gen_random_uuid(), $1, $2, 1,
				CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'success' END,
				'manual', t, t, t + (100 + i % 900) * interval '1 millisecond'
			FROM generate_series(1, $3::int) AS i,
				LATERAL (SELECT $4::timestamptz - i * ($5::float8 / $3) * interval '1 second') AS x(t)`,
			flowID, company, n, now, tc.span.Seconds())
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		if _, err := b.pool.Exec(ctx, `ANALYZE executions`); err != nil {
			t.Fatal(err)
		}
		var inWindow int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM executions WHERE flow_id = $1 AND created_at >= $2`,
			flowID, since).Scan(&inWindow); err != nil {
			t.Fatal(err)
		}
		var raw []byte
		if err := b.pool.QueryRow(ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) `+store.ExecutionHoursQuery,
			company, []uuid.UUID{flowID}, since).Scan(&raw); err != nil {
			t.Fatalf("explain: %v", err)
		}
		var plans []struct {
			Plan          planNode `json:"Plan"`
			ExecutionTime float64  `json:"Execution Time"`
		}
		if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
			t.Fatalf("explain output: %v: %s", err, raw)
		}
		scans := plans[0].Plan.find(func(p *planNode) bool { return p.RelationName == "executions" || p.IndexName != "" })
		var shape []string
		indexed, rowsRead := false, 0
		for _, p := range scans {
			shape = append(shape, fmt.Sprintf("%s %s %s rows=%d", p.NodeType, p.RelationName, p.IndexName, p.ActualRows))
			switch p.NodeType {
			case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
				indexed = indexed || p.IndexName == "executions_flow_created_idx"
				rowsRead = max(rowsRead, p.ActualRows)
			}
		}
		if tc.indexed && !indexed {
			t.Errorf("%s: executions_flow_created_idx does not serve the query: %v", tc.name, shape)
		}
		if tc.indexed && rowsRead != inWindow {
			t.Errorf("%s: the index scan read %d rows, the window holds %d", tc.name, rowsRead, inWindow)
		}
		t.Logf("%s: %d executions in the window, plan %v, execution time %.1f ms",
			tc.name, inWindow, shape, plans[0].ExecutionTime)
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	ActualRows   int        `json:"Actual Rows"`
	Plans        []planNode `json:"Plans"`
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
