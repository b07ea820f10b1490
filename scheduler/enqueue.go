package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
	"github.com/flowd/flowd/telemetry"
)

// jobsByExecution maps the id of each job InsertManyTx inserted to the
// execution its args name: the results are matched by args rather than
// trusted to keep the order of the params.
func jobsByExecution(res []*rivertype.JobInsertResult) (map[uuid.UUID]int64, error) {
	jobs := make(map[uuid.UUID]int64, len(res))
	for _, r := range res {
		var args engine.ExecutionArgs
		if err := json.Unmarshal(r.Job.EncodedArgs, &args); err != nil {
			return nil, fmt.Errorf("read args of job %d: %w", r.Job.ID, err)
		}
		jobs[args.ExecutionID] = r.Job.ID
	}
	return jobs, nil
}

// jobDeleteMax is the most jobs River's JobDeleteManyTx deletes at once.
const jobDeleteMax = 10_000

// insertExecutions writes new executions and their River jobs in the
// transaction tx is bound to, in two statements whatever their number:
// the jobs first (one InsertManyTx), so that each execution row is
// inserted with its job id and never written again here; then the
// executions (store.ExecutionsInsert, which explains seen). Each job
// carries the trace of its entry in traces (nil, or an invalid entry: the
// trace of ctx). The executions not inserted (a duplicate, or a flow
// changed since seen) have their jobs deleted in the same transaction, in
// one more statement. It returns the ids of the executions inserted.
func (s *Scheduler) insertExecutions(ctx context.Context, tx *store.Store, execs []*flow.Execution, seen []*store.FlowRunInfo, traces []trace.SpanContext) (map[uuid.UUID]bool, error) {
	params := make([]river.InsertManyParams, len(execs))
	for i, e := range execs {
		opts := &river.InsertOpts{Queue: QueueExecutions}
		if traces != nil {
			opts.Metadata = telemetry.JobMetadata(traces[i])
		}
		params[i] = river.InsertManyParams{Args: engine.ExecutionArgs{ExecutionID: e.ID}, InsertOpts: opts}
	}
	res, err := s.client.InsertManyTx(ctx, tx.Tx(), params)
	if err != nil {
		return nil, fmt.Errorf("enqueue executions: %w", err)
	}
	jobs, err := jobsByExecution(res)
	if err != nil {
		return nil, err
	}
	for _, e := range execs {
		e.JobID = jobs[e.ID]
	}
	inserted, err := tx.ExecutionsInsert(ctx, execs, seen)
	if err != nil {
		return nil, err
	}
	var orphans []int64
	for _, e := range execs {
		if !inserted[e.ID] && e.JobID != 0 {
			orphans = append(orphans, e.JobID)
			e.JobID = 0
		}
	}
	// One statement for them all (a whole batch misses after a flow edit),
	// in chunks of River's limit.
	for ids := range slices.Chunk(orphans, jobDeleteMax) {
		del := river.NewJobDeleteManyParams().IDs(ids...).First(len(ids))
		if _, err := s.client.JobDeleteManyTx(ctx, tx.Tx(), del); err != nil {
			return nil, fmt.Errorf("delete the jobs of %d executions not inserted: %w", len(ids), err)
		}
	}
	return inserted, nil
}
