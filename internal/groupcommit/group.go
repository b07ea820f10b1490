package groupcommit

import (
	"context"
	"sync"
)

// Group queues items from concurrent callers and writes them in batches.
// Items with the same key always go to the same shard, so one key's writes
// stay in the order they were submitted.
type Group[T any] struct {
	shards   []chan *request[T]
	maxBatch int
	write    func(batch []T) error
	stopped  error
	wg       sync.WaitGroup
	once     sync.Once
	// mu guards closed against the sends of Submit: Stop takes it for
	// writing, so it closes the shards only when no send is under way, and
	// a Submit after Stop gets the stopped error instead of a send on a
	// closed channel.
	mu     sync.RWMutex
	closed bool
}

type request[T any] struct {
	item T
	done chan error // nil: nobody waits
}

// New returns a Group of shards goroutines writing up to maxBatch items at
// a time with write. write is called with one shard's batch and returns
// the error every caller of that batch gets; a write that answers its
// items one by one records their results in the items and returns nil.
// Submit returns stopped once Stop was called.
func New[T any](shards, maxBatch int, stopped error, write func(batch []T) error) *Group[T] {
	g := &Group[T]{maxBatch: maxBatch, write: write, stopped: stopped}
	for range max(shards, 1) {
		g.shards = append(g.shards, make(chan *request[T], 4*maxBatch))
	}
	return g
}

// Start starts the shards' goroutines. It may be called more than once.
func (g *Group[T]) Start() {
	g.once.Do(func() {
		for _, ch := range g.shards {
			g.wg.Add(1)
			go g.loop(ch)
		}
	})
}

// Stop refuses further submits, lets the shards write what is queued and
// waits for them. It may be called more than once.
func (g *Group[T]) Stop() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		for _, ch := range g.shards {
			close(ch)
		}
	}
	g.mu.Unlock()
	g.Start() // a Group stopped before it started still drains its queue
	g.wg.Wait()
}

// Submit queues item on the shard of key; with wait it returns once the
// batch holding item was written, with the batch's error. When ctx ends
// first it returns ctx's cause, and the item may still be written.
func (g *Group[T]) Submit(ctx context.Context, key uint32, item T, wait bool) error {
	req := &request[T]{item: item}
	if wait {
		req.done = make(chan error, 1)
	}
	if err := g.enqueue(ctx, g.shards[int(key%uint32(len(g.shards)))], req); err != nil {
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

// Queued returns how many items wait in the shards' queues, not yet taken
// into a batch (a test waits on it to know what the next batch holds).
func (g *Group[T]) Queued() int {
	n := 0
	for _, ch := range g.shards {
		n += len(ch)
	}
	return n
}

// enqueue sends req to its shard unless the Group is stopped. The read
// lock is held during the send: the shard's loop keeps draining until Stop
// closes the channel, which it does only once no send holds the lock.
func (g *Group[T]) enqueue(ctx context.Context, ch chan<- *request[T], req *request[T]) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return g.stopped
	}
	select {
	case ch <- req:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (g *Group[T]) loop(ch chan *request[T]) {
	defer g.wg.Done()
	reqs := make([]*request[T], 0, g.maxBatch)
	items := make([]T, 0, g.maxBatch)
	for req := range ch {
		reqs = append(reqs[:0], req)
	drain:
		for len(reqs) < g.maxBatch {
			select {
			case r, ok := <-ch:
				if !ok {
					break drain
				}
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		items = items[:0]
		for _, r := range reqs {
			items = append(items, r.item)
		}
		err := g.write(items)
		for _, r := range reqs {
			if r.done != nil {
				r.done <- err
			}
		}
		// Drop the references (each request holds its item) until the
		// next batch.
		clear(items)
		clear(reqs)
	}
}
