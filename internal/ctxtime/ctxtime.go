// Package ctxtime holds the waits flowd's background loops share: they
// end early when their context ends.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits d (none when d is zero or negative) or until ctx ends,
// whichever comes first; it returns ctx's error when ctx ended first, nil
// when the wait was served.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
