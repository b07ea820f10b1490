package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/scheduler"
)

// Default sizes. Full mode: each workload's N gives about 20 s of steady
// state on a 2-core machine at the rates measured when they were chosen
// (README.md, Performance); a faster flowd needs a larger -n.
var (
	// For workload e, N counts events (each starts 10 executions).
	fullN  = map[string]int{"a": 15000, "b": 12000, "c": 8500, "e": 1500}
	shortN = map[string]int{"a": 60, "b": 60, "c": 40, "e": 6}
)

const (
	fullHistory   = 100000
	fullChainJobs = 6000
	shortBaseline = 600
	fullSweepN    = 4000
	shortSweepN   = 60
	sweepLightN   = 100

	// defaultSweep varies one setting at a time around the defaults:
	// FetchCooldown, then FetchPollInterval, then the commit shards.
	defaultSweep = "1ms/50ms/1,2ms/50ms/1,10ms/50ms/1,50ms/50ms/1,100ms/1s/1,1ms/250ms/1,1ms/1s/1,1ms/50ms/2,1ms/50ms/4"
	// fullLightN: the light run's p99 is its 20th-worst sample, not (as
	// with 200) its second-worst.
	fullLightN = 2000
	// fullLightInFlight is the light load of the latency goals: a run next
	// to the saturated one, with a few executions in flight.
	fullLightInFlight = 16
	shortLightN       = 10
)

