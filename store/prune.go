package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Pruned counts rows per table, deleted (or, for a dry run, that would be
// deleted) by the pruner.
type Pruned map[string]int64

// Add adds o's counts to p.
func (p Pruned) Add(o Pruned) {
	for table, n := range o {
		p[table] += n
	}
}

// Total is the sum of the counts.
func (p Pruned) Total() int64 {
	var n int64
	for _, v := range p {
		n += v
	}
	return n
}

// PruneStep is one kind of row the pruner deletes once past the retention
// cutoff: a batch statement and the count of a dry run. They cross
// companies on purpose: retention is the operator's, not a tenant's.
//
// Both statements take $1, the cutoff (rows older than it go), and
// return rows (table, count); Delete takes $2 too, the batch's limit on
// the rows of the step's main table, and deletes at most that many (with
// their dependent rows), so a batch holds its locks briefly and each batch
// commits on its own: an interrupted prune loses only its current batch.
type PruneStep struct {
	// Name is the step's main table.
	Name string
	// Tables are the tables the step deletes from, main table first
	// (metrics and dry runs report every one, zeros included).
	Tables []string
	// Divisor shrinks the batch size for steps whose rows carry many
	// dependent rows (a flow has up to flow.MaxSteps steps and one version
	// per edit).
	Divisor int
	delete  string
	count   string
}

// prunableExecution is true of an execution the pruner may delete:
// finished before the cutoff ($1), and not held by a running River job (a
// cancelled execution's job may still be recording its interrupted
// attempts). The status list is the one of executions_finished_idx
// (migration 004), which the pruner's lookup reads.
const prunableExecution = `e.status IN ('success', 'failed', 'cancelled') AND e.finished_at < $1
	AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.id = e.job_id AND j.state = 'running')`

// PruneSteps returns the pruner's steps in the order they must run:
// executions before what only goes once they are gone (their events, their
// deleted flows).
func PruneSteps() []PruneStep {
	return []PruneStep{pruneExecutions, pruneEvents, pruneFlows, pruneTokens}
}

// pruneExecutions deletes finished executions with their step attempts,
// oldest first, in one statement: the attempts of the locked executions
// and then the executions (the step_attempts foreign key is checked at
// the end of the statement, when both are gone). Executions locked by
// someone else (an operator's retry, another pruner) are skipped, and the
// lock re-checks the status, so an execution retried meanwhile stays.
var pruneExecutions = newPruneStep(pruneSpec{
	table: "executions", alias: "e", order: "e.finished_at", divisor: 1,
	where:      prunableExecution,
	countWhere: prunableExecution,
	dependents: []dependent{{table: "step_attempts", fk: "execution_id"}},
})

// pruneEvents deletes events published before the cutoff none of whose
// executions remain (executions.event_id refers to them, so they go after
// the executions step). An event that started nothing goes once past the
// cutoff too. A dry run counts the events whose executions would all be
// pruned in the same cycle, as the flows step does.
var pruneEvents = newPruneStep(pruneSpec{
	table: "events", alias: "v", order: "v.created_at", divisor: 1,
	where: `v.created_at < $1 AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.event_id = v.id)`,
	countWhere: `v.created_at < $1 AND NOT EXISTS (
		SELECT 1 FROM executions e WHERE e.event_id = v.id AND NOT (` + prunableExecution + `))`,
})

// pruneFlows removes for good the flows deleted before the cutoff that
// have no execution left, with their steps and definition versions (a
// flow's schedule state is columns of its row). Only deleted flows go, and
// only when no execution, living or kept, refers to any of their versions.
// A dry run counts the flows whose executions would all be pruned in the
// same cycle (the executions step runs first).
var pruneFlows = newPruneStep(pruneSpec{
	table: "flows", alias: "f", order: "f.deleted_at", divisor: 10,
	where: `f.deleted_at < $1 AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.flow_id = f.id)`,
	countWhere: `f.deleted_at < $1 AND NOT EXISTS (
		SELECT 1 FROM executions e WHERE e.flow_id = f.id AND NOT (` + prunableExecution + `))`,
	dependents: []dependent{{table: "flow_steps", fk: "flow_id"}, {table: "flow_versions", fk: "flow_id"}},
})

// pruneTokens deletes tokens revoked or expired before the cutoff (they
// never authenticate again; the row only served the audit of recent
// changes, whose entries keep the token id), in no particular order.
var pruneTokens = newPruneStep(pruneSpec{
	table: "api_tokens", alias: "t", divisor: 1,
	where:      prunableToken,
	countWhere: prunableToken,
})

// prunableToken is true of a token revoked or expired before the cutoff
// ($1); each half is read through its partial index (migrations 004 and
// 011).
const prunableToken = `(revoked_at < $1 OR expires_at < $1)`

// pruneSpec describes a prune step: its main table, which of its rows go,
// and the tables whose rows go with a main row.
type pruneSpec struct {
	table, alias string // the main table, and its alias in where and order
	// where selects the main rows a batch deletes ($1 is the cutoff);
	// countWhere those a dry run counts.
	where, countWhere string
	order             string // the batch's order, oldest first; empty for any
	divisor           int    // PruneStep.Divisor
	dependents        []dependent
}

// dependent is a table whose rows go with the main row their column fk
// names.
type dependent struct{ table, fk string }

// newPruneStep returns the PruneStep of c. Its batch is one statement:
// lock at most $2 main rows (skipping rows someone else holds; the lock
// re-checks where), delete their dependent rows and then them, and count
// each.
func newPruneStep(c pruneSpec) PruneStep {
	step := PruneStep{Name: c.table, Tables: []string{c.table}, Divisor: c.divisor}
	var deletes, deleted, counted string
	for i, d := range c.dependents {
		step.Tables = append(step.Tables, d.table)
		deletes += fmt.Sprintf(`, dep%d AS (
			DELETE FROM %s x USING doomed d WHERE x.%s = d.id RETURNING 1
		)`, i, d.table, d.fk)
		deleted += fmt.Sprintf("\n\t\tUNION ALL SELECT '%s', count(*) FROM dep%d", d.table, i)
		counted += fmt.Sprintf("\n\t\tUNION ALL SELECT '%s', count(*) FROM %s x JOIN doomed d ON x.%s = d.id", d.table, d.table, d.fk)
	}
	order := ""
	if c.order != "" {
		order = "ORDER BY " + c.order + " "
	}
	step.delete = fmt.Sprintf(`WITH doomed AS (
			SELECT %[2]s.id FROM %[1]s %[2]s WHERE %[3]s
			%[4]sLIMIT $2
			FOR UPDATE OF %[2]s SKIP LOCKED
		)%[5]s, gone AS (
			DELETE FROM %[1]s x USING doomed d WHERE x.id = d.id RETURNING 1
		)
		SELECT '%[1]s', count(*) FROM gone%[6]s`, c.table, c.alias, c.where, order, deletes, deleted)
	step.count = fmt.Sprintf(`WITH doomed AS (SELECT %[2]s.id FROM %[1]s %[2]s WHERE %[3]s)
		SELECT '%[1]s', count(*) FROM doomed%[4]s`, c.table, c.alias, c.countWhere, counted)
	return step
}

// Limit is the most rows of the step's main table one batch deletes, for
// a batch size given in executions.
func (step PruneStep) Limit(batch int) int { return max(batch/step.Divisor, 1) }

// PruneBatch deletes one batch of step's rows older than cutoff, at most
// step.Limit(limit) rows of its main table, and returns what it deleted per table.
func (s *Store) PruneBatch(ctx context.Context, step PruneStep, cutoff time.Time, limit int) (Pruned, error) {
	out, err := scanPruned(s.db.Query(ctx, step.delete, cutoff, step.Limit(limit)))
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", step.Name, err)
	}
	return out, nil
}

