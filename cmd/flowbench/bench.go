package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/telemetry"
)

// Options configure a benchmark run; main fills them from flags.
type Options struct {
	// AdminURL names the server; a fresh database is created there.
	AdminURL string
	// DatabaseURL, when set, is an existing migrated database to use
	// instead (tests); it is not dropped.
	DatabaseURL string
	Keep        bool

	Short    bool
	SweepRun bool
	// Soak runs the soak (soak.go) instead of the workloads: steady load
	// for SoakDuration with a retention of SoakRetention and a prune cycle
	// every SoakPruneInterval.
	Soak                                           bool
	SoakDuration, SoakRetention, SoakPruneInterval time.Duration

	// stackConfig holds the settings of the flowd under test (Logger is
	// the benchmark's own).
	stackConfig

	InFlight    int
	Clients     int
	TargetDelay time.Duration
	Stall       time.Duration

	// Executions per run of each workload, by key.
	N map[string]int
	// RiverJobs, ChainJobs and HTTPRequests size the baselines (0: the
	// number of steps of workload b's run).
	RiverJobs, ChainJobs, HTTPRequests int
	Workloads                          []string // keys, in order
	Triggers                           []string // api, go
	Baselines                          bool
	History                            int

	// Sweep lists the settings -sweep tries, one run each.
	Sweep      []SweepPoint
	SweepN     int
	SweepLight int

	// LightN executions of workload b (Go trigger) run with only
	// LightInFlight in flight: latency without queueing. 0 skips it.
	LightN, LightInFlight int

	// Repeat runs the workloads (or the sweep points) this many times,
	// interleaved, to show how much the figures move between runs.
	Repeat int

	CPUProfile string
	// MemProfile, when set, receives flowd's allocations during the
	// profiled run: the heap profile at its end in MemProfile and at its
	// start in MemProfile.base (go tool pprof -base).
	MemProfile string
	ProfileRun string

	LogPath  string
	LogLevel string

	// Progress receives one line per finished run; nil for none.
	Progress io.Writer
}

// bench is one invocation's state.
type bench struct {
	o     *Options
	dbURL string
	h     *harness
	load  *loadProc
	tn    *tenant
	log   *slog.Logger
	res   *Result
	prof  *os.File
	// profiled is set once the profiled run started: with -repeat only its
	// first repeat is profiled; profiling while it runs.
	profiled, profiling bool
	target              string
}

