package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/internal/flowdtest"
)

// inFlight is the number of executions each shutdown test has mid-request
// when it stops the worker process.
const inFlight = 100

// shutdownSteps are the lines a worker process logs while it stops, in
// their order (cmd/flowd/serve.go, scheduler.Scheduler.Stop).
var shutdownSteps = []string{
	`msg="shutdown: stop accepting"`,
	`msg="shutdown: drain HTTP"`,
	`msg="shutdown: stop River"`,
	`msg="shutdown: wait for runs"`,
	`msg="shutdown: close committer"`,
	`msg="shutdown: stop heartbeat"`,
	`msg="shutdown: close pool"`,
	`msg="shutdown complete"`,
}

// shutdownBundle is a worker process running inFlight executions whose
// first step is held at the target's gate.
type shutdownBundle struct {
	*bundle
	gate   *flowdtest.Gate
	flowID uuid.UUID
	first  *proc
}

// setupShutdown starts a worker process with the given grace period,
// triggers inFlight executions of a chain (step 1 held at the gate, step 2
// answered at once) and waits until every step 1 request is at the target.
func setupShutdown(t *testing.T, grace time.Duration) *shutdownBundle {
	t.Helper()
	b := &shutdownBundle{bundle: setup(t)}
	b.gate = b.target.Gate(t, "/held")
	b.flowID = b.createFlow(t, []map[string]any{
		{"webhook_method": "POST", "webhook_url": b.target.URL + "/held", "webhook_timeout": 300, "timeout": 600},
		{"webhook_method": "GET", "webhook_url": b.target.URL + "/next"},
	}, true)
	b.first = b.startWorker(t, "first", "FLOWD_SHUTDOWN_GRACE="+grace.String(), "FLOWD_WORKERS=150")
	for range inFlight {
		b.trigger(t, b.flowID)
	}
	flowdtest.WaitFor(t, 60*time.Second, "every execution's request at the target", func() bool { return b.gate.Arrived() >= inFlight })
	return b
}

// stop sends SIGTERM to the first process, calls during (if not nil) once
// it has begun to stop River, and returns how long the process took to
// exit, which it must do with code 0 within limit, without a panic and
// logging every shutdown step in order.
func (b *shutdownBundle) stop(t *testing.T, limit time.Duration, during func()) time.Duration {
	t.Helper()
	b.first.signal(t, syscall.SIGTERM)
	termAt := time.Now()
	if during != nil {
		flowdtest.WaitFor(t, limit, "the soft stop", func() bool { return len(scanLines(b.first.log(), shutdownSteps[2])) > 0 })
		during()
	}
	if code := b.first.wait(t, limit+10*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM: %d, want 0", code)
	}
	took := time.Since(termAt)
	t.Logf("the worker exited %s after SIGTERM", took.Round(time.Millisecond))
	if took >= limit {
		t.Errorf("the worker took %s to stop, want less than %s", took, limit)
	}
	log := b.first.log()
	if strings.Contains(strings.ToLower(log), "panic") {
		t.Errorf("the worker's output mentions a panic:\n%s", tail(log, 40))
	}
	checkInOrder(t, log, shutdownSteps)
	return took
}