// PruneCount returns how many rows of step's tables are older than cutoff
// and would be pruned (a dry run).
func (s *Store) PruneCount(ctx context.Context, step PruneStep, cutoff time.Time) (Pruned, error) {
	out, err := scanPruned(s.db.Query(ctx, step.count, cutoff))
	if err != nil {
		return nil, fmt.Errorf("count %s to prune: %w", step.Name, err)
	}
	return out, nil
}

func scanPruned(rows pgx.Rows, err error) (Pruned, error) {
	if err != nil {
		return nil, err
	}
	out := Pruned{}
	type count struct {
		table string
		n     int64
	}
	counts, err := collect(rows, func(r pgx.Row) (count, error) {
		var c count
		return c, r.Scan(&c.table, &c.n)
	})
	for _, c := range counts {
		out[c.table] = c.n
	}
	return out, err
}

// pruneLockID is the advisory lock a pruning cycle holds for its whole
// length, in every process: one pruner at a time.
const pruneLockID = 0x666c6f7764_7072 // "flowd" "pr"

// PruneSession is a dedicated connection (not the pool's) for one pruning
// cycle: its advisory lock and its timeouts live and die with it, so a
// process killed mid-cycle releases the lock with its connection, and the
// timeouts never leak into a pooled connection.
type PruneSession struct {
	*Store
	conn *pgx.Conn
}

