package main

// The benchmark's own SQL: creating and dropping its database, resetting
// tables between runs, reading pg_stat_statements and the executions'
// timestamps, and writing old history rows. It is measurement plumbing, not
// product SQL (which lives in store/). Every statement carries the comment
// /* flowbench */ so that pg_stat_statements figures leave it out.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
)

const marker = "/* flowbench */ "

var (
	urlPassword = regexp.MustCompile(`(://[^:/@]*):[^@/]*@`)
	kvPassword  = regexp.MustCompile(`password=\S+`)
)

// redactURL hides a password in a connection string.
func redactURL(s string) string {
	return kvPassword.ReplaceAllString(urlPassword.ReplaceAllString(s, "${1}:***@"), "password=***")
}

// createDatabase creates and migrates flowd_bench_<pid> on the server of
// adminURL; drop removes it.
func createDatabase(ctx context.Context, adminURL string) (dbURL string, drop func(), err error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect %s: %w", redactURL(adminURL), err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("flowd_bench_%d", os.Getpid())
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, marker+"CREATE DATABASE "+ident); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(dctx, adminURL)
		if err != nil {
			fmt.Fprintf(os.Stderr, "flowbench: drop database %s: %v\n", name, err)
			return
		}
		defer c.Close(dctx)
		if _, err := c.Exec(dctx, marker+"DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "flowbench: drop database %s: %v\n", name, err)
		}
	}
	dbURL = store.ConnStringWithDatabase(adminURL, name)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("connect %s: %w", name, err)
	}
	defer pool.Close()
	if err := store.Migrate(ctx, pool, nil); err != nil {
		drop()
		return "", nil, fmt.Errorf("migrate %s: %w", name, err)
	}
	return dbURL, drop, nil
}

// harness is the benchmark's own connection to the bench database.
type harness struct {
	pool       *pgxpool.Pool
	dbName     string
	dbOID      uint32
	pgss       bool // pg_stat_statements is usable
	pgssNote   string
	postmaster int
	pgVersion  string
}

func openHarness(ctx context.Context, dbURL string) (*harness, error) {
	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	h := &harness{pool: pool}
	var backend int
	err = pool.QueryRow(ctx, marker+`SELECT current_database(), (SELECT oid FROM pg_database WHERE datname = current_database()),
		pg_backend_pid(), current_setting('server_version')`).Scan(&h.dbName, &h.dbOID, &backend, &h.pgVersion)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("read database identity: %w", err)
	}
	// The postmaster is the parent of our backend, when the server runs on
	// this machine (and we may read its /proc entry).
	if _, ppid, err := procCPU(backend); err == nil {
		h.postmaster = ppid
	}
	h.pgss, h.pgssNote = h.enablePGSS(ctx)
	return h, nil
}