// Run runs the benchmark described by o.
func Run(ctx context.Context, o *Options) (*Result, error) {
	started := time.Now()
	res := &Result{Mode: "full", StartedAt: started.UTC(), Notes: []string{}}
	switch {
	case o.Soak:
		res.Mode = "soak"
	case o.SweepRun:
		res.Mode = "sweep"
	case o.Short:
		res.Mode = "short"
	}
	res.Machine = Machine{CPUs: runtime.NumCPU(), CPUModel: cpuModel(), MemTotalGiB: round(float64(memTotal())/(1<<30), 1),
		GoVersion: runtime.Version(), LoadAvgAtStart: loadAvg()}
	b := &bench{o: o, res: res}

	dbURL := o.DatabaseURL
	if dbURL == "" {
		u, drop, err := createDatabase(ctx, o.AdminURL)
		if err != nil {
			return nil, err
		}
		if o.Keep {
			res.Notes = append(res.Notes, "database kept: "+redactURL(u))
		} else {
			defer drop()
		}
		dbURL = u
	}
	b.dbURL = dbURL
	h, err := openHarness(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer h.close()
	b.h = h
	res.Machine.PostgreSQL = h.pgVersion
	res.Machine.PostgresLocal = h.postmaster > 1 && len(clusterCPU(h.postmaster)) > 1
	if !res.Machine.PostgresLocal {
		res.Notes = append(res.Notes, "PostgreSQL's processes are not readable on this machine: its CPU is not measured")
	}
	sqlSource := "pg_stat_statements"
	if !h.pgss {
		sqlSource = "pgx tracer"
		res.Notes = append(res.Notes, "SQL statements counted by a pgx tracer on flowd's pool (River's queries included), because "+h.pgssNote)
	}

	logOut := io.Discard
	if o.LogPath != "" {
		f, err := os.Create(o.LogPath)
		if err != nil {
			return nil, fmt.Errorf("open flowd log: %w", err)
		}
		defer f.Close()
		logOut = f
	}
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(o.LogLevel))
	b.log = slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: lv}))
	// Tracing as flowd serve sets it up: on only when an OTLP endpoint is
	// set, to measure its cost (README "Tracing").
	tr, err := telemetry.FromEnv(ctx)
	if err != nil {
		return nil, err
	}
	defer tr.Shutdown(context.WithoutCancel(ctx))
	b.o.Tracing = tr

	res.Config = Config{Workers: o.Workers, FetchCooldown: o.FetchCooldown.String(), FetchPollInterval: o.FetchPollInterval.String(),
		CommitShards: o.CommitShards, CommitBatch: o.CommitBatch, DBMaxConns: o.DBMaxConns, InFlight: o.InFlight,
		Clients: o.Clients, Repeat: o.Repeat, TargetDelay: o.TargetDelay.String(), RateLimit: o.RateLimit, LogLevel: o.LogLevel, SQLSource: sqlSource, Tracing: tr.On()}

	b.load, err = startLoad(ctx, o.TargetDelay)
	if err != nil {
		return nil, err
	}
	defer b.load.stop()
	b.target = b.load.URL()

	// Flows and token, through the API of a flowd started for the purpose.
	fs, err := startFlowd(ctx, dbURL, b.stackConfig())
	if err != nil {
		return nil, err
	}
	b.tn, err = setupTenant(ctx, fs, b.target)
	fs.stop()
	if err != nil {
		return nil, err
	}

	switch {
	case o.Soak:
		err = b.soak(ctx)
	case o.SweepRun:
		err = b.sweep(ctx)
	default:
		err = b.main(ctx)
	}
	res.Machine.LoadAvgAtEnd = loadAvg()
	res.Seconds = round(time.Since(started).Seconds(), 1)
	if err != nil {
		return res, err
	}
	b.goals()
	if res.Mode == "full" {
		for _, rr := range res.Runs {
			if (rr.Kind == "workload" || rr.Kind == "history") && rr.SteadySeconds < 20 {
				res.Notes = append(res.Notes, fmt.Sprintf("the steady state of %s lasted %.1f s, less than 20 s: raise -n-%s", rr.Name, rr.SteadySeconds, rr.Workload))
			}
		}
	}
	return res, nil
}

func (b *bench) stackConfig() stackConfig {
	c := b.o.stackConfig
	c.Logger = b.log
	return c
}

func (b *bench) progress(rr *RunResult) {
	if b.o.Progress == nil {
		return
	}
	fmt.Fprintf(b.o.Progress, "flowbench: %-16s %6d done in %5.1fs  %8.1f exec/s %8.1f steps/s", rr.Name, rr.Succeeded, rr.WallSeconds, rr.ExecPerSec, rr.StepsPerSec)
	if len(rr.Errors) > 0 {
		fmt.Fprintf(b.o.Progress, "  ERRORS: %s", strings.Join(rr.Errors, "; "))
	}
	fmt.Fprintln(b.o.Progress)
}

// main runs the baselines, every workload with every trigger path, and
// the history comparison.
func (b *bench) main(ctx context.Context) error {
	o := b.o
	for rep := 1; rep <= o.Repeat; rep++ {
		// Each repeat has its baselines and its light run, like its
		// workloads: the goals compare medians of runs made in the same
		// stretch of the machine, not one sample of River with the
		// median of flowd's (README "Round six").
		if o.Baselines {
			if err := b.baselines(ctx, rep); err != nil {
				return err
			}
		}
		for _, key := range o.Workloads {
			w, _ := workloadByKey(key)
			for _, trig := range o.Triggers {
				name := b.repeatName(w.Key+"/"+trig, rep)
				rr, err := b.runWorkload(ctx, w, trig, name, o.N[key], o.InFlight, b.stackConfig(), true)
				if err != nil {
					return fmt.Errorf("run %s: %w", name, err)
				}
				rr.Kind = "workload"
				b.res.Runs = append(b.res.Runs, rr)
				b.progress(rr)
			}
		}
		if o.LightN > 0 && slices.Contains(o.Workloads, "b") {
			w, _ := workloadByKey("b")
			name := b.repeatName(fmt.Sprintf("b/go light@%d", o.LightInFlight), rep)
			rr, err := b.runWorkload(ctx, w, "go", name, o.LightN, o.LightInFlight, b.stackConfig(), true)
			if err != nil {
				return fmt.Errorf("run %s: %w", name, err)
			}
			rr.Kind = "light"
			b.res.Runs = append(b.res.Runs, rr)
			b.progress(rr)
		}
	}
	if o.History > 0 {
		return b.history(ctx)
	}
	return nil
}

