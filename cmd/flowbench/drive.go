package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// closedLoop triggers executions while keeping at most inflight of them
// unfinished: a trigger takes a slot, and release gives one back when an
// execution finishes (its last step reached the target) or its trigger
// failed.
type closedLoop struct {
	sem   chan struct{}
	stall time.Duration
}

func newClosedLoop(inflight int, stall time.Duration) *closedLoop {
	return &closedLoop{sem: make(chan struct{}, inflight), stall: stall}
}

// release gives back one slot.
func (l *closedLoop) release() {
	select {
	case <-l.sem:
	default:
	}
}

// everyNth returns a function that calls f on every nth call: the release
// of a closed loop whose triggers each start n executions (an event fanned
// out to n flows) gives back one slot per n finished executions.
func everyNth(n int, f func()) func() {
	if n <= 1 || f == nil {
		return f
	}
	var calls atomic.Int64
	return func() {
		if calls.Add(1)%int64(n) == 0 {
			f()
		}
	}
}

// run calls trigger n times from clients goroutines. It returns how many
// triggers succeeded and failed, the first trigger error, and an error when
// no slot came free for the stall time (executions stopped finishing).
func (l *closedLoop) run(ctx context.Context, n, clients int, trigger func(ctx context.Context) error) (ok, failed int, firstErr, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, nOK, nFailed atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(clients, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timer := time.NewTimer(l.stall)
			defer timer.Stop()
			for next.Add(1) <= int64(n) {
				timer.Reset(l.stall)
				select {
				case l.sem <- struct{}{}:
				case <-timer.C:
					cancel(fmt.Errorf("stalled: no execution finished for %s with %d in flight", l.stall, cap(l.sem)))
					return
				case <-ctx.Done():
					return
				}
				if e := trigger(ctx); e != nil {
					nFailed.Add(1)
					l.release()
					mu.Lock()
					if firstErr == nil {
						firstErr = e
					}
					mu.Unlock()
					continue
				}
				nOK.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(nOK.Load()), int(nFailed.Load()), firstErr, context.Cause(ctx)
}
