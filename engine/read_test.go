package engine_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/store"
)

// gatedStore is the real store with each group read's ids recorded; the
// first read waits at gate until the test opens it.
type gatedStore struct {
	*store.Store
	gate  chan struct{}
	mu    sync.Mutex
	calls [][]uuid.UUID
}

func (g *gatedStore) ExecutionsGetForRun(ctx context.Context, ids []uuid.UUID, found func(uuid.UUID, *flow.Execution, flow.SigningSecrets, error)) error {
	g.mu.Lock()
	first := len(g.calls) == 0
	g.calls = append(g.calls, slices.Clone(ids))
	g.mu.Unlock()
	if first {
		<-g.gate
	}
	return g.Store.ExecutionsGetForRun(ctx, ids, found)
}

func (g *gatedStore) callCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

type readResult struct {
	id   uuid.UUID
	exec *flow.Execution
	err  error
}

// TestGroupReadAnswersEachRun: the runs that ask while a read is under way
// are read together in the next statement, and each gets its own
// execution; an id with no execution gets "not found" and a second run of
// an execution asked in the same batch is refused, without failing the
// others.
func TestGroupReadAnswersEachRun(t *testing.T) {
	t.Parallel()
	b := setupRunWith(t, &flowdtest.Options{NoWorker: true})
	flowID := b.createFlow(t, flowDef("read", []any{step(1, "GET", b.tg.URL+"/ok", nil)}, nil))
	var execs []*flow.Execution
	for range 6 {
		execs = append(execs, b.trigger(t, flowID, nil))
	}
	gs := &gatedStore{Store: b.env.Store, gate: make(chan struct{})}
	r := engine.NewGroupRead(gs)
	t.Cleanup(r.Stop)
	ctx := t.Context()

	results := make(chan readResult)
	get := func(id uuid.UUID) {
		e, _, err := r.Get(ctx, id)
		results <- readResult{id: id, exec: e, err: err}
	}
	go get(execs[0].ID)
	flowdtest.WaitFor(t, 10*time.Second, "the first read under way", func() bool { return gs.callCount() == 1 })
	missing := uuid.New()
	later := []uuid.UUID{execs[1].ID, execs[2].ID, execs[3].ID, execs[4].ID, execs[5].ID, missing, execs[1].ID}
	for _, id := range later {
		go get(id)
	}
	flowdtest.WaitFor(t, 10*time.Second, "the later reads queued", func() bool { return r.Queued() == len(later) })
	close(gs.gate)

	var got []readResult
	for range 1 + len(later) {
		select {
		case res := <-results:
			got = append(got, res)
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d reads answered", len(got), 1+len(later))
		}
	}
	refused := 0
	for _, res := range got {
		switch {
		case res.id == missing:
			if res.err == nil || !strings.Contains(res.err.Error(), "not found") {
				t.Errorf("read of a missing execution: want a not-found error, got %v", res.err)
			}
		case res.err != nil && res.id == execs[1].ID && strings.Contains(res.err.Error(), "another run of it is starting"):
			refused++
		case res.err != nil:
			t.Errorf("read of %s: %v", res.id, res.err)
		case res.exec.ID != res.id || res.exec.FlowID != flowID:
			t.Errorf("read of %s answered execution %s of flow %s", res.id, res.exec.ID, res.exec.FlowID)
		}
	}
	if refused != 1 {
		t.Errorf("two reads of one execution in a batch: %d refused, want 1", refused)
	}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if len(gs.calls) != 2 || len(gs.calls[1]) != len(later)-1 {
		t.Errorf("reads by statement: %v; want the first alone, then the %d distinct later ids in one", gs.calls, len(later)-1)
	}
}
