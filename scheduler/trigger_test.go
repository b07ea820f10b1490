package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
)

// oneStepFlow is a flow of one POST to the target.
func oneStepFlow(name, url string) map[string]any {
	return map[string]any{"name": name, "steps": []any{map[string]any{
		"step_number": 1, "webhook_url": url + "/" + name, "webhook_method": "POST",
	}}}
}

// stored returns the ids among ids that have a committed execution row.
func (b *testBundle) stored(t *testing.T, ids []uuid.UUID) map[uuid.UUID]bool {
	t.Helper()
	rows, _ := b.env.Pool.Query(context.Background(), `SELECT id FROM executions WHERE id = ANY($1) AND job_id IS NOT NULL`, ids)
	list, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	out := map[uuid.UUID]bool{}
	for _, id := range list {
		out[id] = true
	}
	return out
}

// orphanJobs counts the River jobs of the flow's executions' kind that no
// execution row names.
func (b *testBundle) orphanJobs(t *testing.T, execIDs []uuid.UUID) int {
	t.Helper()
	var n int
	err := b.env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job j
		WHERE (j.args->>'execution_id')::uuid = ANY($1)
		  AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.job_id = j.id)`, execIDs).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitSucceeded waits until every execution of ids has succeeded.
func (b *testBundle) waitSucceeded(t *testing.T, ids []uuid.UUID) {
	t.Helper()
	flowdtest.WaitFor(t, 30*time.Second, "every execution succeeded", func() bool {
		var n int
		err := b.env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM executions WHERE id = ANY($1) AND status = $2`,
			ids, flow.ExecutionStatusSuccess).Scan(&n)
		return err == nil && n == len(ids)
	})
}

