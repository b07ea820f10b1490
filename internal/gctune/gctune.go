// Package gctune sets the Go garbage collector's target of flowd's
// long-running processes (serve, worker, and the benchmark's in-process
// stack, which must run as serve does).
package gctune

import (
	"os"
	"runtime/debug"
	"strconv"
)

// PercentDefault is the garbage collector's percent (GOGC) flowd runs with
// when the environment sets none: the heap may grow to five times what is
// live between two collections instead of twice. flowd's live heap is
// small (tens of MiB) and short-lived garbage is most of what a step
// allocates, so collecting less often cut flowd's CPU per step by 11% in
// `make bench` (b/api: 0.274 → 0.244 and 0.286 → 0.252 CPU-s per 1,000
// steps, alternated runs) for a peak RSS of 96-99 MiB instead of 55.
// GOGC in the environment wins; GOMEMLIMIT (read by the Go runtime) caps
// the heap where memory is tight.
const PercentDefault = 400

// Apply sets the garbage collector's percent to PercentDefault unless
// GOGC is set in the environment, and returns the setting in effect as
// GOGC would spell it and where it came from ("GOGC" or "default").
func Apply() (gogc, source string) {
	if v := os.Getenv("GOGC"); v != "" {
		return v, "GOGC"
	}
	debug.SetGCPercent(PercentDefault)
	return strconv.Itoa(PercentDefault), "default"
}
