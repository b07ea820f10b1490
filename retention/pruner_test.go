package retention_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/metrics"
	"github.com/flowd/flowd/retention"
	"github.com/flowd/flowd/store"
)

// An execution finished just inside the retention stays, just outside
// goes with its attempts; scheduled and running executions stay whatever
// their age, and so do the flows they use; every status that ends an
// execution is pruned.
func TestBoundary(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	live := f.flow(nil)
	inside := f.execution(live, "success", f.at(time.Second))
	var outside []uuid.UUID
	for _, status := range []string{"success", "failed", "cancelled"} {
		outside = append(outside, f.execution(live, status, f.at(-time.Second)))
	}
	scheduled := f.execution(live, "scheduled", nil)
	running := f.execution(live, "in_progress", nil)
	// A deleted flow whose only execution still runs: its versions stay.
	deleted := f.flow(f.at(-time.Hour))
	runningOfDeleted := f.execution(deleted, "in_progress", nil)

	m := metrics.New()
	p := retention.New(f.st, &retention.Config{BatchSize: 2, Observer: m, LockTimeout: time.Minute, StatementTimeout: time.Minute})
	c := f.prune(p, f.cutoff)

	for _, id := range []uuid.UUID{inside, scheduled, running, runningOfDeleted} {
		if !f.has("executions", "id", id) || f.count("step_attempts", "execution_id = $1", id) != attemptsPerExecution {
			t.Errorf("execution %s or its attempts were pruned", id)
		}
	}
	for _, id := range outside {
		if f.has("executions", "id", id) || f.has("step_attempts", "execution_id", id) {
			t.Errorf("execution %s finished past the retention is still there", id)
		}
	}
	if !f.has("flows", "id", deleted) || f.count("flow_versions", "flow_id = $1", deleted) != versionsPerFlow {
		t.Error("a deleted flow whose execution still runs lost its row or versions")
	}
	want := store.Pruned{"executions": 3, "step_attempts": 3 * attemptsPerExecution,
		"events": 0, "flows": 0, "flow_steps": 0, "flow_versions": 0, "api_tokens": 0}
	if diff := cmp.Diff(want, c.Pruned); diff != "" {
		t.Errorf("cycle counts (-want +got):\n%s", diff)
	}
	if got := prunedMetric(t, m, "step_attempts"); got != float64(want["step_attempts"]) {
		t.Errorf("flowd_pruned_rows_total{table=step_attempts} = %v, want %d", got, want["step_attempts"])
	}
	if c.Batches < 2 {
		t.Errorf("3 executions in batches of 2 took %d batches", c.Batches)
	}
}

// A deleted flow goes (with its steps and versions) only once its last
// execution is gone; a flow that is not deleted never goes, and a flow
// deleted inside the retention stays.
func TestDeletedFlowGoesWithItsLastExecution(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	old := f.flow(f.at(-time.Hour))
	f.execution(old, "success", f.at(-time.Minute))
	last := f.execution(old, "failed", f.at(time.Minute))
	notDeleted := f.flow(nil)
	recent := f.flow(f.at(time.Hour))
	p := f.pruner(100)

	f.prune(p, f.cutoff)
	if !f.has("flows", "id", old) || !f.has("executions", "id", last) {
		t.Fatal("the deleted flow went while an execution inside the retention remained")
	}
	c := f.prune(p, f.cutoff.Add(2*time.Minute))
	if f.has("executions", "id", last) {
		t.Fatal("the last execution stayed past the retention")
	}
	for table, column := range map[string]string{"flows": "id", "flow_steps": "flow_id", "flow_versions": "flow_id"} {
		if f.has(table, column, old) {
			t.Errorf("%s of the deleted flow remain after its last execution went", table)
		}
	}
	if c.Pruned["flows"] != 1 || c.Pruned["flow_steps"] != stepsPerFlow || c.Pruned["flow_versions"] != versionsPerFlow {
		t.Errorf("cycle counts %v", c.Pruned)
	}
	// Far in the future every deleted flow is past the retention.
	f.prune(p, f.cutoff.Add(365*24*time.Hour))
	if !f.has("flows", "id", notDeleted) {
		t.Error("a flow that is not deleted was pruned")
	}
	if f.has("flows", "id", recent) {
		t.Error("a deleted flow with no execution stayed past the retention")
	}
}