// checkLeftForRescue fails the test unless every execution of the flow
// either finished or is left for another process: its job queued again
// (available, scheduled, retryable), or still marked running by a process
// that marked itself stopped (the rescuer hands it back at once). It
// returns the executions per "execution status/job state".
func (b *shutdownBundle) checkLeftForRescue(t *testing.T) map[string]int {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT e.status, j.state::text,
			j.state = 'running' AND coalesce(w.heartbeat_at = '-infinity', false) AS rescuable
		FROM executions e JOIN river_job j ON j.id = e.job_id
		LEFT JOIN flowd_workers w ON w.client_id = j.attempted_by[cardinality(j.attempted_by)]
		WHERE e.flow_id = $1`, b.flowID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var status, state string
		var rescuable bool
		if err := rows.Scan(&status, &state, &rescuable); err != nil {
			t.Fatal(err)
		}
		got[status+"/"+state]++
		switch {
		case status == "success" && state == "completed":
		case status != "success" && (state == "available" || state == "scheduled" || state == "retryable" || rescuable):
		default:
			t.Errorf("execution %s with job %s: neither finished nor left for another process", status, state)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n := sum(got); n != inFlight {
		t.Errorf("%d executions, want %d", n, inFlight)
	}
	return got
}

// finishElsewhere starts a second worker process and checks that it
// finishes every execution: each step exactly one success, no job left.
func (b *shutdownBundle) finishElsewhere(t *testing.T) *proc {
	t.Helper()
	second := b.startWorker(t, "second")
	counts := b.waitFinished(t, b.flowID, inFlight, 90*time.Second)
	if d := cmp.Diff(map[string]int{"success": inFlight}, counts); d != "" {
		t.Errorf("execution statuses (-want +got):\n%s", d)
	}
	b.checkOneSuccessPerStep(t, b.flowID, 2)
	b.waitQueueSettled(t, 30*time.Second)
	return second
}

// attemptsBy returns the flow's attempts of a worker as "step/outcome" →
// count.
func (b *shutdownBundle) attemptsBy(t *testing.T, workerID string) map[string]int {
	t.Helper()
	out, err := b.countBy(`SELECT a.step_number::text || '/' || a.outcome, count(*)
		FROM step_attempts a JOIN executions e ON e.id = a.execution_id
		WHERE e.flow_id = $1 AND a.worker_id = $2 GROUP BY 1`, b.flowID, workerID)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSIGTERMDrains stops (SIGTERM) a worker process while 100 executions
// are mid-request; the target answers during the grace period. The
// process launches no new step, records the 100 answers, hands the
// executions back and exits 0 well within the grace period, after the
// shutdown steps in their order; a process started afterwards runs the
// rest. Every step of every execution succeeds exactly once.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	const grace = 30 * time.Second
	b := setupShutdown(t, grace)
	b.stop(t, grace, b.gate.Open)

	left := b.checkLeftForRescue(t)
	t.Logf("after the stop, executions by status/job state: %v", left)
	if d := cmp.Diff(map[string]int{"1/success": inFlight}, b.attemptsBy(t, b.first.clientID)); d != "" {
		t.Errorf("attempts of the stopped process (-want +got): every held request recorded as a success, no step 2 launched:\n%s", d)
	}
	second := b.finishElsewhere(t)
	if d := cmp.Diff(map[string]int{"2/success": inFlight}, b.attemptsBy(t, second.clientID)); d != "" {
		t.Errorf("attempts of the second process (-want +got):\n%s", d)
	}
}

// TestSIGTERMHardStop stops (SIGTERM) a worker process while 100
// executions are mid-request and the target never answers: after the
// grace period River cancels the requests (hard stop); the 100 runs record
// their interrupted attempts through the committer at once, the process
// exits 0 (no send on a closed channel), and another process sends the
// steps again, with the same Idempotency-Key, to success.
func TestSIGTERMHardStop(t *testing.T) {
	t.Parallel()
	const grace = 2 * time.Second
	b := setupShutdown(t, grace)
	if took := b.stop(t, grace+15*time.Second, nil); took < grace {
		t.Errorf("the worker stopped %s after SIGTERM, before the %s grace period ended", took, grace)
	}

	left := b.checkLeftForRescue(t)
	t.Logf("after the stop, executions by status/job state: %v", left)
	if d := cmp.Diff(map[string]int{"1/interrupted": inFlight}, b.attemptsBy(t, b.first.clientID)); d != "" {
		t.Errorf("attempts of the stopped process (-want +got):\n%s", d)
	}
	b.gate.Open()
	second := b.finishElsewhere(t)
	if d := cmp.Diff(map[string]int{"1/success": inFlight, "2/success": inFlight}, b.attemptsBy(t, second.clientID)); d != "" {
		t.Errorf("attempts of the second process (-want +got):\n%s", d)
	}
	keys := map[string]int{}
	for _, r := range b.target.Requests("") {
		if r.Path == "/held" {
			keys[r.Header.Get("Idempotency-Key")]++
		}
	}
	for k, n := range keys {
		if n != 2 || !strings.HasSuffix(k, ":1") {
			t.Errorf("step 1 sent %d times with Idempotency-Key %q, want twice with <execution id>:1", n, k)
		}
	}
	if len(keys) != inFlight {
		t.Errorf("step 1 sent with %d Idempotency-Keys, want %d", len(keys), inFlight)
	}
}

// checkInOrder fails the test unless each of subs is on a line of log
// after the line of the one before.
func checkInOrder(t *testing.T, log string, subs []string) {
	t.Helper()
	lines := strings.Split(log, "\n")
	i := 0
	for _, sub := range subs {
		for i < len(lines) && !strings.Contains(lines[i], sub) {
			i++
		}
		if i == len(lines) {
			t.Errorf("log lacks %s after the steps before it:\n%s", sub, tail(log, 30))
			return
		}
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
