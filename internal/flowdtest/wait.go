package flowdtest

import (
	"testing"
	"time"
)

// WaitFor polls cond every 20 ms until it holds, and fails the test when
// timeout passes first, naming what it waited for. Tests wait for the
// event they expect, never for a guessed time.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
