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
// when the environment sets none: the heap may grow to three times what is
// live between two collections instead of twice. flowd's live heap is
// small (tens of MiB) and short-lived garbage is most of what a step
// allocates, so collecting less often costs little memory and saves CPU.
// Measured with `make bench` on an idle 2-vCPU machine (alternated runs,
// flowd CPU-seconds per 1,000 steps): the event fan-out 0.320/0.354 at
// GOGC=100 against 0.291/0.319 at 200 (−9%), the 3-step chain
// 0.231/0.222 against 0.204/0.222; peak RSS 55-66 MiB against 72-85. 400
// saved a little more CPU but took the benchmark's peak RSS to 209 MiB,
// past the 200 MiB budget. GOGC in the environment wins; GOMEMLIMIT (read
// by the Go runtime) caps the heap where memory is tight.
const PercentDefault = 200

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
