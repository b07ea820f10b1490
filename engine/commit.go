package engine

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/telemetry"
)

// committer is the group commit: workers hand it the attempts and new
// execution states of steps that just finished, and one goroutine per
// shard writes whatever has queued up in a single transaction. Each
// execution always goes to the same shard, so its writes stay in order.
type committer struct {
	store    Store
	shards   []chan *commitReq
	maxBatch int
	log      *slog.Logger
	tracer   trace.Tracer
	wg       sync.WaitGroup
	once     sync.Once
	// mu guards closed against the sends of submit: stop takes it for
	// writing, so it closes the shards only when no send is under way, and
	// a submit after stop gets ErrStopped instead of a send on a closed
	// channel.
	mu     sync.RWMutex
	closed bool
}

type commitReq struct {
	attempts []flow.StepAttempt
	update   *flow.ExecutionUpdate
	done     chan error // nil: nobody waits (progress markers)
	// span is the run's span: the commit's span links to the runs it
	// writes for.
	span trace.SpanContext
}

func newCommitter(store Store, shards, maxBatch int, log *slog.Logger, tracer trace.Tracer) *committer {
	c := &committer{store: store, maxBatch: maxBatch, log: log, tracer: tracer}
	for range shards {
		c.shards = append(c.shards, make(chan *commitReq, 4*maxBatch))
	}
	return c
}

func (c *committer) start() {
	c.once.Do(func() {
		for _, ch := range c.shards {
			c.wg.Add(1)
			go c.loop(ch)
		}
	})
}

// stop refuses further submits, lets the shards write what is queued and
// waits for them. It may be called more than once.
func (c *committer) stop() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		for _, ch := range c.shards {
			close(ch)
		}
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// submit queues a write; with wait it returns once the write committed.
// After stop it queues nothing and returns ErrStopped.
func (c *committer) submit(ctx context.Context, req *commitReq, wait bool) error {
	h := fnv.New32a()
	h.Write(req.update.ID[:])
	ch := c.shards[int(h.Sum32())%len(c.shards)]
	if wait {
		req.done = make(chan error, 1)
	}
	req.span = trace.SpanContextFromContext(ctx)
	if err := c.enqueue(ctx, ch, req); err != nil {
		return err
	}
	if !wait {
		return nil
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// enqueue sends req to its shard unless the committer is stopped. The read
// lock is held during the send: the shard's loop keeps draining until stop
// closes the channel, which it does only once no send holds the lock.
func (c *committer) enqueue(ctx context.Context, ch chan<- *commitReq, req *commitReq) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrStopped
	}
	select {
	case ch <- req:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (c *committer) loop(ch chan *commitReq) {
	defer c.wg.Done()
	batch := make([]*commitReq, 0, c.maxBatch)
	for req := range ch {
		batch = append(batch[:0], req)
	drain:
		for len(batch) < c.maxBatch {
			select {
			case r, ok := <-ch:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := c.write(batch)
		for _, r := range batch {
			if r.done != nil {
				r.done <- err
			}
		}
	}
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
