package engine

import (
	"context"
	"hash/fnv"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/groupcommit"
	"github.com/flowd/flowd/telemetry"
)

// committer is the group commit of finished steps: workers hand it the
// attempts and new execution states of steps that just finished, and one
// goroutine per shard writes whatever has queued up in a single
// transaction. Each execution always goes to the same shard, so its writes
// stay in order.
type committer struct {
	store  Store
	log    *slog.Logger
	tracer trace.Tracer
	group  *groupcommit.Group[*commitReq]
}

type commitReq struct {
	attempts []flow.StepAttempt
	update   *flow.ExecutionUpdate
	// span is the run's span: the commit's span links to the runs it
	// writes for.
	span trace.SpanContext
}

func newCommitter(store Store, shards, maxBatch int, log *slog.Logger, tracer trace.Tracer) *committer {
	c := &committer{store: store, log: log, tracer: tracer}
	c.group = groupcommit.New(shards, maxBatch, ErrStopped, c.write)
	return c
}

func (c *committer) start() { c.group.Start() }

// stop refuses further submits (ErrStopped), lets the shards write what is
// queued and waits for them. It may be called more than once.
func (c *committer) stop() { c.group.Stop() }

// submit queues a write; with wait it returns once the write committed.
func (c *committer) submit(ctx context.Context, req *commitReq, wait bool) error {
	h := fnv.New32a()
	h.Write(req.update.ID[:])
	req.span = trace.SpanContextFromContext(ctx)
	return c.group.Submit(ctx, h.Sum32(), req, wait)
}

func (c *committer) write(batch []*commitReq) error {
	var attempts []flow.StepAttempt
	updates := make([]flow.ExecutionUpdate, 0, len(batch))
	index := make(map[[16]byte]int, len(batch))
	for _, r := range batch {
		attempts = append(attempts, r.attempts...)
		if r.update == nil {
			continue
		}
		if i, ok := index[r.update.ID]; ok {
			executedAt := updates[i].ExecutedAt
			updates[i] = *r.update // the later state wins
			if updates[i].ExecutedAt == nil {
				updates[i].ExecutedAt = executedAt
			}
			continue
		}
		index[r.update.ID] = len(updates)
		updates = append(updates, *r.update)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, span := c.startSpan(ctx, batch, len(updates), len(attempts))
	err := c.store.ExecutionCommit(ctx, attempts, updates)
	if err != nil {
		c.log.Error("group commit", "error", err, "executions", len(updates), "attempts", len(attempts))
	}
	telemetry.EndSpan(span, err)
	return err
}

// startSpan starts the span of one group commit. A commit writes for many
// executions, of as many traces: its span is a root linked to the span of
// each run it writes for, as OpenTelemetry advises for batches.
func (c *committer) startSpan(ctx context.Context, batch []*commitReq, executions, attempts int) (context.Context, trace.Span) {
	if _, off := c.tracer.(noop.Tracer); off {
		return c.tracer.Start(ctx, "") // tracing off: no links to build
	}
	links := make([]trace.Link, 0, len(batch))
	for _, r := range batch {
		if r.span.IsValid() {
			links = append(links, trace.Link{SpanContext: r.span})
		}
	}
	return c.tracer.Start(ctx, "flowd.group_commit", trace.WithNewRoot(), trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("flowd.commit.executions", executions), attribute.Int("flowd.commit.attempts", attempts)))
}
