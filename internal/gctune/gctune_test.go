package gctune_test

import (
	"runtime/debug"
	"testing"

	"github.com/flowd/flowd/internal/gctune"
)

// TestApply: with no GOGC in the environment the collector runs at
// PercentDefault; with one, the runtime's own reading of it is left alone.
func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	if v, src := gctune.Apply(); v != "200" || src != "default" {
		t.Errorf("Apply without GOGC: %q from %q, want \"200\" from \"default\"", v, src)
	}
	if got := debug.SetGCPercent(100); got != gctune.PercentDefault {
		t.Errorf("GC percent after Apply without GOGC: %d, want %d", got, gctune.PercentDefault)
	}

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150) // what the runtime read from GOGC at start
	if v, src := gctune.Apply(); v != "150" || src != "GOGC" {
		t.Errorf("Apply with GOGC=150: %q from %q, want \"150\" from \"GOGC\"", v, src)
	}
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("GC percent after Apply with GOGC=150: %d, want 150 (left alone)", got)
	}
}