// baselines runs the bare River and bare HTTP baselines of repeat rep.
func (b *bench) baselines(ctx context.Context, rep int) error {
	o := b.o
	stepsB := o.N["b"] * 3
	for _, bl := range []struct {
		name string
		n    int
		run  func(context.Context, string, int) (*RunResult, error)
	}{
		{"river/bulk", cmpOr(o.RiverJobs, stepsB), func(ctx context.Context, name string, n int) (*RunResult, error) {
			return b.riverBaseline(ctx, name, n, false)
		}},
		{"river/chain", cmpOr(o.ChainJobs, stepsB), func(ctx context.Context, name string, n int) (*RunResult, error) {
			return b.riverBaseline(ctx, name, n, true)
		}},
		{"http", cmpOr(o.HTTPRequests, stepsB), b.httpBaseline},
	} {
		name := b.repeatName(bl.name, rep)
		rr, err := bl.run(ctx, name, bl.n)
		if err != nil {
			return fmt.Errorf("baseline %s: %w", name, err)
		}
		b.res.Baselines = append(b.res.Baselines, rr)
		b.progress(rr)
	}
	return nil
}

// history runs workload b (Go trigger) on an empty database, then again
// with o.History old executions present.
func (b *bench) history(ctx context.Context) error {
	w, _ := workloadByKey("b")
	trig := "go"
	if !slices.Contains(b.o.Triggers, "go") && len(b.o.Triggers) > 0 {
		trig = b.o.Triggers[0]
	}
	empty := b.find(b.res.Runs, b.repeatName("b/"+trig, 1))
	if empty == nil {
		rr, err := b.runWorkload(ctx, w, trig, "b/"+trig, b.o.N["b"], b.o.InFlight, b.stackConfig(), true)
		if err != nil {
			return err
		}
		rr.Kind = "workload"
		b.res.Runs = append(b.res.Runs, rr)
		b.progress(rr)
		empty = rr
	}
	if err := b.h.resetTables(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	if err := b.h.insertHistory(ctx, b.tn.flows["b"], b.tn.companyID, b.target, b.o.History); err != nil {
		return err
	}
	insertSecs := time.Since(t0).Seconds()
	name := fmt.Sprintf("b/%s+%dk history", trig, b.o.History/1000)
	if b.o.History < 1000 {
		name = fmt.Sprintf("b/%s+%d history", trig, b.o.History)
	}
	rr, err := b.runWorkload(ctx, w, trig, name, b.o.N["b"], b.o.InFlight, b.stackConfig(), false)
	if err != nil {
		return err
	}
	rr.Kind = "history"
	rr.HistoryRows = b.o.History
	b.res.Runs = append(b.res.Runs, rr)
	b.progress(rr)
	b.res.History = &HistoryCheck{Rows: b.o.History, InsertSeconds: round(insertSecs, 1), Empty: empty.Name, With: rr.Name,
		SQLPerStepEmpty: empty.SQLPerStep, SQLPerStepWith: rr.SQLPerStep,
		StepsPerSecEmpty: empty.StepsPerSec, StepsPerSecWith: rr.StepsPerSec}
	return nil
}

// SweepPoint is one combination of the settings a sweep compares.
type SweepPoint struct {
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	CommitShards      int
}

// sweep runs workload b (Go trigger) for every sweep point: a saturated
// run, then a light one (latency without queueing).
func (b *bench) sweep(ctx context.Context) error {
	w, _ := workloadByKey("b")
	for rep := 1; rep <= b.o.Repeat; rep++ {
		for _, pt := range b.o.Sweep {
			cfg := b.stackConfig()
			cfg.FetchCooldown, cfg.FetchPollInterval, cfg.CommitShards = pt.FetchCooldown, pt.FetchPollInterval, pt.CommitShards
			run := func(kind, name string, n, inflight int) error {
				rr, err := b.runWorkload(ctx, w, "go", name, n, inflight, cfg, true)
				if err != nil {
					return fmt.Errorf("sweep %s: %w", name, err)
				}
				rr.Kind = kind
				b.res.Sweep = append(b.res.Sweep, rr)
				b.progress(rr)
				return nil
			}
			name := b.repeatName(fmt.Sprintf("%s/%s/%d", pt.FetchCooldown, pt.FetchPollInterval, pt.CommitShards), rep)
			if err := run("sweep", name, b.o.SweepN, b.o.InFlight); err != nil {
				return err
			}
			if b.o.SweepLight > 0 {
				if err := run("sweep-light", fmt.Sprintf("%s light@%d", name, b.o.LightInFlight), b.o.SweepLight, b.o.LightInFlight); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// repeatName numbers a run's name when runs are repeated (-repeat).
func (b *bench) repeatName(name string, rep int) string {
	if b.o.Repeat > 1 {
		return fmt.Sprintf("%s #%d", name, rep)
	}
	return name
}

func (b *bench) find(list []*RunResult, name string) *RunResult {
	for _, r := range list {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// runWorkload runs n executions of w through one trigger path on a fresh
// flowd, and measures them.
func (b *bench) runWorkload(ctx context.Context, w workload, trig, name string, n, inflight int, cfg stackConfig, truncate bool) (*RunResult, error) {
	if truncate {
		if err := b.h.resetTables(ctx); err != nil {
			return nil, err
		}
	}
	fs, err := startFlowd(ctx, b.dbURL, cfg)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			fs.stop()
		}
	}()
	time.Sleep(300 * time.Millisecond) // River elects a leader and starts its services
	since, err := b.h.dbNow(ctx)
	if err != nil {
		return nil, err
	}
	per := w.perTrigger()
	rr := &RunResult{Name: name, Workload: w.Key, Trigger: trig, Executions: n * per, StepsPerExecution: w.Steps, InFlight: inflight,
		FetchCooldown: cfg.FetchCooldown.String(), FetchPoll: cfg.FetchPollInterval.String(), CommitShards: cfg.CommitShards}
	flowID := b.tn.flows[w.Key]
	loop := newClosedLoop(inflight, b.o.Stall)
	if trig == "go" {
		b.load.reset(w.FinalStep, everyNth(per, loop.release))
	} else {
		b.load.reset(w.FinalStep, nil)
	}
	p, err := b.begin(ctx, name, fs.queries)
	if err != nil {
		return nil, err
	}
	var ok, failed int
	var firstErr, runErr error
	switch trig {
	case "go":
		vars := json.RawMessage(`{"source":"flowbench"}`)
		ok, failed, firstErr, runErr = loop.run(ctx, n, min(b.o.Clients, inflight), func(ctx context.Context) error {
			t0 := time.Now()
			if w.Event != "" {
				ev, _, err := fs.sched.Publish(ctx, scheduler.PublishRequest{CompanyID: b.tn.companyID,
					WorkspaceID: "default", Type: w.Event, Data: vars})
				if err != nil {
					return err
				}
				for _, x := range ev.Executions {
					b.load.noteTrigger(x.ID, t0)
				}
				return nil
			}
			e, _, err := fs.sched.Trigger(ctx, scheduler.TriggerRequest{CompanyID: b.tn.companyID, FlowID: flowID, Variables: vars})
			if err != nil {
				return err
			}
			b.load.noteTrigger(e.ID, t0)
			return nil
		})
	case "api":
		d, err := b.load.runAPI(ctx, loadCommand{Run: name, URL: fs.url, Token: b.tn.token, FlowID: flowID.String(),
			N: n, InFlight: inflight, Clients: min(b.o.Clients, inflight), FinalStep: w.FinalStep, Stall: b.o.Stall,
			Event: w.Event, Fanout: per})
		if err != nil {
			return nil, err
		}
		ok, failed = d.ok, d.failed
		if d.err != "" {
			firstErr = fmt.Errorf("%s", d.err)
		}
	default:
		return nil, fmt.Errorf("unknown trigger %q (want api or go)", trig)
	}
	if runErr == nil {
		runErr = b.load.waitFinals(ctx, ok*per, b.o.Stall)
	}
	if runErr == nil {
		runErr = b.h.waitFinished(ctx, since, ok*per, b.o.Stall)
	}
	_, _, requests := b.load.snapshot()
	b.end(ctx, p, fs.queries, max(requests, 1), rr)
	fs.stop()
	stopped = true
	for _, e := range []error{firstErr, runErr} {
		if e != nil {
			rr.Errors = append(rr.Errors, e.Error())
		}
	}
	if failed > 0 {
		rr.Errors = append(rr.Errors, fmt.Sprintf("%d triggers failed", failed))
	}
	if err := b.collect(ctx, rr, since, w); err != nil {
		return nil, err
	}
	return rr, nil
}

// collect reads the run's executions and fills throughput and latency.
func (b *bench) collect(ctx context.Context, rr *RunResult, since time.Time, w workload) error {
	rows, err := b.h.executions(ctx, since)
	if err != nil {
		return err
	}
	arrivals, triggers, requests := b.load.snapshot()
	var finished, created []time.Time
	var toDone, toFirst []time.Duration
	hops := make([][]time.Duration, len(hopNames))
	var firstFailure string
	var last time.Time
	for _, r := range rows {
		switch r.status {
		case "success":
			rr.Succeeded++
		default:
			rr.Failed++
			if firstFailure == "" {
				msg := r.status
				if r.errMsg != nil {
					msg += ": " + *r.errMsg
				}
				firstFailure = fmt.Sprintf("execution %s %s", r.id, msg)
			}
		}
		created = append(created, r.created)
		if r.finished != nil {
			finished = append(finished, *r.finished)
			toDone = append(toDone, r.finished.Sub(r.created))
			if r.finished.After(last) {
				last = *r.finished
			}
		}
		if t0, ok := triggers[r.id]; ok {
			if a := arrivals[r.id]; a != nil {
				toFirst = append(toFirst, a.first.Sub(t0))
				if r.fetched != nil && r.sent != nil {
					for i, d := range []time.Duration{r.created.Sub(t0), r.fetched.Sub(r.created), r.sent.Sub(*r.fetched), a.first.Sub(*r.sent)} {
						hops[i] = append(hops[i], d)
					}
				}
			}
		}
	}
	if firstFailure != "" {
		rr.Errors = append(rr.Errors, firstFailure)
	}
	if missing := rr.Executions - len(rows); missing > 0 {
		rr.Errors = append(rr.Errors, fmt.Sprintf("%d executions missing", missing))
		rr.Failed += missing
	}
	rr.Steps = requests
	if !last.IsZero() {
		rr.WallSeconds = round(last.Sub(since).Seconds(), 2)
	}
	rate, window := steadyRate(finished)
	rr.SliceRates, rr.SpreadPct = steadySlices(finished, 2*time.Second)
	rr.ExecPerSec = round(rate, 1)
	rr.StepsPerSec = round(rate*float64(w.Steps), 1)
	rr.SteadySeconds = round(window.Seconds(), 2)
	if w.Event != "" {
		started, _ := steadyRate(created)
		rr.Events = rr.Executions / w.perTrigger()
		rr.StartedPerSec = round(started, 1)
		rr.EventsPerSec = round(started/float64(w.perTrigger()), 1)
	}
	pf, pd := percentiles(toFirst), percentiles(toDone)
	rr.TriggerToFirstRequest, rr.TriggerToFinished = &pf, &pd
	rr.Hops = nil
	for i, name := range hopNames {
		if len(hops[i]) > 0 {
			rr.Hops = append(rr.Hops, Hop{Name: name, Percentiles: percentiles(hops[i])})
		}
	}
	return nil
}

// probe holds the counters at the start of a measured run.
type probe struct {
	start time.Time
	self  time.Duration
	child time.Duration
	pg    map[int]time.Duration
	q     int64
	upd   [2]int64 // updates and HOT updates of executions
	alloc uint64   // heap objects allocated
	busy  time.Duration
	steal time.Duration
	load  [3]float64
}

// begin resets peak RSS and statement statistics and snapshots the CPU
// counters; it starts the CPU profile for the profiled run.
func (b *bench) begin(ctx context.Context, name string, qc *queryCounter) (*probe, error) {
	resetPeakRSS()
	if err := b.h.resetStatements(ctx); err != nil {
		return nil, fmt.Errorf("reset pg_stat_statements: %w", err)
	}
	p := &probe{pg: clusterCPU(b.h.postmaster), upd: b.h.executionUpdates(ctx)}
	if qc != nil {
		p.q = qc.n.Load()
	}
	p.child, _, _ = procCPU(b.load.Pid())
	if (b.o.CPUProfile != "" || b.o.MemProfile != "") && !b.profiled && (name == b.o.ProfileRun || strings.HasPrefix(name, b.o.ProfileRun+" #")) {
		b.profiled, b.profiling = true, true
		if b.o.MemProfile != "" {
			if err := writeHeapProfile(b.o.MemProfile + ".base"); err != nil {
				return nil, err
			}
		}
		if b.o.CPUProfile != "" {
			f, err := os.Create(b.o.CPUProfile)
			if err != nil {
				return nil, fmt.Errorf("create CPU profile: %w", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return nil, fmt.Errorf("start CPU profile: %w", err)
			}
			b.prof = f
		}
	}
	p.load = loadAvg()
	p.busy, p.steal = machineCPU()
	p.self = selfCPU()
	p.alloc = heapAllocs()
	p.start = time.Now()
	return p, nil
}

// end fills the run's CPU, memory and SQL figures for `steps` steps.
func (b *bench) end(ctx context.Context, p *probe, qc *queryCounter, steps int, rr *RunResult) {
	wall := time.Since(p.start)
	self := selfCPU() - p.self
	allocs := heapAllocs() - p.alloc
	child, _, _ := procCPU(b.load.Pid())
	child -= p.child
	pgEnd := clusterCPU(b.h.postmaster)
	busy, steal := machineCPU()
	busy, steal = busy-p.busy, steal-p.steal
	rss := peakRSS()
	if b.prof != nil {
		pprof.StopCPUProfile()
		b.prof.Close()
		b.prof = nil
		b.res.Notes = append(b.res.Notes, fmt.Sprintf("CPU profile of run %s written to %s", rr.Name, b.o.CPUProfile))
	}
	if b.profiling && b.o.MemProfile != "" {
		if err := writeHeapProfile(b.o.MemProfile); err != nil {
			b.res.Notes = append(b.res.Notes, err.Error())
		} else {
			b.res.Notes = append(b.res.Notes, fmt.Sprintf("allocations of run %s: go tool pprof -sample_index=alloc_objects -base %s.base %s",
				rr.Name, b.o.MemProfile, b.o.MemProfile))
		}
	}
	b.profiling = false
	rr.LoadAvgAtStart = p.load
	per1k := func(d time.Duration) float64 { return round(d.Seconds()*1000/float64(steps), 3) }
	cores := func(d time.Duration) float64 { return round(d.Seconds()/wall.Seconds(), 2) }
	rr.FlowdCPUPer1k, rr.FlowdCores = per1k(self), cores(self)
	rr.LoadCPUPer1k, rr.LoadCores = per1k(child), cores(child)
	rr.PeakRSSMiB = round(float64(rss)/(1<<20), 1)
	rr.AllocsPerStep = round(float64(allocs)/float64(steps), 0)
	rr.StealCores = cores(steal)

	backends, err := b.h.backends(ctx)
	if err == nil && len(pgEnd) > 0 {
		ours := "db:" + b.h.dbName
		own := cpuDelta(p.pg, pgEnd, func(pid int) bool {
			k := backends[pid]
			return !strings.HasPrefix(k, "db:") || k == ours
		})
		others := cpuDelta(p.pg, pgEnd, func(pid int) bool {
			k := backends[pid]
			return strings.HasPrefix(k, "db:") && k != ours
		})
		rr.PostgresCPUPer1k, rr.PostgresCores = per1k(own), cores(own)
		rr.OtherDBsCPU = round(others.Seconds(), 2)
		rr.OtherCores = cores(max(0, busy-self-child-own))
	}
	if qc != nil {
		rr.TracerPerStep = round(float64(qc.n.Load()-p.q)/float64(steps), 2)
	}
	if upd := b.h.executionUpdates(ctx); upd[0] > p.upd[0] {
		rr.ExecutionUpdates = upd[0] - p.upd[0]
		rr.HOTUpdatePct = round(100*float64(upd[1]-p.upd[1])/float64(rr.ExecutionUpdates), 1)
	}
	rr.SQLSource = "pgx tracer"
	rr.SQLPerStep = rr.TracerPerStep
	if b.h.pgss {
		total, top, err := b.h.statements(ctx, 12)
		if err != nil {
			rr.Errors = append(rr.Errors, err.Error())
			return
		}
		rr.SQLSource = "pg_stat_statements"
		rr.SQLPerStep = round(float64(total)/float64(steps), 2)
		for i := range top {
			top[i].CallsPerStep = round(float64(top[i].Calls)/float64(steps), 3)
			top[i].ExecMSPerStep = round(top[i].ExecMSPerStep/float64(steps), 4)
		}
		rr.TopStatements = top
	}
}

// writeHeapProfile writes the heap profile (allocations since the process
// started, and what is live) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create heap profile: %w", err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("write heap profile: %w", err)
	}
	return f.Close()
}
