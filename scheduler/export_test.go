package scheduler

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/store"
)

// TriggerBatch is one batch of the trigger group as tests hand it to the
// group's write function: the executions of reqs, decided on the flows as
// seen (read now when seen[i] is nil), each on behalf of its span in spans
// (none when nil).
type TriggerBatch struct {
	Execs   []*flow.Execution
	Created []bool
	Errs    []error
}

// WriteTriggerBatch writes reqs as one batch of the trigger group, the way
// concurrent Trigger calls that meet in one shard are written.
func (s *Scheduler) WriteTriggerBatch(ctx context.Context, reqs []TriggerRequest, seen []*store.FlowRunInfo, spans []trace.SpanContext) (*TriggerBatch, error) {
	batch := make([]*pendingTrigger, len(reqs))
	for i, req := range reqs {
		info := seen[i]
		if info == nil {
			var err error
			if info, err = s.store.FlowRunInfo(ctx, req.CompanyID, req.FlowID); err != nil {
				return nil, err
			}
		}
		batch[i] = &pendingTrigger{exec: newExecution(req, info, nil, req.Variables), seen: info}
		if spans != nil {
			batch[i].span = spans[i]
		}
	}
	if err := s.writeTriggers(batch); err != nil {
		return nil, err
	}
	out := &TriggerBatch{}
	for _, t := range batch {
		out.Execs, out.Created, out.Errs = append(out.Execs, t.exec), append(out.Created, t.created), append(out.Errs, t.err)
	}
	return out, nil
}

// PublishBatch is one batch of the publish group as written: each
// request's event, its executions, whether it was stored, and its error.
type PublishBatch struct {
	Events  []*flow.Event
	Execs   [][]*flow.Execution
	Created []bool
	Errs    []error
}

// WritePublishBatch writes reqs as one batch of the publish group, the way
// concurrent Publish calls that meet in one shard are written.
func (s *Scheduler) WritePublishBatch(ctx context.Context, reqs []PublishRequest) (*PublishBatch, error) {
	batch := make([]*pendingEvent, len(reqs))
	for i, req := range reqs {
		var key *string
		if req.IdempotencyKey != "" {
			key = &req.IdempotencyKey
		}
		p, err := s.newPendingEvent(ctx, req, key)
		if err != nil {
			return nil, err
		}
		batch[i] = p
	}
	if err := s.writeEvents(batch); err != nil {
		return nil, err
	}
	out := &PublishBatch{}
	for _, p := range batch {
		out.Events, out.Execs = append(out.Events, p.ev), append(out.Execs, p.execs)
		out.Created, out.Errs = append(out.Created, p.created), append(out.Errs, p.err)
	}
	return out, nil
}