// Revoked and expired tokens go once past the retention; live ones, and
// those revoked or expiring inside it, never.
func TestRevokedAndExpiredTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	type token struct{ revoked, expires *time.Time }
	tokens := map[string]token{
		"live":            {},
		"revoked inside":  {revoked: f.at(time.Second)},
		"revoked outside": {revoked: f.at(-time.Second)},
		"expires inside":  {expires: f.at(time.Second)},
		"expired outside": {expires: f.at(-time.Second)},
	}
	ids := map[string]uuid.UUID{}
	for name, tk := range tokens {
		ids[name] = uuid.New()
		f.exec(`INSERT INTO api_tokens (id, company_id, user_id, token_hash, scope, revoked_at, expires_at)
			VALUES ($1, $2, $2, $3, 'read', $4, $5)`, ids[name], f.company, []byte(name), tk.revoked, tk.expires)
	}
	f.prune(f.pruner(10), f.cutoff)
	for name, id := range ids {
		if got, want := f.has("api_tokens", "id", id), !strings.HasSuffix(name, "outside"); got != want {
			t.Errorf("token %s present %v, want %v", name, got, want)
		}
	}
}

// An event goes once past the retention and once none of its executions
// remain: with its executions in the same cycle when they are all past the
// retention, never while one stays.
func TestEventsFollowTheirExecutions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	live := f.flow(nil)
	event := func(created *time.Time, executions ...uuid.UUID) uuid.UUID {
		id := uuid.New()
		f.exec(`INSERT INTO events (id, company_id, workspace_id, type, created_at) VALUES ($1, $2, 'default', 'call.ended', $3)`,
			id, f.company, *created)
		for _, e := range executions {
			f.exec(`UPDATE executions SET event_id = $1 WHERE id = $2`, id, e)
		}
		return id
	}
	allGone := event(f.at(-time.Hour), f.execution(live, "success", f.at(-time.Minute)), f.execution(live, "failed", f.at(-time.Minute)))
	oneStays := event(f.at(-time.Hour), f.execution(live, "success", f.at(-time.Minute)), f.execution(live, "success", f.at(time.Minute)))
	running := event(f.at(-time.Hour), f.execution(live, "in_progress", nil))
	startedNothing := event(f.at(-time.Second))
	recent := event(f.at(time.Second))

	p := f.pruner(1)
	would, err := p.DryRun(context.Background(), f.cutoff)
	if err != nil {
		t.Fatal(err)
	}
	c := f.prune(p, f.cutoff)
	if c.Pruned["events"] != 2 || would["events"] != 2 {
		t.Errorf("events pruned %d (dry run said %d), want 2", c.Pruned["events"], would["events"])
	}
	for id, want := range map[uuid.UUID]bool{allGone: false, startedNothing: false, oneStays: true, running: true, recent: true} {
		if got := f.has("events", "id", id); got != want {
			t.Errorf("event %s present %v, want %v", id, got, want)
		}
	}
}

// A dry run changes nothing and counts exactly what the prune then
// deletes, including the flows whose executions go in the same cycle.
func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gone := f.flow(f.at(-time.Hour))
	f.execution(gone, "success", f.at(-time.Minute))
	stays := f.flow(nil)
	f.execution(stays, "success", f.at(-time.Minute))
	f.execution(stays, "cancelled", f.at(time.Minute))
	f.execution(stays, "in_progress", nil)
	p := f.pruner(1)

	before := f.rows()
	would, err := p.DryRun(context.Background(), f.cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, f.rows()); diff != "" {
		t.Fatalf("a dry run changed rows (-before +after):\n%s", diff)
	}
	c := f.prune(p, f.cutoff)
	if diff := cmp.Diff(would, c.Pruned); diff != "" {
		t.Errorf("dry run vs prune (-would +did):\n%s", diff)
	}
	if would["executions"] != 2 || would["flows"] != 1 {
		t.Errorf("dry run counts %v", would)
	}
}

