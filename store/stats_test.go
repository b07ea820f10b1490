package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/store"
)

// execution is a row to insert: created at, status, and how long after
// creation it finished (< 0: not finished).
type execution struct {
	created time.Time
	status  string
	took    time.Duration
}

// insertExecutions inserts list as executions of the flow flowID of
// b.company.
func (b *testBundle) insertExecutions(t *testing.T, flowID uuid.UUID, list ...execution) {
	t.Helper()
	for _, e := range list {
		var finished *time.Time
		if e.took >= 0 {
			f := e.created.Add(e.took)
			finished = &f
		}
		_, err := b.pool.Exec(context.Background(), `INSERT INTO executions
			(id, flow_id, company_id, flow_version, status, trigger, created_at, executed_at, finished_at)
			VALUES ($1, $2, $3, 1, $4, 'manual', $5, $5, $6)`, uuid.New(), flowID, b.company, e.status, e.created, finished)
		if err != nil {
			t.Fatalf("insert execution: %v", err)
		}
	}
}

func TestExecutionHoursByFlow(t *testing.T) {
	t.Parallel()
	b, other := setup(t), setup(t) // two companies
	ctx := context.Background()
	f1, f2, foreign := b.createFlow(t, 1).ID, b.createFlow(t, 1).ID, other.createFlow(t, 1).ID
	since := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return since.Add(d) }
	b.insertExecutions(t, f1,
		execution{at(-time.Second), "success", time.Second}, // before the window
		execution{at(0), "success", 1 * time.Second},
		execution{at(10 * time.Minute), "success", 2 * time.Second},
		execution{at(59*time.Minute + 59*time.Second), "success", 3 * time.Second},
		execution{at(20 * time.Minute), "failed", 5 * time.Second},
		execution{at(30 * time.Minute), "cancelled", time.Hour}, // not a duration that counts
		execution{at(40 * time.Minute), "in_progress", -1},
		execution{at(2*time.Hour + time.Minute), "scheduled", -1},
	)
	b.insertExecutions(t, f2, execution{at(time.Hour), "success", 10 * time.Second})
	other.insertExecutions(t, foreign, execution{at(time.Minute), "success", time.Second})

	got, err := b.store.ExecutionHoursByFlow(ctx, b.company, []uuid.UUID{f1, f2, foreign}, since)
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
	got, err = b.store.ExecutionHoursByFlow(ctx, other.company, []uuid.UUID{f1, foreign}, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].FlowID != foreign || got[0].Success != 1 {
		t.Errorf("other company: %+v", got)
	}
	if got, err := b.store.ExecutionHoursByFlow(ctx, b.company, nil, since); err != nil || len(got) != 0 {
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
	b := setup(t)
	ctx := context.Background()
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
		flowID := b.createFlow(t, 1).ID
		const n = 100_000
		_, err := b.pool.Exec(ctx, `INSERT INTO executions
			(id, flow_id, company_id, flow_version, status, trigger, created_at, executed_at, finished_at)
			SELECT gen_random_uuid(), $1, $2, 1,
				CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'cancelled' ELSE 'success' END,
				'manual', t, t, t + (100 + i % 900) * interval '1 millisecond'
			FROM generate_series(1, $3::int) AS i,
				LATERAL (SELECT $4::timestamptz - i * ($5::float8 / $3) * interval '1 second') AS x(t)`,
			flowID, b.company, n, now, tc.span.Seconds())
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
		plan := explain(t, b.pool, store.ExecutionHoursQuery, b.company, []uuid.UUID{flowID}, since)
		scans := plan.find(func(p *planNode) bool { return p.RelationName == "executions" || p.IndexName != "" })
		var shape []string
		indexed, rowsRead := false, 0
		for _, p := range scans {
			shape = append(shape, p.String())
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
			tc.name, inWindow, shape, plan.ExecutionTime)
	}
}