// OpenPruneSession connects a new session with the pool's settings, sets
// its statement and lock timeouts (which bound every batch statement and
// every wait for a lock: the pruner gives up rather than make the workers
// wait), and tries the pruners' advisory lock. locked false means another
// pruner is running a cycle; the session is then already closed.
func (s *Store) OpenPruneSession(ctx context.Context, statementTimeout, lockTimeout time.Duration) (ps *PruneSession, locked bool, err error) {
	conn, err := s.connectSession(ctx, map[string]string{
		"statement_timeout": fmt.Sprint(statementTimeout.Milliseconds()),
		"lock_timeout":      fmt.Sprint(lockTimeout.Milliseconds()),
		"application_name":  "flowd pruner",
	})
	if err != nil {
		return nil, false, fmt.Errorf("connect the pruner's session: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(pruneLockID)).Scan(&locked); err != nil || !locked {
		_ = conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, false, fmt.Errorf("take the pruners' lock: %w", err)
		}
		return nil, false, nil
	}
	return &PruneSession{Store: &Store{pool: s.pool, db: conn, keys: s.keys}, conn: conn}, true, nil
}

// connectSession connects a new session with the pool's settings and
// params. A cancelled context sends a cancel request, and a dead client
// (kill -9) is noticed by the server within a second even while a
// statement waits for a lock (PostgreSQL 14 or later): a batch whose
// client is gone must roll back, not run on and commit (its Sync is
// already in the server's buffer), and a VACUUM must not run on for
// nobody.
func (s *Store) connectSession(ctx context.Context, params map[string]string) (*pgx.Conn, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["client_connection_check_interval"] = "1000"
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// VacuumSession is a connection of its own for the pruner's VACUUM, which
// flowd serve runs apart from its delete cycles (retention.Pruner.Start):
// the session settings PruneVacuum makes (no statement timeout,
// autovacuum's throttle) never leak into a pooled connection. It takes no
// lock: VACUUM (SKIP_LOCKED) already skips a table another VACUUM holds.
type VacuumSession struct {
	*Store
	conn *pgx.Conn
}

// OpenVacuumSession connects a VacuumSession.
func (s *Store) OpenVacuumSession(ctx context.Context) (*VacuumSession, error) {
	conn, err := s.connectSession(ctx, map[string]string{"application_name": "flowd pruner vacuum"})
	if err != nil {
		return nil, fmt.Errorf("connect the pruner's vacuum session: %w", err)
	}
	return &VacuumSession{Store: &Store{pool: s.pool, db: conn, keys: s.keys}, conn: conn}, nil
}

// Close ends the session.
func (vs *VacuumSession) Close(ctx context.Context) error { return vs.conn.Close(ctx) }

// Close releases the pruners' lock and ends the session. The unlock is
// explicit because a closed connection's backend releases its locks only
// when it exits, a moment later: the next cycle, even in this process,
// would find the lock still held. On a broken connection the unlock fails
// and the lock goes with the backend.
func (ps *PruneSession) Close(ctx context.Context) error {
	_, _ = ps.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(pruneLockID))
	return ps.conn.Close(ctx)
}

