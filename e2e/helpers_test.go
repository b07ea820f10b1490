package e2e

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
)

// bundle is a test's database, an insert-only flowd on it (API and
// triggers, no workers: the worker processes run the executions), a company
// and a target server.
type bundle struct {
	url    string
	pool   *pgxpool.Pool
	env    *flowdtest.Env
	tenant *flowdtest.Tenant
	target *flowdtest.Target
}

// setup gives the test a database of its own, so that its worker processes
// never take other tests' jobs.
func setup(t *testing.T, tweaks ...func(*flowdtest.Options)) *bundle {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: worker processes are slow; skipped with -short")
	}
	return setupOn(t, testdb.NewDatabase(t), tweaks...)
}

// setupOn is setup on the database at url; tweaks change the options of
// the insert-only flowd.
func setupOn(t *testing.T, url string, tweaks ...func(*flowdtest.Options)) *bundle {
	t.Helper()
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.MaxConns = 10
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	opts := &flowdtest.Options{Pool: pool, NoWorker: true}
	for _, tweak := range tweaks {
		tweak(opts)
	}
	env := flowdtest.New(t, opts)
	return &bundle{url: url, pool: pool, env: env, tenant: env.NewTenant(t), target: flowdtest.NewTarget(t)}
}

// proc is a `flowd worker` process.
type proc struct {
	name     string
	cmd      *exec.Cmd
	logPath  string
	clientID string
	done     chan struct{}
	exitCode int
}

var clientIDRE = regexp.MustCompile(`msg="flowd ready".*client_id=(\S+)`)