func main() {
	if isLoadChild() {
		if err := runLoadChild(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "flowbench load process:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, out, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "flowbench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.LogPath == "" {
		o.LogPath = filepath.Join(os.TempDir(), fmt.Sprintf("flowbench-%d.log", os.Getpid()))
		if o.Keep {
			fmt.Fprintf(stderr, "flowbench: flowd's log goes to %s\n", o.LogPath)
		} else {
			defer os.Remove(o.LogPath)
		}
	}
	res, err := Run(ctx, o)
	code := 0
	if res != nil {
		printReport(stdout, res)
		if werr := writeJSON(out, res); werr != nil {
			fmt.Fprintln(stderr, "flowbench:", werr)
			code = 1
		} else {
			fmt.Fprintf(stdout, "results written to %s\n", out)
		}
		for _, rr := range append(append(append([]*RunResult{}, res.Baselines...), res.Runs...), res.Sweep...) {
			if rr.Failed > 0 || len(rr.Errors) > 0 {
				code = 1
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "flowbench:", err)
		code = 1
	}
	return code
}

func writeJSON(path string, res *Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// parseFlags reads the command line into Options and the output path.
func parseFlags(args []string, stderr io.Writer) (*Options, string, error) {
	fs := flag.NewFlagSet("flowbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &Options{Progress: stderr}
	var out, workloadList, triggerList, sweep string
	var n, na, nb, nc, ne, history int
	fs.StringVar(&o.AdminURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL server to benchmark on (DATABASE_URL); a database flowd_bench_<pid> is created there and dropped at the end")
	fs.BoolVar(&o.Keep, "keep", false, "keep the benchmark database (and the flowd log) at the end")
	fs.StringVar(&out, "out", "bench-results.json", "where to write the results as JSON")
	fs.BoolVar(&o.Short, "short", false, "a few seconds in all: small N, no history (CI)")
	fs.BoolVar(&o.SweepRun, "sweep", false, "run only workload b (Go trigger) once per -sweep-points setting, each also light (-sweep-light-n executions at -light-inflight)")
	fs.BoolVar(&o.Soak, "soak", false, "run only the soak: steady workload b (Go trigger) for -soak-duration with retention -soak-retention, pruning every -soak-prune-interval; prints table sizes and steps/s each minute")
	fs.DurationVar(&o.SoakDuration, "soak-duration", soakDurationDefault, "length of the soak")
	fs.DurationVar(&o.SoakRetention, "soak-retention", soakRetentionDefault, "FLOWD_RETENTION during the soak (River's cleaner capped likewise)")
	fs.DurationVar(&o.SoakPruneInterval, "soak-prune-interval", soakPruneIntervalDefault, "FLOWD_PRUNE_INTERVAL during the soak")
	fs.IntVar(&o.Workers, "workers", scheduler.WorkersDefault, "executions flowd runs at once (flowd serve --workers)")
	fs.DurationVar(&o.FetchCooldown, "fetch-cooldown", scheduler.FetchCooldownDefault, "River FetchCooldown (flowd serve --fetch-cooldown)")
	fs.DurationVar(&o.FetchPollInterval, "fetch-poll-interval", scheduler.FetchPollIntervalDefault, "River FetchPollInterval (flowd serve --fetch-poll-interval)")
	fs.IntVar(&o.CommitShards, "commit-shards", engine.CommitShardsDefault, "group-commit goroutines (engine.WorkerConfig.CommitShards)")
	fs.IntVar(&o.CommitBatch, "commit-batch", engine.MaxCommitBatchDefault, "executions written per group commit at most (engine.WorkerConfig.MaxCommitBatch)")
	fs.IntVar(&o.DBMaxConns, "db-max-conns", 40, "PostgreSQL connections of flowd (flowd serve --db-max-conns)")
	fs.Float64Var(&o.RateLimit, "rate-limit", -1, "API requests per second per company; negative: off (flowd serve's default, 500/s, would cap the API runs)")
	fs.IntVar(&o.InFlight, "inflight", 0, "executions triggered and not yet finished at any time (default: -workers)")
	fs.IntVar(&o.Clients, "clients", 32, "goroutines that trigger executions (API: keep-alive connections)")
	fs.DurationVar(&o.TargetDelay, "target-delay", 0, "the target answers after this delay")
	fs.DurationVar(&o.Stall, "stall", 30*time.Second, "give up a run when no execution finished for this long")
	fs.IntVar(&n, "n", 0, "executions per workload run (overrides -n-a, -n-b, -n-c)")
	fs.IntVar(&na, "n-a", 0, fmt.Sprintf("executions of workload a (1 step) per run (default %d, short %d)", fullN["a"], shortN["a"]))
	fs.IntVar(&nb, "n-b", 0, fmt.Sprintf("executions of workload b (3-step chain) per run (default %d, short %d)", fullN["b"], shortN["b"]))
	fs.IntVar(&nc, "n-c", 0, fmt.Sprintf("executions of workload c (5-step DAG) per run (default %d, short %d)", fullN["c"], shortN["c"]))
	fs.IntVar(&ne, "n-e", 0, fmt.Sprintf("events of workload e (each fanned out to 10 1-step flows) per run (default %d, short %d)", fullN["e"], shortN["e"]))
	fs.IntVar(&o.RiverJobs, "river-jobs", 0, "jobs of the bare River bulk baseline (default: workload b's steps)")
	fs.IntVar(&o.ChainJobs, "chain-jobs", 0, fmt.Sprintf("jobs of the bare River chain baseline (default %d, short %d)", fullChainJobs, shortBaseline))
	fs.IntVar(&o.HTTPRequests, "http-requests", 0, "requests of the bare HTTP baseline (default: workload b's steps)")
	fs.StringVar(&workloadList, "workloads", "a,b,c,e", "workloads to run: a (1 step), b (3-step chain), c (5-step DAG), e (an event fanned out to 10 1-step flows)")
	fs.StringVar(&triggerList, "triggers", "api,go", "trigger paths: api (POST /v1/webhooks/{id}/trigger) and go (scheduler.Trigger)")
	fs.IntVar(&o.Repeat, "repeat", 1, "run the workloads (or the sweep points) this many times, interleaved; the goals use the median")
	fs.BoolVar(&o.Baselines, "baselines", true, "run the bare River and bare HTTP baselines")
	fs.IntVar(&history, "history", -1, fmt.Sprintf("old executions inserted before the second run of workload b (default %d, short 0)", fullHistory))
	fs.IntVar(&o.LightN, "light-n", -1, fmt.Sprintf("executions of workload b (Go trigger) run with only -light-inflight in flight, for latency without queueing; 0 skips (default %d, short %d)", fullLightN, shortLightN))
	fs.IntVar(&o.LightInFlight, "light-inflight", fullLightInFlight, "executions in flight in the light run (its latency goals are for 16)")
	fs.StringVar(&sweep, "sweep-points", defaultSweep, "the settings -sweep tries: comma-separated FetchCooldown/FetchPollInterval/commit-shards")
	fs.IntVar(&o.SweepLight, "sweep-light-n", -1, fmt.Sprintf("executions of each light sweep run; 0 skips them (default %d, short %d)", sweepLightN, shortLightN))
	fs.IntVar(&o.SweepN, "sweep-n", 0, fmt.Sprintf("executions per sweep run (default %d, short %d)", fullSweepN, shortSweepN))
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of flowd during the run named by -profile-run to this file")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write flowd's heap profile at the end of the run named by -profile-run to this file, and at its start to this file + .base (its allocations: go tool pprof -sample_index=alloc_objects -base FILE.base FILE)")
	fs.StringVar(&o.ProfileRun, "profile-run", "b/api", "the run to profile (e.g. b/api, b/go, a/api)")
	fs.StringVar(&o.LogPath, "log", "", "flowd's JSON log file (default: a temporary file, removed at the end)")
	fs.StringVar(&o.LogLevel, "log-level", "info", "flowd's log level (flowd serve's default is info: one line per step attempt)")
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if fs.NArg() > 0 {
		return nil, "", fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.AdminURL == "" {
		return nil, "", fmt.Errorf("DATABASE_URL is not set (or pass -database-url); `make bench` sets it")
	}
	if o.Workers < 1 || o.Clients < 1 || o.DBMaxConns < 2 {
		return nil, "", fmt.Errorf("-workers and -clients must be >= 1 and -db-max-conns >= 2")
	}
	if o.Soak && (o.SoakDuration <= 0 || o.SoakRetention <= 0 || o.SoakPruneInterval <= 0) {
		return nil, "", fmt.Errorf("-soak-duration, -soak-retention and -soak-prune-interval must be more than 0")
	}
	if o.Repeat < 1 {
		return nil, "", fmt.Errorf("-repeat must be >= 1")
	}
	if o.InFlight <= 0 {
		o.InFlight = o.Workers
	}
	defaults := fullN
	if o.Short {
		defaults = shortN
	}
	o.N = map[string]int{}
	for k, v := range map[string]int{"a": na, "b": nb, "c": nc, "e": ne} {
		o.N[k] = cmpOr(n, cmpOr(v, defaults[k]))
	}
	if o.Short {
		o.RiverJobs = cmpOr(o.RiverJobs, shortBaseline)
		o.ChainJobs = cmpOr(o.ChainJobs, shortBaseline)
		o.HTTPRequests = cmpOr(o.HTTPRequests, shortBaseline)
		o.SweepN = cmpOr(o.SweepN, shortSweepN)
		if history < 0 {
			history = 0
		}
	}
	o.SweepN = cmpOr(o.SweepN, fullSweepN)
	o.ChainJobs = cmpOr(o.ChainJobs, fullChainJobs)
	if o.LightN < 0 {
		o.LightN = fullLightN
		if o.Short {
			o.LightN = shortLightN
		}
	}
	if o.LightInFlight < 1 {
		return nil, "", fmt.Errorf("-light-inflight must be >= 1")
	}
	if history < 0 {
		history = fullHistory
	}
	o.History = history
	for _, k := range splitList(workloadList) {
		if _, ok := workloadByKey(k); !ok {
			return nil, "", fmt.Errorf("-workloads: unknown workload %q (want a, b, c or e)", k)
		}
		o.Workloads = append(o.Workloads, k)
	}
	for _, t := range splitList(triggerList) {
		if t != "api" && t != "go" {
			return nil, "", fmt.Errorf("-triggers: unknown trigger %q (want api or go)", t)
		}
		o.Triggers = append(o.Triggers, t)
	}
	points, err := parseSweep(sweep)
	if err != nil {
		return nil, "", fmt.Errorf("-sweep-points: %w", err)
	}
	o.Sweep = points
	if o.SweepLight < 0 {
		o.SweepLight = sweepLightN
		if o.Short {
			o.SweepLight = shortLightN
		}
	}
	return o, out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseSweep reads "cooldown/poll/shards,..." into sweep points.
func parseSweep(s string) ([]SweepPoint, error) {
	var out []SweepPoint
	for _, item := range splitList(s) {
		f := strings.Split(item, "/")
		if len(f) != 3 {
			return nil, fmt.Errorf("%q: want FetchCooldown/FetchPollInterval/commit-shards, like 10ms/250ms/2", item)
		}
		cd, err1 := time.ParseDuration(f[0])
		poll, err2 := time.ParseDuration(f[1])
		shards, err3 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || err3 != nil || cd <= 0 || poll <= 0 || shards < 1 {
			return nil, fmt.Errorf("%q: want two positive durations and a positive integer, like 10ms/250ms/2", item)
		}
		out = append(out, SweepPoint{FetchCooldown: cd, FetchPollInterval: poll, CommitShards: shards})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no sweep points")
	}
	return out, nil
}
