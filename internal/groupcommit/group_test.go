package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/flowd/flowd/internal/groupcommit"
)

var errStopped = errors.New("stopped")

// TestSubmitAnswersAfterItsBatch: every waiting caller is answered with
// the error of the batch that held its item, after that batch was written;
// nothing is written twice or lost.
func TestSubmitAnswersAfterItsBatch(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	written := map[int]bool{}
	bad := errors.New("batch failed")
	g := groupcommit.New(2, 8, errStopped, func(batch []int) error {
		mu.Lock()
		defer mu.Unlock()
		var err error
		for _, n := range batch {
			if written[n] {
				t.Errorf("item %d written twice", n)
			}
			written[n] = true
			if n == 13 {
				err = bad
			}
		}
		return err
	})
	g.Start()
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = g.Submit(context.Background(), uint32(i%2), i, true)
			mu.Lock()
			defer mu.Unlock()
			if !written[i] {
				t.Errorf("item %d answered before it was written", i)
			}
		})
	}
	wg.Wait()
	g.Stop()
	if len(written) != n {
		t.Errorf("%d of %d items written", len(written), n)
	}
	if !errors.Is(errs[13], bad) {
		t.Errorf("the caller of the failing batch got %v", errs[13])
	}
	if err := g.Submit(context.Background(), 0, -1, true); !errors.Is(err, errStopped) {
		t.Errorf("submit after Stop: want the stopped error, got %v", err)
	}
}

// TestStopWritesWhatIsQueued: items queued without waiting are written by
// Stop, even when the Group was never started.
func TestStopWritesWhatIsQueued(t *testing.T) {
	t.Parallel()
	var got []int
	g := groupcommit.New(1, 4, errStopped, func(batch []int) error {
		got = append(got, batch...)
		return nil
	})
	for i := range 10 {
		if err := g.Submit(context.Background(), 0, i, false); err != nil {
			t.Fatal(err)
		}
	}
	g.Stop()
	if len(got) != 10 {
		t.Fatalf("Stop wrote %v, want the 10 items queued", got)
	}
	for i, n := range got {
		if n != i {
			t.Errorf("items of one key written out of order: %v", got)
			break
		}
	}
}