// startWorker runs `flowd worker` on the bundle's database with
// FLOWD_ALLOW_NETWORKS=127.0.0.0/8, the test process's encryption key and
// extra environment variables
// ("NAME=value"), and waits until it is ready. It is killed at the test's
// cleanup if it still runs; its log is printed if the test failed.
func (b *bundle) startWorker(t *testing.T, name string, env ...string) *proc {
	t.Helper()
	p := &proc{name: name, logPath: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(flowdBinary(t), "worker")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "FLOWD_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env,
		"DATABASE_URL="+b.url,
		"FLOWD_ALLOW_NETWORKS=127.0.0.0/8",
		"FLOWD_LOG_FORMAT=text",
		"FLOWD_DB_MAX_CONNS=10",
		"FLOWD_WORKERS=50",
		// The key of this test process's stores (testdb.Keys).
		"FLOWD_ENCRYPTION_KEYS="+testdb.KeySpec(),
	)
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		err := p.cmd.Wait()
		logFile.Close()
		p.exitCode = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.exitCode = ee.ExitCode()
		} else if err != nil {
			p.exitCode = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- log of %s (%s):\n%s", p.name, p.clientID, tail(p.log(), 60))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := clientIDRE.FindStringSubmatch(p.log()); m != nil {
			p.clientID = m[1]
			return p
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("worker %s did not become ready (exited %v):\n%s", name, p.exited(), p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s to %s: %v", sig, p.name, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.exitCode
	case <-time.After(timeout):
		t.Fatalf("worker %s still runs after %s", p.name, timeout)
		return 0
	}
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// createFlow creates a flow of steps, each {"step_number", "webhook_method",
// "webhook_url", ...}, chained in order when chain is set.
func (b *bundle) createFlow(t *testing.T, steps []map[string]any, chain bool) uuid.UUID {
	t.Helper()
	var list []any
	for i, s := range steps {
		s["step_number"] = i + 1
		if chain && i > 0 {
			s["depends_on_step"] = i
		}
		list = append(list, s)
	}
	return b.env.CreateFlow(t, b.tenant, map[string]any{
		"name": t.Name(), "steps": list, "retry_delay": 1, "retry_delay_unit": "seconds",
	}).ID
}

// trigger starts an execution of the flow through the API.
func (b *bundle) trigger(t *testing.T, flowID uuid.UUID) uuid.UUID {
	t.Helper()
	return b.env.Trigger(t, b.tenant, flowID, nil).ID
}

// statusCounts returns the number of the flow's executions per status.
func (b *bundle) statusCounts(t *testing.T, flowID uuid.UUID) map[string]int {
	t.Helper()
	out, err := b.countBy(`SELECT status, count(*) FROM executions WHERE flow_id = $1 GROUP BY status`, flowID)
	if err != nil {
		t.Logf("count executions: %v", err) // the database may be restarting
	}
	return out
}

// countBy runs a query whose rows are a key and a count, and returns the
// counts by key.
func (b *bundle) countBy(query string, args ...any) (map[string]int, error) {
	rows, err := b.pool.Query(context.Background(), query, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	var k string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&k, &n}, func() error { out[k] = n; return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// waitFinished waits until n executions of the flow ended (success, failed
// or cancelled) and returns the counts per status.
func (b *bundle) waitFinished(t *testing.T, flowID uuid.UUID, n int, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := b.statusCounts(t, flowID)
		if c["success"]+c["failed"]+c["cancelled"] >= n {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, executions by status: %v (want %d finished)", timeout, c, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// execution reads an execution with its attempts.
func (b *bundle) execution(t *testing.T, id uuid.UUID) *flow.Execution {
	t.Helper()
	r := b.env.Do(t, b.tenant, "GET", "/v1/executions/"+id.String(), nil)
	if r.Code != http.StatusOK {
		t.Fatalf("get execution: %d %s", r.Code, r.Raw)
	}
	var e flow.Execution
	r.Decode(t, &e)
	return &e
}

// checkOneSuccessPerStep fails the test unless every execution of the flow
// has exactly one success attempt recorded for each of its steps.
func (b *bundle) checkOneSuccessPerStep(t *testing.T, flowID uuid.UUID, steps int) {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT e.id, n.step, count(a.id)
		FROM executions e
		CROSS JOIN generate_series(1, $2) AS n(step)
		LEFT JOIN step_attempts a ON a.execution_id = e.id AND a.step_number = n.step AND a.outcome = 'success'
		WHERE e.flow_id = $1
		GROUP BY e.id, n.step
		HAVING count(a.id) <> 1
		LIMIT 10`, flowID, steps)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var step, n int
		if err := rows.Scan(&id, &step, &n); err != nil {
			t.Fatal(err)
		}
		t.Errorf("execution %s step %d: %d success attempts recorded, want exactly 1", id, step, n)
	}
}

// waitQueueSettled waits until no job of the executions queue is left in
// any state but completed: nothing is stuck running, waiting or retrying.
func (b *bundle) waitQueueSettled(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var states string
		err := b.pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(state::text || ':' || n, ', '), '')
			FROM (SELECT state, count(*) AS n FROM river_job WHERE queue = 'flowd_executions' AND state <> 'completed' GROUP BY state) s`).Scan(&states)
		if err == nil && states == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not completed after %s: %s %v", timeout, states, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// jobWorker returns the client id of the process that runs (or last ran)
// the execution's job.
func (b *bundle) jobWorker(t *testing.T, execID uuid.UUID) string {
	t.Helper()
	var w string
	err := b.pool.QueryRow(context.Background(), `SELECT coalesce(j.attempted_by[cardinality(j.attempted_by)], '')
		FROM executions e JOIN river_job j ON j.id = e.job_id WHERE e.id = $1`, execID).Scan(&w)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// workerCounts returns how many attempts of the flow each worker recorded.
func (b *bundle) workerCounts(t *testing.T, flowID uuid.UUID) map[string]int {
	t.Helper()
	out, err := b.countBy(`SELECT a.worker_id, count(*) FROM step_attempts a
		JOIN executions e ON e.id = a.execution_id WHERE e.flow_id = $1 GROUP BY a.worker_id`, flowID)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// scanLines returns the lines of s that contain sub.
func scanLines(s, sub string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			out = append(out, sc.Text())
		}
	}
	return out
}