// Vacuum thresholds of PruneVacuum: autovacuum's rule with a 2% scale
// factor (migration 004 sets the same on executions and step_attempts).
const (
	vacuumThreshold   = 1000
	vacuumScaleFactor = 0.02
)

// throttleVacuum gives the session's VACUUM autovacuum's cost-based delay
// (autovacuum_vacuum_cost_delay and autovacuum_vacuum_cost_limit, or
// vacuum_cost_delay and vacuum_cost_limit where those are -1). A VACUUM
// typed by hand is unthrottled by default: run every cycle on a busy
// server it took CPU and I/O from the workers in bursts; throttled, it
// reads and dirties pages at the pace PostgreSQL gives its own background
// vacuum.
const throttleVacuum = `SELECT
	set_config('vacuum_cost_delay', CASE current_setting('autovacuum_vacuum_cost_delay')
		WHEN '-1' THEN current_setting('vacuum_cost_delay') ELSE current_setting('autovacuum_vacuum_cost_delay') END, false),
	set_config('vacuum_cost_limit', CASE current_setting('autovacuum_vacuum_cost_limit')
		WHEN '-1' THEN current_setting('vacuum_cost_limit') ELSE current_setting('autovacuum_vacuum_cost_limit') END, false)`

// PruneVacuum runs VACUUM (SKIP_LOCKED) on each of tables whose dead rows
// (the statistics' n_dead_tup, or deleted[table] when that is more: the
// statistics lag a moment behind) pass autovacuum's threshold with a 2%
// scale factor, and returns the tables it vacuumed. Where autovacuum runs
// and keeps up it vacuumed them already and this does nothing; where it is
// off or behind, the space the pruner freed would otherwise never be
// reused and the tables would grow for ever. VACUUM does not block reads
// or writes; a table another VACUUM holds is skipped. The session's
// statement timeout is lifted for it (a VACUUM of a large table is long),
// and it is throttled like autovacuum (throttleVacuum).
func (s *Store) PruneVacuum(ctx context.Context, tables []string, deleted Pruned) ([]string, error) {
	type stat struct {
		table      string
		dead, live int64
	}
	scan := func(r pgx.Row) (st stat, err error) {
		return st, r.Scan(&st.table, &st.dead, &st.live)
	}
	stats, err := queryAll(ctx, s.db, "read dead rows", scan, `SELECT c.relname, coalesce(st.n_dead_tup, 0), greatest(c.reltuples, 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
		WHERE n.nspname = current_schema() AND c.relname = ANY($1)`, tables)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, st := range stats {
		if max(st.dead, deleted[st.table]) <= vacuumThreshold+int64(vacuumScaleFactor*float64(st.live)) {
			continue
		}
		if len(done) == 0 {
			if _, err := s.db.Exec(ctx, `SET statement_timeout = 0`); err != nil {
				return nil, fmt.Errorf("lift the statement timeout for VACUUM: %w", err)
			}
			if _, err := s.db.Exec(ctx, throttleVacuum); err != nil {
				return nil, fmt.Errorf("throttle VACUUM: %w", err)
			}
		}
		if _, err := s.db.Exec(ctx, `VACUUM (SKIP_LOCKED) `+pgx.Identifier{st.table}.Sanitize()); err != nil {
			return done, fmt.Errorf("vacuum %s: %w", st.table, err)
		}
		done = append(done, st.table)
	}
	return done, nil
}
