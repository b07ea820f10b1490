package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/internal/testdb"
	"github.com/flowd/flowd/store"
)

func TestMain(m *testing.M) {
	// The benchmark starts this test binary again as its load process.
	if isLoadChild() {
		if err := runLoadChild(os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	testdb.Main(m)
}

// shortRun runs flowbench with args against the package's test database.
func shortRun(t *testing.T, args ...string) *Result {
	t.Helper()
	return runOn(t, testdb.URL(t), args...)
}

// runOn runs flowbench -short with args against the database at dbURL.
func runOn(t *testing.T, dbURL string, args ...string) *Result {
	t.Helper()
	admin, err := testdb.AdminURL()
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := parseFlags(append([]string{"-short", "-database-url", admin}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.DatabaseURL = dbURL
	o.LogPath = filepath.Join(t.TempDir(), "flowd.log")
	o.Progress = nil
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// TestShortModes runs `flowbench -short` (plus a small history) and a short
// sweep against the package's test database, so the benchmark cannot rot:
// every figure must be filled and every execution must succeed. No timing
// is asserted. The two runs share the database (each empties its tables),
// so they run one after the other.
func TestShortModes(t *testing.T) {
	t.Parallel()
	t.Run("run", testShortRun)
	t.Run("sweep", testShortSweep)
	t.Run("repeat", testShortRepeat)
}

// With -repeat every repeat has its own baselines and light run, and the
// goals compare the medians: the ratio to River is the median flowd run
// over the median River run, not over one sample of River.
func testShortRepeat(t *testing.T) {
	res := shortRun(t, "-workloads", "b", "-triggers", "go", "-repeat", "2")
	var names []string
	for _, rr := range append(append([]*RunResult{}, res.Baselines...), res.Runs...) {
		names = append(names, rr.Name)
		checkRun(t, rr, rr.Kind != "baseline")
	}
	want := []string{"river/bulk #1", "river/chain #1", "http #1", "river/bulk #2", "river/chain #2", "http #2",
		"b/go #1", "b/go light@16 #1", "b/go #2", "b/go light@16 #2"}
	slices.Sort(want)
	slices.Sort(names)
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("runs (-want +got):\n%s", d)
	}
	river, main := median(res.Baselines, "river/bulk"), median(res.Runs, "b/go")
	if river == nil || main == nil {
		t.Fatalf("no median: river %v, b/go %v", river, main)
	}
	wantGot := fmt.Sprintf("%.2f× (%.0f / %.0f)", main.StepsPerSec/river.StepsPerSec, main.StepsPerSec, river.StepsPerSec)
	found := false
	for _, g := range res.Goals {
		if strings.HasPrefix(g.Name, "steps/s vs bare River jobs/s") {
			found = true
			if g.Got != wantGot {
				t.Errorf("ratio goal got %q, want %q (medians %s and %s)", g.Got, wantGot, main.Name, river.Name)
			}
		}
	}
	if !found {
		t.Errorf("no ratio goal among %+v", res.Goals)
	}
}

// A short soak fills every figure: a minute sample with sizes and steps/s,
// prune cycles that deleted rows, and latencies between cycles. It has a
// database of its own: its pruner deletes every old execution there.
func TestShortSoak(t *testing.T) {
	t.Parallel()
	res := runOn(t, testdb.NewDatabase(t), "-soak", "-soak-duration", "12s", "-soak-retention", "3s",
		"-soak-prune-interval", "2s", "-inflight", "4")
	s := res.Soak
	if res.Mode != "soak" || s == nil || len(res.Runs) != 0 {
		t.Fatalf("mode %s, soak %v, %d runs", res.Mode, s, len(res.Runs))
	}
	if len(s.Minutes) != 1 || s.Minutes[0].FlowdMiB <= 0 || s.Minutes[0].StepsPerSec <= 0 {
		t.Errorf("minute samples %+v", s.Minutes)
	}
	t.Logf("prune cycles: %+v", s.Cycles)
	var pruned int64
	for _, c := range s.Cycles {
		pruned += c.Rows
		if c.Error != "" {
			t.Errorf("prune cycle failed: %s", c.Error)
		}
		if c.Seconds < 0 || c.StartSec < 0 {
			t.Errorf("prune cycle %+v: negative time", c)
		}
	}
	if len(s.Cycles) < 2 || pruned == 0 {
		t.Errorf("%d prune cycles deleted %d rows", len(s.Cycles), pruned)
	}
	// Every cycle that deleted rows hands them to a VACUUM pass apart
	// from the cycles; at least the first one's ends within the soak.
	t.Logf("VACUUM passes: %+v", s.Vacuums)
	if len(s.Vacuums) == 0 {
		t.Errorf("no VACUUM pass after cycles that deleted %d rows", pruned)
	}
	for _, v := range s.Vacuums {
		if v.Error != "" || v.Seconds < 0 || v.StartSec < s.Cycles[0].StartSec {
			t.Errorf("VACUUM pass %+v (first cycle at %v s)", v, s.Cycles[0].StartSec)
		}
	}
	if s.SamplesBetween == 0 || s.P99BetweenMs <= 0 || s.StepsPerSecBetween <= 0 {
		t.Errorf("no figures between cycles: %+v", s)
	}
}

func testShortSweep(t *testing.T) {
	res := shortRun(t, "-sweep", "-sweep-points", "10ms/250ms/2,1ms/50ms/1", "-repeat", "2")
	var names []string
	for _, rr := range res.Sweep {
		names = append(names, rr.Name)
		checkRun(t, rr, true)
	}
	want := []string{"10ms/250ms/2 #1", "10ms/250ms/2 #1 light@16", "1ms/50ms/1 #1", "1ms/50ms/1 #1 light@16",
		"10ms/250ms/2 #2", "10ms/250ms/2 #2 light@16", "1ms/50ms/1 #2", "1ms/50ms/1 #2 light@16"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("sweep runs (-want +got):\n%s", d)
	}
	if len(res.Runs) != 0 || len(res.Baselines) != 0 || res.Mode != "sweep" {
		t.Errorf("a sweep runs only the sweep: mode %s, %d runs, %d baselines", res.Mode, len(res.Runs), len(res.Baselines))
	}
	if rr := res.Sweep[2]; rr.FetchCooldown != "1ms" || rr.FetchPoll != "50ms" || rr.CommitShards != 1 {
		t.Errorf("sweep point settings not recorded: %+v", rr)
	}
}

func testShortRun(t *testing.T) {
	res := shortRun(t, "-history", "300")

	m := res.Machine
	if m.CPUs < 1 || m.PostgreSQL == "" || m.GoVersion == "" || m.MemTotalGiB <= 0 {
		t.Errorf("machine not filled: %+v", m)
	}
	var names []string
	var pgCPU, loadCPU float64
	for _, rr := range res.Baselines {
		names = append(names, rr.Name)
		checkRun(t, rr, false)
		pgCPU += rr.PostgresCPUPer1k
		loadCPU += rr.LoadCPUPer1k
	}
	for _, rr := range res.Runs {
		names = append(names, rr.Name)
		checkRun(t, rr, true)
		pgCPU += rr.PostgresCPUPer1k
		loadCPU += rr.LoadCPUPer1k
	}
	// PostgreSQL's and the load process's CPU are read in clock ticks (10
	// ms), which a tiny run may not reach: only their sums must show.
	if res.Machine.PostgresLocal && pgCPU <= 0 {
		t.Errorf("PostgreSQL CPU never measured")
	}
	if loadCPU <= 0 {
		t.Errorf("load process CPU never measured")
	}
	want := []string{"river/bulk", "river/chain", "http", "a/api", "a/go", "b/api", "b/go", "c/api", "c/go", "e/api", "e/go", "b/go light@16", "b/go+300 history"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("runs (-want +got):\n%s", d)
	}
	for _, rr := range res.Runs {
		if rr.Workload == "e" && (rr.Events != shortN["e"] || rr.Executions != 10*shortN["e"] || rr.StartedPerSec < 0) {
			t.Errorf("%s: %d events, %d executions, %.1f started/s; want %d events fanned out to 10 flows", rr.Name, rr.Events, rr.Executions, rr.StartedPerSec, shortN["e"])
		}
	}
	if h := res.History; h == nil || h.Rows != 300 || h.SQLPerStepEmpty <= 0 || h.SQLPerStepWith <= 0 {
		t.Errorf("history check not filled: %+v", h)
	}
	var goals []string
	for _, g := range res.Goals {
		goals = append(goals, strings.SplitN(g.Name, " (", 2)[0])
		if g.Want == "" || g.Got == "" {
			t.Errorf("goal %q not filled: %+v", g.Name, g)
		}
	}
	wantGoals := []string{"steps/s vs bare River jobs/s", "3-step chain executions/s", "flowd + PostgreSQL CPU s per 1,000 steps",
		"trigger → first request p99", "trigger → done p99", "SQL statements per step with 300 old executions",
		"executions/s started by events fanned out to 10 flows", "peak RSS of flowd"}
	if d := cmp.Diff(wantGoals, goals); d != "" {
		t.Errorf("goals (-want +got):\n%s", d)
	}

	// The JSON file holds the same result, and the report names every run.
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := writeJSON(path, res); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("decode results file: %v", err)
	}
	if d := cmp.Diff(res, &back); d != "" {
		t.Errorf("results file (-want +got):\n%s", d)
	}
	var report bytes.Buffer
	printReport(&report, res)
	for _, n := range append(names, "goals", "n/a") {
		if !strings.Contains(report.String(), n) {
			t.Errorf("report does not mention %q:\n%s", n, report.String())
		}
	}
}

// checkRun asserts that a run finished everything and has every figure.
func checkRun(t *testing.T, rr *RunResult, workload bool) {
	t.Helper()
	if rr.Succeeded != rr.Executions || rr.Failed != 0 || len(rr.Errors) != 0 {
		t.Errorf("%s: %d of %d succeeded, %d failed, errors %v", rr.Name, rr.Succeeded, rr.Executions, rr.Failed, rr.Errors)
	}
	// A fast machine may finish a short run's completions in one group
	// commit: the steady-state window (and so its rate) is then 0. What is
	// known is that the run did something, took some time, and reports a
	// rate whenever it had a window.
	if rr.Executions <= 0 || rr.WallSeconds <= 0 || rr.SteadySeconds < 0 || rr.ExecPerSec < 0 || rr.StepsPerSec < 0 {
		t.Errorf("%s: throughput not filled: %+v", rr.Name, rr)
	}
	if rr.SteadySeconds > 0 && (rr.ExecPerSec <= 0 || rr.StepsPerSec <= 0) {
		t.Errorf("%s: a %.2f s steady-state window without a rate: %+v", rr.Name, rr.SteadySeconds, rr)
	}
	// Cores are CPU over wall time, rounded to 0.01: a light run on a fast
	// machine may round to 0.
	if rr.FlowdCPUPer1k <= 0 || rr.FlowdCores < 0 || rr.PeakRSSMiB <= 0 || rr.AllocsPerStep <= 0 || rr.SQLSource == "" {
		t.Errorf("%s: CPU, memory, allocations or SQL source not filled: %+v", rr.Name, rr)
	}
	if rr.PostgresCPUPer1k < 0 || rr.LoadCPUPer1k < 0 || rr.OtherCores < 0 {
		t.Errorf("%s: negative CPU figures: %+v", rr.Name, rr)
	}
	if !workload {
		return
	}
	if rr.Steps != rr.Executions*rr.StepsPerExecution {
		t.Errorf("%s: %d requests reached the target, want %d × %d", rr.Name, rr.Steps, rr.Executions, rr.StepsPerExecution)
	}
	for what, p := range map[string]*Percentiles{"trigger→first request": rr.TriggerToFirstRequest, "trigger→finished": rr.TriggerToFinished} {
		if p == nil || p.N != rr.Executions || p.P50 <= 0 || p.P95 < p.P50 || p.P99 < p.P95 {
			t.Errorf("%s: %s percentiles not filled: %+v", rr.Name, what, p)
		}
	}
	if rr.SQLPerStep <= 0 || rr.TracerPerStep <= 0 {
		t.Errorf("%s: SQL statements per step not filled: %v (tracer %v)", rr.Name, rr.SQLPerStep, rr.TracerPerStep)
	}
	// Backends flush their table statistics up to seconds late: a short
	// run's updates may not show yet, but a share must be a share.
	if rr.ExecutionUpdates < 0 || rr.HOTUpdatePct < 0 || rr.HOTUpdatePct > 100 {
		t.Errorf("%s: executions' updates miscounted: %d, %.1f%% HOT", rr.Name, rr.ExecutionUpdates, rr.HOTUpdatePct)
	}
	var hops []string
	for _, h := range rr.Hops {
		hops = append(hops, h.Name)
		if h.N != rr.Executions {
			t.Errorf("%s: hop %s has %d samples, want %d", rr.Name, h.Name, h.N, rr.Executions)
		}
	}
	if d := cmp.Diff(hopNames, hops); d != "" {
		t.Errorf("%s: hops (-want +got):\n%s", rr.Name, d)
	}
}

func TestSteadyRate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var done []time.Time
	// 10 slow warm-up completions, 80 at 100/s, 10 slow drain completions.
	for i := range 10 {
		done = append(done, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	start := t0.Add(time.Second)
	for i := range 80 {
		done = append(done, start.Add(time.Duration(i)*10*time.Millisecond))
	}
	for i := range 10 {
		done = append(done, start.Add(790*time.Millisecond+time.Duration(i+1)*time.Second))
	}
	rate, window := steadyRate(done)
	if got, want := round(rate, 1), 100.0; got != want {
		t.Errorf("rate %v, want %v (window %s)", got, want, window)
	}
	if window != 790*time.Millisecond {
		t.Errorf("window %s, want 790ms", window)
	}

	// One group commit finished everything (a short run on a fast machine):
	// there is no steady state to measure, and no rate is made up.
	same := make([]time.Time, 60)
	for i := range same {
		same[i] = t0
	}
	if rate, window := steadyRate(same); rate != 0 || window != 0 {
		t.Errorf("completions at one instant: rate %v, window %s; want 0 and 0", rate, window)
	}
}

// TestLoadReports checks the parent's reading of the load process's lines.
func TestLoadReports(t *testing.T) {
	t.Parallel()
	lp := &loadProc{finalCond: make(chan struct{}), done: make(chan apiDone, 1)}
	var finals int
	lp.reset(3, func() { finals++ })
	id := uuid.MustParse("6f1c1a52-9a43-4d1e-9b5e-0c3f7a2d8e10")
	lines := strings.Join([]string{
		"A " + id.String() + " 2 2000",
		"A " + id.String() + " 1 1000",
		"T " + id.String() + " 500",
		"A " + id.String() + " 3 3000",
		"A " + id.String() + " 3 3500", // a repeated final step counts once
		"A not-a-uuid 1 1",
		"D 11 2 trigger answered 500: boom",
	}, "\n") + "\n"
	lp.read(bufio.NewReader(strings.NewReader(lines)))
	arrivals, triggers, requests := lp.snapshot()
	want := map[uuid.UUID]*arrival{id: {first: time.Unix(0, 1000), final: true, requests: 4}}
	if d := cmp.Diff(want, arrivals, cmp.AllowUnexported(arrival{})); d != "" {
		t.Errorf("arrivals (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[uuid.UUID]time.Time{id: time.Unix(0, 500)}, triggers); d != "" {
		t.Errorf("triggers (-want +got):\n%s", d)
	}
	if requests != 4 || finals != 1 {
		t.Errorf("%d requests and %d finals, want 4 and 1", requests, finals)
	}
	select {
	case d := <-lp.done:
		if d != (apiDone{ok: 11, failed: 2, err: "trigger answered 500: boom"}) {
			t.Errorf("API run report %+v", d)
		}
	default:
		t.Error("no API run report")
	}
}

func TestSteadySlices(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var even, halves []time.Time
	for i := range 1000 { // 100/s for 10 s
		even = append(even, t0.Add(time.Duration(i)*10*time.Millisecond))
	}
	for i := range 500 { // 100/s for 5 s, then 50/s for 5 s
		halves = append(halves, t0.Add(time.Duration(i)*10*time.Millisecond))
	}
	for i := range 250 {
		halves = append(halves, t0.Add(5*time.Second+time.Duration(i)*20*time.Millisecond))
	}
	rates, spread := steadySlices(even, 2*time.Second)
	if len(rates) != 4 || spread > 1 {
		t.Errorf("even rate: slices %v, spread %v%%, want 4 slices and ~0%%", rates, spread)
	}
	rates, spread = steadySlices(halves, time.Second)
	if spread < 50 {
		t.Errorf("halved rate: slices %v, spread %v%%, want >= 50%%", rates, spread)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	runs := []*RunResult{{Name: "b/api #1", StepsPerSec: 30}, {Name: "b/go", StepsPerSec: 99}, {Name: "b/api #2", StepsPerSec: 10},
		{Name: "b/api #3", StepsPerSec: 20}, {Name: "b/apis", StepsPerSec: 5}}
	if got := median(runs, "b/api"); got == nil || got.Name != "b/api #3" {
		t.Errorf("median of b/api repeats: %+v, want b/api #3", got)
	}
	if got := median(runs, "b/go"); got == nil || got.Name != "b/go" {
		t.Errorf("median of one run: %+v", got)
	}
	if got := median(runs, "c/go"); got != nil {
		t.Errorf("median of nothing: %+v", got)
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	want := Percentiles{P50: 50, P95: 95, P99: 99, N: 100}
	if d := cmp.Diff(want, percentiles(ds)); d != "" {
		t.Errorf("percentiles (-want +got):\n%s", d)
	}
	if d := cmp.Diff(Percentiles{}, percentiles(nil)); d != "" {
		t.Errorf("percentiles of nothing (-want +got):\n%s", d)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(*Options) string
		wantErr string
	}{
		{"full defaults", nil, func(o *Options) string {
			return cmp.Diff([]any{fullN["b"], fullHistory, 200, 200, []string{"a", "b", "c", "e"}, []string{"api", "go"}, fullLightN},
				[]any{o.N["b"], o.History, o.Workers, o.InFlight, o.Workloads, o.Triggers, o.LightN})
		}, ""},
		{"short", []string{"-short"}, func(o *Options) string {
			return cmp.Diff([]any{shortN["a"], 0, shortBaseline, shortLightN}, []any{o.N["a"], o.History, o.RiverJobs, o.LightN})
		}, ""},
		{"n overrides", []string{"-n", "7", "-n-b", "9", "-workers", "50"}, func(o *Options) string {
			return cmp.Diff([]any{7, 7, 7, 50}, []any{o.N["a"], o.N["b"], o.N["c"], o.InFlight})
		}, ""},
		{"unknown workload", []string{"-workloads", "a,x"}, nil, `unknown workload "x"`},
		{"repeat", []string{"-repeat", "0"}, nil, "-repeat must be >= 1"},
		{"unknown trigger", []string{"-triggers", "grpc"}, nil, `unknown trigger "grpc"`},
		{"sweep points", []string{"-sweep", "-sweep-points", "1ms/50ms/1, 100ms/1s/4"}, func(o *Options) string {
			return cmp.Diff([]SweepPoint{{time.Millisecond, 50 * time.Millisecond, 1}, {100 * time.Millisecond, time.Second, 4}}, o.Sweep)
		}, ""},
		{"bad sweep point", []string{"-sweep-points", "10ms/250ms/0"}, nil, `-sweep-points: "10ms/250ms/0"`},
		{"short sweep point", []string{"-sweep-points", "10ms/250ms"}, nil, "want FetchCooldown/FetchPollInterval/commit-shards"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, out, err := parseFlags(append([]string{"-database-url", "postgres://x/y"}, tc.args...), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out != "bench-results.json" {
				t.Errorf("out %q", out)
			}
			if d := tc.check(o); d != "" {
				t.Errorf("options (-want +got):\n%s", d)
			}
		})
	}
}

func TestConnectionStrings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, db, redacted string }{
		{"postgres://u:secret@h:5432/flowd?sslmode=disable", "postgres://u:secret@h:5432/bench?sslmode=disable", "postgres://u:***@h:5432/flowd?sslmode=disable"},
		{"postgres://postgres@127.0.0.1:55432/flowd", "postgres://postgres@127.0.0.1:55432/bench", "postgres://postgres@127.0.0.1:55432/flowd"},
		{"host=h user=u password=secret dbname=flowd", "host=h user=u password=secret dbname=bench", "host=h user=u password=*** dbname=flowd"},
	} {
		if got := store.ConnStringWithDatabase(tc.in, "bench"); got != tc.db {
			t.Errorf("ConnStringWithDatabase(%q) = %q, want %q", tc.in, got, tc.db)
		}
		if got := redactURL(tc.in); got != tc.redacted {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.redacted)
		}
	}
}