// writeTriggerBatch writes one batch of the trigger group: five triggers
// of a new one-step flow (oneStepFlow named name, on a target of its own),
// changed by edit when it is not nil.
func (b *testBundle) writeTriggerBatch(t *testing.T, name string, edit func([]scheduler.TriggerRequest)) *scheduler.TriggerBatch {
	t.Helper()
	target := flowdtest.NewTarget(t)
	f := b.create(t, oneStepFlow(name, target.URL))
	reqs := make([]scheduler.TriggerRequest, 5)
	for i := range reqs {
		reqs[i] = scheduler.TriggerRequest{CompanyID: f.CompanyID, FlowID: f.ID}
	}
	if edit != nil {
		edit(reqs)
	}
	got, err := b.env.Sched.WriteTriggerBatch(context.Background(), reqs, make([]*store.FlowRunInfo, len(reqs)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestConcurrentTriggersCommittedAndRun: triggers arriving together through
// the API and the Go function share the trigger group; each is answered
// only once its execution is committed (the row is there when the answer
// arrives), and every one runs.
func TestConcurrentTriggersCommittedAndRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	target := flowdtest.NewTarget(t)
	f := b.create(t, oneStepFlow("together", target.URL))
	const n = 40
	var mu sync.Mutex
	var ids []uuid.UUID
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var id uuid.UUID
			if i%2 == 0 {
				r := b.env.Do(t, b.tenant, "POST", "/v1/webhooks/"+f.ID.String()+"/trigger", map[string]any{"payload": map[string]any{"i": i}})
				var x flow.Execution
				if r.Code != http.StatusAccepted || json.Unmarshal(r.Data, &x) != nil {
					t.Errorf("API trigger %d: %d %s", i, r.Code, r.Raw)
					return
				}
				id = x.ID
			} else {
				x, created, err := b.env.Sched.Trigger(context.Background(), scheduler.TriggerRequest{CompanyID: f.CompanyID, FlowID: f.ID})
				if err != nil || !created {
					t.Errorf("Go trigger %d: created %v, %v", i, created, err)
					return
				}
				id = x.ID
			}
			if !b.stored(t, []uuid.UUID{id})[id] {
				t.Errorf("trigger %d answered before execution %s was committed with its job", i, id)
			}
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != n {
		t.Fatalf("%d of %d triggers answered", len(ids), n)
	}
	b.waitSucceeded(t, ids)
	if got := len(target.Requests("/together")); got != n {
		t.Errorf("the target got %d requests, want %d", got, n)
	}
	if o := b.orphanJobs(t, ids); o != 0 {
		t.Errorf("%d jobs without their execution", o)
	}
}

// TestTriggerBatchOneTransaction: a batch of the trigger group is one
// transaction (every row has the same transaction start as created_at),
// and its executions run.
func TestTriggerBatchOneTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := b.writeTriggerBatch(t, "batch", nil)
	var ids []uuid.UUID
	for i, e := range got.Execs {
		if !got.Created[i] || got.Errs[i] != nil {
			t.Errorf("trigger %d: created %v, %v", i, got.Created[i], got.Errs[i])
		}
		ids = append(ids, e.ID)
	}
	// created_at is now(), the start of the inserting transaction (xmin
	// would change with the first checkpoint of a running execution).
	var txs int
	if err := b.env.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT created_at) FROM executions WHERE id = ANY($1)`, ids).Scan(&txs); err != nil || txs != 1 {
		t.Errorf("the batch was written in %d transactions (%v), want 1", txs, err)
	}
	b.waitSucceeded(t, ids)
}

// TestTriggerBatchFailureKeepsTheOthers: one trigger that the database
// refuses (a payload jsonb cannot hold) fails the batch's transaction; the
// others are written again one by one and run, and only the bad one gets
// an error. Nothing of it is left behind.
func TestTriggerBatchFailureKeepsTheOthers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const bad = 2
	got := b.writeTriggerBatch(t, "mixed", func(reqs []scheduler.TriggerRequest) {
		reqs[bad].Payload = json.RawMessage(`{"nul": "\u0000"}`) // valid JSON, refused by jsonb
	})
	var good, all []uuid.UUID
	for i, e := range got.Execs {
		all = append(all, e.ID)
		if i == bad {
			if got.Created[i] || got.Errs[i] == nil {
				t.Errorf("the bad trigger: want an error, got created %v, %v", got.Created[i], got.Errs[i])
			}
			continue
		}
		if !got.Created[i] || got.Errs[i] != nil {
			t.Errorf("good trigger %d: created %v, %v", i, got.Created[i], got.Errs[i])
		}
		good = append(good, e.ID)
	}
	b.waitSucceeded(t, good)
	if s := b.stored(t, all); len(s) != len(good) || s[got.Execs[bad].ID] {
		t.Errorf("stored %d executions (the bad one: %v), want the %d good ones", len(s), s[got.Execs[bad].ID], len(good))
	}
	if o := b.orphanJobs(t, all); o != 0 {
		t.Errorf("%d jobs without their execution", o)
	}
}

// TestTriggerSeesFlowChanges: a trigger decided on a flow as it was read
// (or as the scheduler's cache keeps it) is not inserted once the flow
// changed (stopped, or edited to a new version), whichever process changed
// it, and leaves no job; Trigger then reads the flow again and refuses the
// stopped flow, or runs the new version; a resumed flow runs at once.
func TestTriggerSeesFlowChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	target := flowdtest.NewTarget(t)
	def := oneStepFlow("changing", target.URL)
	f := b.create(t, def)
	req := scheduler.TriggerRequest{CompanyID: f.CompanyID, FlowID: f.ID}
	read := func() *store.FlowRunInfo {
		t.Helper()
		info, err := b.env.Store.FlowRunInfo(ctx, f.CompanyID, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	stale := func(before *store.FlowRunInfo, what string) {
		t.Helper()
		got, err := b.env.Sched.WriteTriggerBatch(ctx, []scheduler.TriggerRequest{req}, []*store.FlowRunInfo{before}, nil)
		if err != nil || got.Created[0] || got.Errs[0] != nil {
			t.Fatalf("trigger on the flow as it was before %s: want not inserted, got created %v, %v %v", what, got.Created[0], got.Errs[0], err)
		}
		if o := b.orphanJobs(t, []uuid.UUID{got.Execs[0].ID}); o != 0 {
			t.Errorf("%d jobs without their execution after %s", o, what)
		}
	}

	// The first trigger keeps the flow's run info in the scheduler's cache;
	// another company's trigger must not find it there.
	first, created, err := b.env.Sched.Trigger(ctx, req)
	if err != nil || !created {
		t.Fatalf("first trigger: created %v, %v", created, err)
	}
	other := b.env.NewTenant(t)
	if _, _, err := b.env.Sched.Trigger(ctx, scheduler.TriggerRequest{CompanyID: other.CompanyID, FlowID: f.ID}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another company's trigger: want store.ErrNotFound, got %v", err)
	}
	before := read()
	if r := b.env.Do(t, b.tenant, "PUT", "/v1/webhooks/"+f.ID.String(), def); r.Code != http.StatusOK {
		t.Fatalf("edit flow: %d %s", r.Code, r.Raw)
	}
	stale(before, "an edit")
	x, created, err := b.env.Sched.Trigger(ctx, req)
	if err != nil || !created || x.FlowVersion != before.Version+1 {
		t.Fatalf("trigger after an edit: want version %d created, got %+v %v %v", before.Version+1, x, created, err)
	}
	b.waitSucceeded(t, []uuid.UUID{first.ID, x.ID})

	before = read()
	b.post(t, "/v1/integrations/"+f.ID.String()+"/stop", nil, http.StatusOK)
	stale(before, "a stop")
	if _, _, err := b.env.Sched.Trigger(ctx, req); !errors.Is(err, store.ErrConflict) {
		t.Errorf("trigger of a stopped flow: want store.ErrConflict, got %v", err)
	}
	b.post(t, "/v1/integrations/"+f.ID.String()+"/resume", nil, http.StatusOK)
	if x, created, err := b.env.Sched.Trigger(ctx, req); err != nil || !created {
		t.Errorf("trigger of the resumed flow: created %v, %v", created, err)
	} else {
		b.waitSucceeded(t, []uuid.UUID{x.ID})
	}
}
