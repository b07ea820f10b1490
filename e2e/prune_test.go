package e2e

import (
	"context"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
)

// `flowd prune` killed (SIGKILL) while its first batch waits for a row
// lock: the server notices the dead client and rolls the batch back
// instead of running it once the lock is free, and the pruners' lock goes
// with the session; a second `flowd prune` then deletes every row once.
func TestPruneKilledMidBatch(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("e2e: skipped with -short")
	}
	url := testdb.NewDatabase(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	exec1 := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec1(`INSERT INTO flows (id, company_id, created_by, workspace_id, name, retry_delay, retry_delay_unit, max_retries,
		status, flow_direction, hook_secret) VALUES ('00000000-0000-0000-0000-000000000001', gen_random_uuid(),
		gen_random_uuid(), 'default', 'old', 1, 'seconds', 0, 'scheduled', 'outbound', 'x')`)
	exec1(`INSERT INTO executions (id, flow_id, company_id, flow_version, status, trigger, finished_at)
		SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000001', gen_random_uuid(), 1, 'success', 'manual',
		now() - interval '40 days' FROM generate_series(1, 3)`)
	exec1(`INSERT INTO step_attempts (id, execution_id, step_number, attempt, execution_attempt, outcome,
		request_method, request_url, duration_ms, started_at)
		SELECT gen_random_uuid(), id, 1, 1, 1, 'success', 'GET', 'https://example.com', 1, now() FROM executions`)
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	pruners := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'flowd pruner'`

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM step_attempts FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(flowdBinary(t), "prune", "--older-than", "720h", "--database-url", url)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	flowdtest.WaitFor(t, 60*time.Second, "flowd prune to wait for the held rows", func() bool {
		return count(pruners+` AND wait_event_type = 'Lock'`) > 0
	})
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	flowdtest.WaitFor(t, 30*time.Second, "the server to end the dead pruner's session", func() bool {
		return count(pruners) == 0
	})
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if e, a := count(`SELECT count(*) FROM executions`), count(`SELECT count(*) FROM step_attempts`); e != 3 || a != 3 {
		t.Fatalf("after the kill: %d executions and %d attempts, want the batch rolled back (3 and 3)", e, a)
	}
	out, err := exec.Command(flowdBinary(t), "prune", "--older-than", "720h", "--database-url", url).CombinedOutput()
	if err != nil {
		t.Fatalf("second flowd prune: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`\bexecutions +3\n[\s\S]*\bstep_attempts +3\n`).Match(out) {
		t.Errorf("second flowd prune printed:\n%s", out)
	}
	if n := count(`SELECT count(*) FROM executions`); n != 0 {
		t.Errorf("%d executions left", n)
	}
}
