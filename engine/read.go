package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/groupcommit"
)

// reader is the group read of the executions whose runs begin: River hands
// out jobs in batches and starts their Work together, so each shard reads
// whatever executions have been asked for meanwhile in one statement
// (Store.ExecutionsGetForRun) instead of one statement per run. It waits
// for nothing: a lone run is read at once.
type reader struct {
	store Store
	group *groupcommit.Group[*readReq]
}

// readReq is one run's read: id in, the rest filled by the batch.
type readReq struct {
	id      uuid.UUID
	exec    *flow.Execution
	signing flow.SigningSecrets
	err     error
}

func newReader(store Store, shards, maxBatch int) *reader {
	r := &reader{store: store}
	r.group = groupcommit.New(shards, maxBatch, ErrStopped, r.read)
	return r
}

func (r *reader) start() { r.group.Start() }

func (r *reader) stop() { r.group.Stop() }

// get reads the execution id and its flow's signing secrets.
func (r *reader) get(ctx context.Context, id uuid.UUID) (*flow.Execution, flow.SigningSecrets, error) {
	h := fnv.New32a()
	h.Write(id[:])
	req := &readReq{id: id}
	if err := r.group.Submit(ctx, h.Sum32(), req, true); err != nil {
		return nil, flow.SigningSecrets{}, fmt.Errorf("get execution %s to run: %w", id, err)
	}
	return req.exec, req.signing, req.err
}

// read runs one batch: every request gets its execution, the error of
// opening it, or "not found"; a failed query is every request's error.
func (r *reader) read(batch []*readReq) error {
	byID := make(map[uuid.UUID]*readReq, len(batch))
	ids := make([]uuid.UUID, 0, len(batch))
	for _, q := range batch {
		if _, ok := byID[q.id]; ok {
			// Two runs of one execution asked at once (a job run again
			// before its first run returned): they must not share one
			// state, and one of them is one too many; River retries it.
			q.err = fmt.Errorf("get execution %s to run: another run of it is starting", q.id)
			continue
		}
		byID[q.id] = q
		ids = append(ids, q.id)
		q.err = fmt.Errorf("get execution %s to run: not found", q.id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.store.ExecutionsGetForRun(ctx, ids, func(id uuid.UUID, e *flow.Execution, signing flow.SigningSecrets, err error) {
		if q := byID[id]; q != nil {
			q.exec, q.signing, q.err = e, signing, err
		}
	})
}
