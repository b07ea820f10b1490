package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/metrics"
	"github.com/flowd/flowd/retention"
	"github.com/flowd/flowd/store"
)

// fixture is a database of the test's own with rows written at chosen
// times around cutoff.
type fixture struct {
	t       *testing.T
	pool    *pgxpool.Pool
	st      *store.Store
	company uuid.UUID
	cutoff  time.Time
}

// attemptsPerExecution and stepsPerFlow, versionsPerFlow are what the
// fixture writes for each execution and flow.
const (
	attemptsPerExecution = 3
	stepsPerFlow         = 2
	versionsPerFlow      = 2
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := testdb.NewPool(t)
	return &fixture{t: t, pool: pool, st: store.New(pool, nil), company: uuid.New(),
		cutoff: time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)}
}

// pruner returns a pruner on the fixture's database with batches of
// batch executions and timeouts long enough for a loaded machine.
func (f *fixture) pruner(batch int) *retention.Pruner {
	return retention.New(f.st, &retention.Config{
		BatchSize: batch, BatchPause: time.Millisecond,
		StatementTimeout: time.Minute, LockTimeout: time.Minute,
	})
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

// flow writes a flow with its steps and versions, deleted at deletedAt
// unless nil.
func (f *fixture) flow(deletedAt *time.Time) uuid.UUID {
	f.t.Helper()
	id := uuid.New()
	status := "scheduled"
	if deletedAt != nil {
		status = "deleted"
	}
	f.exec(`INSERT INTO flows (id, company_id, created_by, workspace_id, name, retry_delay, retry_delay_unit,
		max_retries, status, flow_direction, hook_secret, created_at, deleted_at)
		VALUES ($1, $2, $2, 'default', 'f', 1, 'seconds', 0, $3, 'outbound', 'whsec_x', $4, $5)`,
		id, f.company, status, f.cutoff.Add(-90*24*time.Hour), deletedAt)
	for n := 1; n <= stepsPerFlow; n++ {
		f.exec(`INSERT INTO flow_steps (id, flow_id, step_number, webhook_url, webhook_method, webhook_timeout, retry_limit, timeout)
			VALUES ($1, $2, $3, 'https://example.com', 'GET', 30, 0, 60)`, uuid.New(), id, n)
	}
	for v := 1; v <= versionsPerFlow; v++ {
		f.exec(`INSERT INTO flow_versions (flow_id, version, definition) VALUES ($1, $2, '{}')`, id, v)
	}
	return id
}

// execution writes an execution of flowID with status, created 40 days
// before the cutoff and finished at finishedAt (nil: not finished), with
// its attempts.
func (f *fixture) execution(flowID uuid.UUID, status string, finishedAt *time.Time) uuid.UUID {
	f.t.Helper()
	id := uuid.New()
	created := f.cutoff.Add(-40 * 24 * time.Hour)
	f.exec(`INSERT INTO executions (id, flow_id, company_id, flow_version, status, trigger, created_at, finished_at)
		VALUES ($1, $2, $3, 1, $4, 'manual', $5, $6)`, id, flowID, f.company, status, created, finishedAt)
	for n := 1; n <= attemptsPerExecution; n++ {
		f.exec(`INSERT INTO step_attempts (id, execution_id, step_number, attempt, execution_attempt, outcome,
			request_method, request_url, duration_ms, started_at)
			VALUES ($1, $2, $3, 1, 1, 'success', 'GET', 'https://example.com', 1, $4)`, uuid.New(), id, n, created)
	}
	return id
}

// at returns the cutoff moved by d.
func (f *fixture) at(d time.Duration) *time.Time {
	t := f.cutoff.Add(d)
	return &t
}

// manyPrunable writes 400 executions finished an hour before the cutoff
// with 3 attempts each: 1,200 attempts pass the pruner's VACUUM threshold,
// 400 executions do not.
func (f *fixture) manyPrunable() {
	f.t.Helper()
	fl := f.flow(nil)
	f.exec(`INSERT INTO executions (id, flow_id, company_id, flow_version, status, trigger, finished_at)
		SELECT gen_random_uuid(), $1, $2, 1, 'success', 'manual', $3 FROM generate_series(1, 400)`, fl, f.company, f.at(-time.Hour))
	f.exec(`INSERT INTO step_attempts (id, execution_id, step_number, attempt, execution_attempt, outcome,
			request_method, request_url, duration_ms, started_at)
		SELECT gen_random_uuid(), e.id, s, 1, 1, 'success', 'GET', 'https://example.com', 1, now()
		FROM executions e, generate_series(1, 3) s`)
}

// count returns the rows of table matching where (SQL, with args).
func (f *fixture) count(table, where string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE `+where, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// rows counts every table the pruner deletes from.
func (f *fixture) rows() store.Pruned {
	f.t.Helper()
	out := store.Pruned{}
	for _, table := range retention.Tables() {
		out[table] = f.count(table, "true")
	}
	return out
}

// has says whether table has the row whose column is id.
func (f *fixture) has(table, column string, id uuid.UUID) bool {
	f.t.Helper()
	return f.count(table, column+" = $1", id) > 0
}

// prune runs one cycle with cutoff and fails the test on an error or when
// it did not run.
func (f *fixture) prune(p *retention.Pruner, cutoff time.Time) retention.Cycle {
	f.t.Helper()
	c, err := p.Prune(context.Background(), cutoff)
	if err != nil || !c.Ran {
		f.t.Fatalf("prune: ran %v, %v", c.Ran, err)
	}
	return c
}

// prunedMetric reads flowd_pruned_rows_total{table} from m's registry.
func prunedMetric(t *testing.T, m *metrics.Metrics, table string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() != "flowd_pruned_rows_total" {
			continue
		}
		for _, mt := range fam.GetMetric() {
			if mt.GetLabel()[0].GetValue() == table {
				return mt.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no flowd_pruned_rows_total{table=%q}", table)
	return 0
}
