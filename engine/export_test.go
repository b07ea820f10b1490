package engine

import (
	"context"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
)

// GroupRead is the worker's group read of executions (reader), started on
// one shard, for the tests that check what a batch answers.
type GroupRead struct{ r *reader }

// NewGroupRead starts a group read over store with one shard.
func NewGroupRead(store Store) *GroupRead {
	r := newReader(store, 1, MaxCommitBatchDefault)
	r.start()
	return &GroupRead{r: r}
}

// Get reads an execution to run, as Work does.
func (g *GroupRead) Get(ctx context.Context, id uuid.UUID) (*flow.Execution, flow.SigningSecrets, error) {
	return g.r.get(ctx, id)
}

// Queued is how many reads wait for the next batch.
func (g *GroupRead) Queued() int { return g.r.group.Queued() }

// Stop stops the group read.
func (g *GroupRead) Stop() { g.r.stop() }