// Pruners racing on one database: each row is deleted once, the cycles
// that ran never overlap, and a pruner that finds the lock taken does
// nothing.
func TestOnePrunerAtATime(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fl := f.flow(nil)
	const executions = 40
	for range executions {
		f.execution(fl, "success", f.at(-time.Hour))
	}

	// While a session holds the lock, a pruner does nothing.
	held, locked, err := f.st.OpenPruneSession(context.Background(), time.Minute, time.Minute)
	if err != nil || !locked {
		t.Fatalf("take the lock: %v %v", locked, err)
	}
	c, err := f.pruner(5).Prune(context.Background(), f.cutoff)
	if err != nil || c.Ran || c.Pruned.Total() != 0 {
		t.Fatalf("a pruner ran while the lock was held: %+v %v", c, err)
	}
	if err := held.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		cycles []retention.Cycle
		wg     sync.WaitGroup
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := f.pruner(3)
			// Each pruner tries until the rows are gone.
			for f.count("executions", "true") > 0 {
				c, err := p.Prune(context.Background(), f.cutoff)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				cycles = append(cycles, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var deleted, attempts int64
	var ran []retention.Cycle
	for _, c := range cycles {
		deleted += c.Pruned["executions"]
		attempts += c.Pruned["step_attempts"]
		if c.Ran {
			ran = append(ran, c)
		}
	}
	if deleted != executions || attempts != executions*attemptsPerExecution {
		t.Errorf("pruners deleted %d executions and %d attempts, want %d and %d", deleted, attempts, executions, executions*attemptsPerExecution)
	}
	sort.Slice(ran, func(i, j int) bool { return ran[i].Started.Before(ran[j].Started) })
	for i := 1; i < len(ran); i++ {
		if ran[i].Started.Before(ran[i-1].Finished) {
			t.Errorf("two cycles overlapped: %v-%v and %v-%v", ran[i-1].Started, ran[i-1].Finished, ran[i].Started, ran[i].Finished)
		}
	}
}

// A prune cancelled in the middle of a batch (blocked on a row lock the
// test holds) rolls that batch back whole, keeps what earlier batches
// deleted, leaves no attempt without its execution, releases the lock,
// and the next cycle finishes the work.
func TestInterruptedBatchRollsBackAndResumes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fl := f.flow(nil)
	var ids []uuid.UUID
	for i := range 6 {
		ids = append(ids, f.execution(fl, "success", f.at(-time.Hour+time.Duration(i)*time.Second)))
	}
	// The third batch (executions 5 and 6) will wait on this lock.
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM step_attempts WHERE execution_id = $1 FOR UPDATE`, ids[5]); err != nil {
		t.Fatal(err)
	}

	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		c   retention.Cycle
		err error
	}
	done := make(chan result, 1)
	p := f.pruner(2)
	go func() {
		c, err := p.Prune(pctx, f.cutoff)
		done <- result{c, err}
	}()
	flowdtest.WaitFor(t, 30*time.Second, "the pruner blocked on the held row", func() bool {
		return f.count("pg_stat_activity", "datname = current_database() AND application_name = 'flowd pruner' AND wait_event_type = 'Lock'") > 0
	})
	cancel()
	r := <-done
	// The batch must be rolled back while the row is still held: the
	// held lock is released only once the pruner's session is gone.
	flowdtest.WaitFor(t, 30*time.Second, "the cancelled session to end", func() bool {
		return f.count("pg_stat_activity", "datname = current_database() AND application_name = 'flowd pruner'") == 0
	})
	if r.err == nil || r.c.Pruned["executions"] != 4 {
		t.Fatalf("the cancelled prune: deleted %v, error %v; want the 4 executions of its first two batches and an error", r.c.Pruned, r.err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.count("executions", "true"); got != 2 || !f.has("executions", "id", ids[4]) || !f.has("executions", "id", ids[5]) {
		t.Errorf("after the interruption %d executions remain, want the 2 of the batch in flight", got)
	}
	if got := f.count("step_attempts", "true"); got != 2*attemptsPerExecution {
		t.Errorf("after the interruption %d attempts remain, want %d", got, 2*attemptsPerExecution)
	}
	if orphans := f.count("step_attempts a", "NOT EXISTS (SELECT 1 FROM executions e WHERE e.id = a.execution_id)"); orphans != 0 {
		t.Errorf("%d attempts without their execution", orphans)
	}
	// The lock goes with the cancelled session, once its backend has
	// seen the cancel request.
	var c retention.Cycle
	flowdtest.WaitFor(t, 30*time.Second, "the next cycle to run", func() bool {
		c, err = p.Prune(ctx, f.cutoff)
		return err == nil && c.Ran
	})
	if c.Pruned["executions"] != 2 || f.count("executions", "true") != 0 {
		t.Errorf("the next cycle pruned %v, %d executions remain", c.Pruned, f.count("executions", "true"))
	}
}

// An execution that runs longer than the retention is not pruned, and
// finishes; once finished past the retention it goes.
func TestRunningExecutionStaysAndFinishes(t *testing.T) {
	t.Parallel()
	env := flowdtest.New(t, &flowdtest.Options{OwnDatabase: true})
	tn := env.NewTenant(t)
	tg := flowdtest.NewTarget(t)
	gate := tg.Gate(t, "/hold")
	fl := env.CreateFlow(t, tn, map[string]any{"name": "long", "retry_delay": 1, "retry_delay_unit": "seconds",
		"steps": []any{map[string]any{"step_number": 1, "webhook_method": "GET", "webhook_url": tg.URL + "/hold"}}})
	e := env.Trigger(t, tn, fl.ID, nil)
	flowdtest.WaitFor(t, 30*time.Second, "the step to reach the target", func() bool { return gate.Arrived() > 0 })
	// It started "long ago": created and executed 60 days back.
	if _, err := env.Pool.Exec(context.Background(), `UPDATE executions SET created_at = created_at - interval '60 days',
		executed_at = executed_at - interval '60 days' WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	p := retention.New(env.Store, &retention.Config{StatementTimeout: time.Minute, LockTimeout: time.Minute})
	if c, err := p.Prune(context.Background(), time.Now()); err != nil || c.Pruned["executions"] != 0 {
		t.Fatalf("prune while running: %v %v", c.Pruned, err)
	}
	gate.Open()
	done := env.WaitExecution(t, tn, e.ID, 30*time.Second, "success", "failed", "cancelled")
	if done.Status != "success" {
		t.Fatalf("the execution ended %s", done.Status)
	}
	// Once River has let go of its job, a cutoff after its end prunes it.
	flowdtest.WaitFor(t, 30*time.Second, "the execution to be pruned", func() bool {
		c, err := p.Prune(context.Background(), time.Now().Add(time.Hour))
		return err == nil && c.Pruned["executions"] == 1
	})
	if r := env.Do(t, tn, "GET", "/v1/executions/"+e.ID.String(), nil); r.Code != 404 {
		t.Errorf("GET the pruned execution: %d, want 404", r.Code)
	}
}

// A cycle that leaves many dead rows in a table vacuums it (where
// autovacuum is off or behind, the freed space would never be reused);
// a table with few dead rows is left to autovacuum.
func TestVacuumAfterLargePrune(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.manyPrunable()
	c := f.prune(f.pruner(100), f.cutoff)
	if c.Pruned["step_attempts"] != 1200 {
		t.Fatalf("pruned %v", c.Pruned)
	}
	if diff := cmp.Diff([]string{"step_attempts"}, c.Vacuumed); diff != "" {
		t.Errorf("vacuumed tables (-want +got):\n%s", diff)
	}
	if c.Deleted.Before(c.Started) || c.Finished.Before(c.Deleted) {
		t.Errorf("the deletes' end %v is not between the cycle's start %v and end %v", c.Deleted, c.Started, c.Finished)
	}
}

// Start's cycles only delete; the VACUUM of the tables they left with
// many dead rows runs after the cycle, apart from it (on a session of its
// own, so that the next cycle's deletes need not wait for it), and is
// reported on its own.
func TestStartVacuumsApartFromCycles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.manyPrunable()
	cycles, vacuums := make(chan retention.Cycle, 10), make(chan retention.Vacuum, 10)
	p := retention.New(f.st, &retention.Config{
		Retention: time.Since(f.cutoff), Interval: time.Hour, // one cycle in the test
		BatchSize: 100, BatchPause: time.Millisecond, StatementTimeout: time.Minute, LockTimeout: time.Minute,
		OnCycle: func(c retention.Cycle, err error) {
			if err != nil {
				t.Errorf("cycle: %v", err)
			}
			cycles <- c
		},
		OnVacuum: func(v retention.Vacuum) { vacuums <- v },
	})
	p.Start(context.Background())
	defer p.Stop()
	var c retention.Cycle
	select {
	case c = <-cycles:
	case <-time.After(time.Minute):
		t.Fatal("no cycle within a minute")
	}
	if c.Pruned["step_attempts"] != 1200 || c.Pruned["executions"] != 400 {
		t.Fatalf("pruned %v", c.Pruned)
	}
	if len(c.Vacuumed) != 0 {
		t.Errorf("the cycle vacuumed %v itself", c.Vacuumed)
	}
	var v retention.Vacuum
	select {
	case v = <-vacuums:
	case <-time.After(time.Minute):
		t.Fatal("no VACUUM pass within a minute of the cycle")
	}
	if v.Err != nil {
		t.Fatalf("VACUUM pass: %v", v.Err)
	}
	if diff := cmp.Diff([]string{"step_attempts"}, v.Tables); diff != "" {
		t.Errorf("vacuumed tables (-want +got):\n%s", diff)
	}
	if v.Started.Before(c.Finished) || v.Finished.Before(v.Started) {
		t.Errorf("VACUUM pass %v–%v, cycle ended %v: want the pass after the cycle", v.Started, v.Finished, c.Finished)
	}
}

// Cycles start an interval apart from start to start, and the one after
// a cycle that outlasted the interval starts at once.
func TestCyclesStartIntervalApart(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		took, want time.Duration
	}{
		{0, 10 * time.Second},
		{3 * time.Second, 7 * time.Second},
		{10 * time.Second, 0},
		{25 * time.Second, 0},
	} {
		if got := retention.UntilNext(t0, t0.Add(tc.took), 10*time.Second); got != tc.want {
			t.Errorf("after a cycle of %v with an interval of 10s: wait %v, want %v", tc.took, got, tc.want)
		}
	}
}
