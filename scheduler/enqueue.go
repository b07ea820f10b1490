package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
	"github.com/flowd/flowd/telemetry"
)

// insertExecutions writes new executions and their River jobs in the
// transaction tx is bound to, in two statements whatever their number:
// the jobs first (one InsertManyTx), so that each execution row is
// inserted with its job id and never written again here; then the
// executions (store.ExecutionsInsert, which explains seen). Each job
// carries the trace of its entry in traces (nil, or an invalid entry: the
// trace of ctx). An execution that is not inserted (a duplicate, or a flow
// changed since seen) has its job deleted in the same transaction. It
// returns the ids of the executions inserted.
func (s *Scheduler) insertExecutions(ctx context.Context, tx *store.Store, execs []*flow.Execution, seen []*store.FlowRunInfo, traces []trace.SpanContext) (map[uuid.UUID]bool, error) {
	params := make([]river.InsertManyParams, len(execs))
	byID := make(map[uuid.UUID]*flow.Execution, len(execs))
	for i, e := range execs {
		opts := &river.InsertOpts{Queue: QueueExecutions}
		if traces != nil {
			opts.Metadata = telemetry.JobMetadata(traces[i])
		}
		params[i] = river.InsertManyParams{Args: engine.ExecutionArgs{ExecutionID: e.ID}, InsertOpts: opts}
		byID[e.ID] = e
	}
	res, err := s.client.InsertManyTx(ctx, tx.Tx(), params)
	if err != nil {
		return nil, fmt.Errorf("enqueue executions: %w", err)
	}
	// Match jobs to executions by their args rather than trusting the order
	// of the results.
	for _, r := range res {
		var args engine.ExecutionArgs
		if err := json.Unmarshal(r.Job.EncodedArgs, &args); err != nil {
			return nil, fmt.Errorf("read args of job %d: %w", r.Job.ID, err)
		}
		if e := byID[args.ExecutionID]; e != nil {
			e.JobID = r.Job.ID
		}
	}
	inserted, err := tx.ExecutionsInsert(ctx, execs, seen)
	if err != nil {
		return nil, err
	}
	for _, e := range execs {
		if inserted[e.ID] {
			continue
		}
		if _, err := s.client.JobDeleteTx(ctx, tx.Tx(), e.JobID); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
			return nil, fmt.Errorf("delete job %d of an execution not inserted: %w", e.JobID, err)
		}
		e.JobID = 0
	}
	return inserted, nil
}
