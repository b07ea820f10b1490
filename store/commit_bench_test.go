package store_test

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

// BenchmarkExecutionCommit commits groups like the worker's group
// committer: one attempt and one new state per execution. It reports this
// process's CPU per group (cpu-µs/op), which is what the choice of how
// rows are sent (one JSON document or arrays) changes.
func BenchmarkExecutionCommit(b *testing.B) {
	tb := setup(b)
	ctx := context.Background()
	f := tb.createFlow(b, 3)
	const group = 64
	execs := make([]*flow.Execution, group)
	for i := range execs {
		execs[i] = tb.createExecution(b, f)
	}
	status := 200
	now := time.Now()
	attempt := flow.StepAttempt{
		StepNumber: 2, Attempt: 1, ExecutionAttempt: 1, Outcome: "success",
		RequestMethod: "POST", RequestURL: "https://example.com/contacts?page=2",
		RequestHeaders:  map[string]string{"content-type": "application/json", "idempotency-key": "abc-2-1", "user-agent": "flowd/1.0", "authorization": "[REDACTED]"},
		RequestBody:     `{"user": "ann", "run": "5c1a"}`,
		ResponseStatus:  &status,
		ResponseHeaders: map[string]string{"content-type": "application/json", "date": "Mon, 30 Nov 2026 10:00:00 GMT", "content-length": "64", "x-request-id": "r-123"},
		ResponseBody:    `{"total": 42, "items": [{"id": 1}, {"id": 2}], "next": null}`,
		DurationMS:      12, Extracted: json.RawMessage(`{"total": 42}`), WorkerID: "bench-worker", StartedAt: now,
	}
	steps := map[int]*flow.StepState{
		1: {Status: flow.StepSuccess, Attempts: 1, FirstStartedAt: &now, FinishedAt: &now, Vars: json.RawMessage(`{"tok": "x"}`)},
		2: {Status: flow.StepSuccess, Attempts: 1, FirstStartedAt: &now, FinishedAt: &now, Vars: json.RawMessage(`{"total": 42}`)},
		3: {Status: flow.StepPending},
	}
	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for b.Loop() {
		attempts := make([]flow.StepAttempt, group)
		updates := make([]flow.ExecutionUpdate, group)
		for i, e := range execs {
			attempts[i] = attempt
			attempts[i].ID, attempts[i].ExecutionID = uuid.New(), e.ID
			updates[i] = flow.ExecutionUpdate{ID: e.ID, Status: flow.ExecutionStatusInProgress, AttemptNumber: 1, Steps: steps, ExecutedAt: &now}
		}
		if err := tb.store.ExecutionCommit(ctx, attempts, updates); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}
