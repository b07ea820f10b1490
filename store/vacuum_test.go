package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/store"
)

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
