package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// selfCPU returns the CPU time (user + system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAllocs returns the heap objects this process allocated so far
// (flowd's, as it runs in this process, and the harness's small share).
func heapAllocs() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// procCPU returns utime+stime of a process from /proc/<pid>/stat, and its
// parent's pid.
func procCPU(pid int) (cpu time.Duration, ppid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name is in parentheses and may contain spaces: the
	// fields are counted after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks, ppid, nil
}

// clusterCPU returns the CPU time of every process of one PostgreSQL
// cluster: its postmaster and the postmaster's children, by pid.
func clusterCPU(postmaster int) map[int]time.Duration {
	out := map[int]time.Duration{}
	if postmaster <= 0 {
		return out
	}
	if cpu, _, err := procCPU(postmaster); err == nil {
		out[postmaster] = cpu
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		cpu, ppid, err := procCPU(pid)
		if err == nil && ppid == postmaster {
			out[pid] = cpu
		}
	}
	return out
}

// cpuDelta sums, over the processes alive at the end, the CPU they used
// since the start snapshot (all of it for processes that started since).
// Processes that exited in between are missed.
func cpuDelta(start, end map[int]time.Duration, include func(pid int) bool) time.Duration {
	var sum time.Duration
	for pid, e := range end {
		if include != nil && !include(pid) {
			continue
		}
		sum += e - start[pid]
	}
	return sum
}

// resetPeakRSS frees what the Go runtime can give back and resets VmHWM, so
// the next peakRSS reading is the peak of what runs in between.
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSS returns VmHWM of this process in bytes.
func peakRSS() int64 {
	return procStatusKB("/proc/self/status", "VmHWM:") * 1024
}

func procStatusKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, key) {
			v := strings.Fields(strings.TrimPrefix(line, key))
			if len(v) > 0 {
				n, _ := strconv.ParseInt(v[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// Percentiles are latency percentiles in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	N   int     `json:"samples"`
}

// percentiles computes nearest-rank percentiles of ds.
func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return round(float64(s[i])/float64(time.Millisecond), 2)
	}
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), N: len(s)}
}

// steadyRate returns completions per second over the middle 80% of the
// completion times (the first and last 10% are warm-up and drain), and the
// length of that window.
func steadyRate(done []time.Time) (perSec float64, window time.Duration) {
	if len(done) < 10 {
		if len(done) < 2 {
			return 0, 0
		}
		s := slices.Clone(done)
		slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
		w := s[len(s)-1].Sub(s[0])
		if w <= 0 {
			return 0, 0
		}
		return float64(len(s)-1) / w.Seconds(), w
	}
	s := slices.Clone(done)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	lo := len(s) / 10
	hi := len(s) - 1 - len(s)/10
	w := s[hi].Sub(s[lo])
	if w <= 0 {
		return 0, 0
	}
	return float64(hi-lo) / w.Seconds(), w
}

// steadySlices splits the steady-state window of steadyRate into slices
// of about `slice` (at least 4 slices, at most 50) and returns each slice's
// completions per second, and their spread: (max - min) / mean, in percent.
// A large spread means the rate moved during the run (noise, or a
// trend), so one run's figure deserves less trust.
func steadySlices(done []time.Time, slice time.Duration) (rates []float64, spreadPct float64) {
	if len(done) < 10 {
		return nil, 0
	}
	s := slices.Clone(done)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	lo, hi := s[len(s)/10], s[len(s)-1-len(s)/10]
	window := hi.Sub(lo)
	n := int(window / slice)
	n = max(4, min(n, 50))
	width := window / time.Duration(n)
	if width <= 0 {
		return nil, 0
	}
	counts := make([]int, n)
	for _, t := range s {
		if t.Before(lo) || !t.Before(hi) {
			continue
		}
		counts[min(int(t.Sub(lo)/width), n-1)]++
	}
	var sum, lowest, highest float64
	for i, c := range counts {
		r := float64(c) / width.Seconds()
		rates = append(rates, round(r, 1))
		sum += r
		if i == 0 || r < lowest {
			lowest = r
		}
		if r > highest {
			highest = r
		}
	}
	mean := sum / float64(n)
	if mean == 0 {
		return rates, 0
	}
	return rates, round((highest-lowest)/mean*100, 1)
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// memTotal returns MemTotal of /proc/meminfo in bytes.
func memTotal() int64 {
	return procStatusKB("/proc/meminfo", "MemTotal:") * 1024
}

// machineCPU returns the CPU time all CPUs of the machine spent busy (not
// idle, not waiting for I/O, not stolen by the hypervisor), and the time
// stolen, from /proc/stat.
func machineCPU() (busy, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var bt, st int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch i {
		case 3, 4: // idle, iowait
		case 7: // steal
			st = n
		case 8, 9: // guest time is already counted in user time
		default:
			bt += n
		}
	}
	return time.Duration(bt) * time.Second / clockTicks, time.Duration(st) * time.Second / clockTicks
}
