package scheduler_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/scheduler"
)

// publishBatch writes reqs (events of b's company) as one batch of the
// publish group, to two new one-step flows subscribed to "call.ended".
func (b *testBundle) publishBatch(t *testing.T, name string, reqs ...scheduler.PublishRequest) (*scheduler.PublishBatch, []*flow.Flow) {
	t.Helper()
	target := flowdtest.NewTarget(t)
	var flows []*flow.Flow
	for _, n := range []string{name + "-a", name + "-b"} {
		def := oneStepFlow(n, target.URL)
		def["events"] = []string{"call.ended"}
		flows = append(flows, b.create(t, def))
	}
	for i := range reqs {
		reqs[i].CompanyID, reqs[i].WorkspaceID = flows[0].CompanyID, flows[0].WorkspaceID
	}
	got, err := b.env.Sched.WritePublishBatch(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	return got, flows
}

// event is a request to publish an event of type typ with small data,
// under the idempotency key key when it is not empty.
func event(typ, key string) scheduler.PublishRequest {
	return scheduler.PublishRequest{Type: typ, Data: json.RawMessage(`{"call": 1}`), IdempotencyKey: key}
}

// checkStarted checks that event i of got was stored with its executions
// (one per subscribed flow, each with its job and the event's id), or
// that it started nothing.
func (b *testBundle) checkStarted(t *testing.T, got *scheduler.PublishBatch, i int, flows []*flow.Flow, want bool) {
	t.Helper()
	var ids []uuid.UUID
	for _, e := range got.Execs[i] {
		ids = append(ids, e.ID)
	}
	stored := b.stored(t, ids)
	if !want {
		if len(stored) != 0 {
			t.Errorf("event %d: %d executions stored, want none", i, len(stored))
		}
		return
	}
	if len(ids) != len(flows) || len(stored) != len(flows) {
		t.Errorf("event %d: %d executions, %d stored with a job; want %d", i, len(ids), len(stored), len(flows))
	}
	var n int
	err := b.env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM executions
		WHERE id = ANY($1) AND event_id = $2 AND trigger = $3 AND payload->>'id' = $4`,
		ids, got.Events[i].ID, flow.TriggerEvent, got.Events[i].ID.String()).Scan(&n)
	if err != nil || n != len(flows) {
		t.Errorf("event %d: %d executions name the event, want %d (%v)", i, n, len(flows), err)
	}
	if o := b.orphanJobs(t, ids); o != 0 {
		t.Errorf("event %d: %d jobs without their execution", i, o)
	}
}

// TestPublishBatchSharesOneTransaction: events published together are
// written in one transaction; two of them with one idempotency key in the
// same batch store the first only, and the second starts nothing.
func TestPublishBatchSharesOneTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The fourth event has no subscriber.
	got, flows := b.publishBatch(t, "together", event("call.ended", ""), event("call.ended", "call-1"),
		event("call.ended", "call-1"), event("call.started", ""))
	for i, want := range []bool{true, true, false, true} {
		if got.Created[i] != want || got.Errs[i] != nil {
			t.Errorf("event %d: created %v, %v; want created %v", i, got.Created[i], got.Errs[i], want)
		}
	}
	b.checkStarted(t, got, 0, flows, true)
	b.checkStarted(t, got, 1, flows, true)
	b.checkStarted(t, got, 2, flows, false)
	if len(got.Execs[3]) != 0 {
		t.Errorf("an event without subscribers started %d executions", len(got.Execs[3]))
	}
	var ids []uuid.UUID
	for _, e := range append(got.Execs[0], got.Execs[1]...) {
		ids = append(ids, e.ID)
	}
	b.waitSucceeded(t, ids)
}

// TestPublishBatchFailureKeepsTheOthers: when a batch's transaction fails,
// each event is written again alone: the one PostgreSQL refuses fails its
// own publisher only, and starts nothing.
func TestPublishBatchFailureKeepsTheOthers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bad := event("call.ended", "")
	bad.Data = json.RawMessage(`{"nul": "\u0000"}`) // valid JSON, refused by jsonb
	got, flows := b.publishBatch(t, "mixed", event("call.ended", ""), bad, event("call.ended", "call-2"))
	if got.Created[1] || got.Errs[1] == nil {
		t.Errorf("the bad event: want an error, got created %v, %v", got.Created[1], got.Errs[1])
	}
	b.checkStarted(t, got, 1, flows, false)
	for _, i := range []int{0, 2} {
		if !got.Created[i] || got.Errs[i] != nil {
			t.Errorf("good event %d: created %v, %v", i, got.Created[i], got.Errs[i])
		}
		b.checkStarted(t, got, i, flows, true)
	}
}