func (h *harness) enablePGSS(ctx context.Context) (bool, string) {
	var preload string
	if err := h.pool.QueryRow(ctx, marker+`SELECT current_setting('shared_preload_libraries')`).Scan(&preload); err != nil {
		return false, err.Error()
	}
	if !strings.Contains(preload, "pg_stat_statements") {
		return false, "pg_stat_statements is not in shared_preload_libraries"
	}
	if _, err := h.pool.Exec(ctx, marker+`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return false, fmt.Sprintf("create extension pg_stat_statements: %v", err)
	}
	if _, err := h.pool.Exec(ctx, marker+`SELECT pg_stat_statements_reset(0, $1, 0)`, h.dbOID); err != nil {
		return false, fmt.Sprintf("pg_stat_statements_reset: %v", err)
	}
	return true, ""
}

func (h *harness) close() { h.pool.Close() }

// resetStatements clears the bench database's pg_stat_statements entries.
func (h *harness) resetStatements(ctx context.Context) error {
	if !h.pgss {
		return nil
	}
	_, err := h.pool.Exec(ctx, marker+`SELECT pg_stat_statements_reset(0, $1, 0)`, h.dbOID)
	return err
}

// Statement is one normalised statement, how often it ran per step and
// how long PostgreSQL spent executing it.
type Statement struct {
	Query        string  `json:"query"`
	Calls        int64   `json:"calls"`
	CallsPerStep float64 `json:"calls_per_step"`
	MeanMS       float64 `json:"mean_exec_ms"`
	// ExecMSPerStep is the statement's execution time per step: where
	// PostgreSQL's time goes (parse, network and commit waits excluded).
	ExecMSPerStep float64 `json:"exec_ms_per_step"`
}

// statements returns the bench database's statement calls since the last
// reset (the benchmark's own excluded), and the most frequent ones.
func (h *harness) statements(ctx context.Context, top int) (int64, []Statement, error) {
	rows, err := h.pool.Query(ctx, marker+`SELECT query, calls, total_exec_time FROM pg_stat_statements
		WHERE dbid = $1 AND query NOT LIKE '%flowbench%' ORDER BY calls DESC`, h.dbOID)
	if err != nil {
		return 0, nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	var total int64
	var list []Statement
	var s Statement
	_, err = pgx.ForEachRow(rows, []any{&s.Query, &s.Calls, &s.MeanMS}, func() error {
		s.ExecMSPerStep = s.MeanMS // total for now; per step set by the caller
		if s.Calls > 0 {
			s.MeanMS = round(s.MeanMS/float64(s.Calls), 3)
		}
		total += s.Calls
		if len(list) < top {
			s.Query = shortQuery(s.Query)
			list = append(list, s)
		}
		return nil
	})
	return total, list, err
}

var spaces = regexp.MustCompile(`\s+`)

func shortQuery(q string) string {
	q = strings.TrimSpace(spaces.ReplaceAllString(q, " "))
	if len(q) > 160 {
		q = q[:157] + "..."
	}
	return q
}

// backends returns the database and type of each PostgreSQL process that
// pg_stat_activity lists.
func (h *harness) backends(ctx context.Context) (map[int]string, error) {
	rows, err := h.pool.Query(ctx, marker+`SELECT pid, coalesce(datname, ''), coalesce(backend_type, '') FROM pg_stat_activity`)
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	var pid int
	var db, typ string
	_, err = pgx.ForEachRow(rows, []any{&pid, &db, &typ}, func() error {
		if typ == "client backend" {
			out[pid] = "db:" + db
		} else {
			out[pid] = typ
		}
		return nil
	})
	return out, err
}

// dbNow returns the server's clock.
func (h *harness) dbNow(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := h.pool.QueryRow(ctx, marker+`SELECT clock_timestamp()`).Scan(&t)
	return t, err
}

// executionUpdates returns the updates and the HOT updates of executions
// so far (zeros when they cannot be read).
func (h *harness) executionUpdates(ctx context.Context) [2]int64 {
	var n [2]int64
	_ = h.pool.QueryRow(ctx, marker+`SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
		WHERE relid = 'executions'::regclass`).Scan(&n[0], &n[1])
	return n
}

// resetTables empties the tables runs fill, so every run starts alike, and
// checkpoints so that no earlier run's writes are flushed during it.
func (h *harness) resetTables(ctx context.Context) error {
	if _, err := h.pool.Exec(ctx, marker+`TRUNCATE step_attempts, executions, river_job`); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	_, _ = h.pool.Exec(ctx, marker+`CHECKPOINT`) // needs a superuser; best effort
	return nil
}

// waitFinished polls until n executions created since `since` have
// finished_at set.
func (h *harness) waitFinished(ctx context.Context, since time.Time, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var done int
		err := h.pool.QueryRow(ctx, marker+`SELECT count(*) FROM executions WHERE created_at >= $1 AND finished_at IS NOT NULL`, since).Scan(&done)
		if err != nil {
			return fmt.Errorf("count finished executions: %w", err)
		}
		if done >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d executions finished after %s", done, n, timeout)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// execRow is one execution's outcome.
type execRow struct {
	id       uuid.UUID
	status   string
	errMsg   *string
	created  time.Time
	finished *time.Time
	// fetched is when River handed the job to a worker (its last attempt);
	// sent when step 1's attempt began (after its running checkpoint).
	fetched, sent *time.Time
}

// executions returns the executions created since `since`.
func (h *harness) executions(ctx context.Context, since time.Time) ([]execRow, error) {
	rows, err := h.pool.Query(ctx, marker+`SELECT e.id, e.status, e.error_message, e.created_at, e.finished_at,
			(SELECT j.attempted_at FROM river_job j WHERE j.id = e.job_id),
			(SELECT min(a.started_at) FROM step_attempts a WHERE a.execution_id = e.id AND a.step_number = 1)
		FROM executions e WHERE e.created_at >= $1`, since)
	if err != nil {
		return nil, fmt.Errorf("read executions: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (execRow, error) {
		var r execRow
		err := row.Scan(&r.id, &r.status, &r.errMsg, &r.created, &r.finished, &r.fetched, &r.sent)
		return r, err
	})
}

// insertHistory writes n old, finished executions of a flow (3 steps each),
// their step attempts and their completed River jobs, spread over the
// hours before now, then analyzes the tables.
func (h *harness) insertHistory(ctx context.Context, flowID, companyID uuid.UUID, targetURL string, n int) error {
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := map[int]*flow.StepState{}
	for i := 1; i <= 3; i++ {
		steps[i] = &flow.StepState{Status: flow.StepSuccess, Attempts: 1, FirstStartedAt: &t, FinishedAt: &t}
	}
	steps[1].Vars = json.RawMessage(`{"token":"tok-history"}`)
	steps[2].Vars = json.RawMessage(`{"count":42}`)
	stepsJSON, _ := json.Marshal(steps)
	stmts := []struct {
		what string
		sql  string
		args []any
	}{
		{"executions", `INSERT INTO executions (id, flow_id, company_id, flow_version, status, attempt_number,
			trigger, payload, variables, steps, executed_at, created_at, updated_at, finished_at)
			SELECT gen_random_uuid(), $1, $2, 1, 'success', 1, 'manual', 'null', '{"source":"history"}', $3::jsonb,
				ts, ts, ts + interval '40 ms', ts + interval '40 ms'
			FROM (SELECT now() - interval '2 hours' - i * interval '10 seconds' AS ts
				FROM generate_series(1, $4::int) i) s`, []any{flowID, companyID, string(stepsJSON), n}},
		// Statistics before the attempts: each attempt's foreign key check
		// looks its execution up by id with a plan made from the table's
		// statistics, which are still those the runs before left (then a
		// truncate). In one full run the attempts' insert ran for over 15
		// minutes without waiting on a lock, as a sequential scan of the
		// 100,000 executions per checked attempt would; with statistics
		// of the rows just inserted the check is an index lookup.
		{"analyze executions", `ANALYZE executions`, nil},
		{"step attempts", `INSERT INTO step_attempts (id, execution_id, step_number, attempt, execution_attempt,
			outcome, request_method, request_url, request_headers, request_body, response_status,
			response_headers, response_body, duration_ms, extracted, worker_id, started_at, created_at)
			SELECT gen_random_uuid(), e.id, s.n, 1, 1, 'success', 'POST', $2 || '/step' || s.n,
				'{"Content-Type":"application/json","Idempotency-Key":"history","User-Agent":"flowd/1.0"}',
				'{"count":42}', 200, '{"Content-Type":"application/json"}', '{"token":"tok-history","count":42}',
				2, '{}', 'history', e.created_at + s.n * interval '10 ms', e.created_at + s.n * interval '10 ms'
			FROM executions e CROSS JOIN generate_series(1, 3) s(n)
			WHERE e.flow_id = $1 AND e.created_at < now() - interval '1 hour'`, []any{flowID, targetURL}},
		{"river jobs", `INSERT INTO river_job (state, queue, kind, args, attempt, max_attempts, priority,
			attempted_at, attempted_by, created_at, finalized_at, scheduled_at)
			SELECT 'completed', $2, 'flowd.execution', jsonb_build_object('execution_id', e.id), 1, 50, 1,
				e.created_at, ARRAY['history'], e.created_at, e.finished_at, e.created_at
			FROM executions e WHERE e.flow_id = $1 AND e.created_at < now() - interval '1 hour'`, []any{flowID, scheduler.QueueExecutions}},
		{"analyze", `ANALYZE executions, step_attempts, river_job`, nil},
	}
	for _, s := range stmts {
		if _, err := h.pool.Exec(ctx, marker+s.sql, s.args...); err != nil {
			return fmt.Errorf("insert history %s: %w", s.what, err)
		}
	}
	_, _ = h.pool.Exec(ctx, marker+`CHECKPOINT`)
	return nil
}
