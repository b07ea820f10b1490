package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/internal/ctxtime"
	"github.com/flowd/flowd/retention"
	"github.com/flowd/flowd/scheduler"
)

// Soak defaults: long enough for storage to reach its plateau (retention
// plus a few prune intervals) and show it holds.
const (
	soakDurationDefault      = 10 * time.Minute
	soakRetentionDefault     = time.Minute
	soakPruneIntervalDefault = 10 * time.Second
	// soakBucket is the resolution at which step arrivals are counted and
	// told apart as during or between prune cycles.
	soakBucket = 100 * time.Millisecond
)

// SoakResult is what a -soak run measured: storage and throughput each
// minute, and the prune cycles' effect on the workers.
type SoakResult struct {
	Duration      string       `json:"duration"`
	Retention     string       `json:"retention"`
	PruneInterval string       `json:"prune_interval"`
	Minutes       []SoakMinute `json:"minutes"`
	Cycles        []SoakCycle  `json:"cycles"`
	Vacuums       []SoakVacuum `json:"vacuums"`
	// Steps per second and trigger-to-done p99 while the pruner worked (a
	// cycle's deletes or a VACUUM pass) and between, once pruning had work
	// (after the first retention period and one interval).
	StepsPerSecPruning float64 `json:"steps_per_second_pruning"`
	StepsPerSecBetween float64 `json:"steps_per_second_between"`
	P99PruningMs       float64 `json:"trigger_to_done_p99_ms_pruning"`
	P99BetweenMs       float64 `json:"trigger_to_done_p99_ms_between"`
	SamplesPruning     int     `json:"executions_pruning"`
	SamplesBetween     int     `json:"executions_between"`
	// SizeChangePct is the size at the end against minute 3's.
	SizeChangePct float64 `json:"size_change_pct_vs_minute_3"`
}

// SoakMinute is one minute of a soak.
type SoakMinute struct {
	Minute      int     `json:"minute"`
	FlowdMiB    float64 `json:"flowd_tables_mib"`
	RiverMiB    float64 `json:"river_tables_mib"`
	StepsPerSec float64 `json:"steps_per_second"`
	Pruned      int64   `json:"rows_pruned"`
}

// SoakCycle is one prune cycle of a soak: its deletes.
type SoakCycle struct {
	StartSec float64 `json:"start_s"`
	Seconds  float64 `json:"seconds"`
	Batches  int     `json:"batches"`
	Rows     int64   `json:"rows"`
	Error    string  `json:"error,omitempty"`
}

// SoakVacuum is one VACUUM pass of a soak's pruner, run apart from the
// cycles as flowd serve runs it.
type SoakVacuum struct {
	StartSec float64  `json:"start_s"`
	Seconds  float64  `json:"seconds"`
	Tables   []string `json:"tables"`
	Error    string   `json:"error,omitempty"`
}

// soakState gathers a soak's samples from the load process's callbacks,
// the pruner and the minute sampler.
type soakState struct {
	start    time.Time
	mu       sync.Mutex
	buckets  []int          // step arrivals per soakBucket
	samples  []soakSample   // one per finished execution
	pruning  []soakInterval // prune cycles and VACUUM passes that ran
	triggers sync.Map       // execution id -> trigger time
}

type soakSample struct{ t0, done time.Time }
type soakInterval struct{ from, to time.Time }

func (s *soakState) arrive(id uuid.UUID, step int, at time.Time, final int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := int(at.Sub(s.start) / soakBucket); i >= 0 && i < len(s.buckets) {
		s.buckets[i]++
	}
	if step != final {
		return
	}
	if t0, ok := s.triggers.LoadAndDelete(id); ok {
		s.samples = append(s.samples, soakSample{t0.(time.Time), at})
	}
}

// steps counts the arrivals between two offsets from the start.
func (s *soakState) steps(from, to time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := int(from / soakBucket); i < int(to/soakBucket) && i < len(s.buckets); i++ {
		n += s.buckets[i]
	}
	return n
}

// soak runs workload b (Go trigger) for the soak duration with a short
// retention, a pruner every prune interval and River's cleaner capped
// likewise, and samples storage and throughput every minute.
func (b *bench) soak(ctx context.Context) error {
	o := b.o
	cfg := b.stackConfig()
	cfg.JobRetention = o.SoakRetention
	fs, err := startFlowd(ctx, b.dbURL, cfg)
	if err != nil {
		return err
	}
	defer fs.stop()
	w, _ := workloadByKey("b")
	st := &soakState{start: time.Now(), buckets: make([]int, int(o.SoakDuration/soakBucket)+1)}
	loop := newClosedLoop(o.InFlight, o.Stall)
	b.load.reset(w.FinalStep, loop.release)
	b.load.observe(func(id uuid.UUID, step int, at time.Time) { st.arrive(id, step, at, w.FinalStep) })
	res := &SoakResult{Duration: o.SoakDuration.String(), Retention: o.SoakRetention.String(), PruneInterval: o.SoakPruneInterval.String()}
	b.res.Soak = res

	sctx, cancel := context.WithTimeout(ctx, o.SoakDuration)
	defer cancel()
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); b.soakPrune(sctx, fs, st, res) }()
	go func() { defer bg.Done(); b.soakSample(sctx, st, res) }()
	vars := json.RawMessage(`{"source":"flowbench soak"}`)
	_, failed, firstErr, runErr := loop.run(sctx, math.MaxInt32, min(o.Clients, o.InFlight), func(ctx context.Context) error {
		t0 := time.Now()
		e, _, err := fs.sched.Trigger(ctx, scheduler.TriggerRequest{CompanyID: b.tn.companyID, FlowID: b.tn.flows["b"], Variables: vars})
		if err != nil {
			return err
		}
		st.triggers.Store(e.ID, t0)
		return nil
	})
	bg.Wait()
	b.soakSummary(st, res)
	if runErr != nil && !errors.Is(runErr, context.DeadlineExceeded) {
		return runErr
	}
	if failed > 0 && sctx.Err() == nil {
		return fmt.Errorf("%d triggers failed: %w", failed, firstErr)
	}
	return nil
}

// soakPrune runs the pruner as flowd serve does (retention.Pruner.Start:
// a cycle every interval, the VACUUM apart from the cycles) and records
// each cycle and VACUUM pass that ended before the soak did.
func (b *bench) soakPrune(ctx context.Context, fs *flowdStack, st *soakState, res *SoakResult) {
	since := func(t time.Time) float64 { return round(t.Sub(st.start).Seconds(), 1) }
	p := retention.New(fs.store, &retention.Config{Logger: b.log, Retention: b.o.SoakRetention, Interval: b.o.SoakPruneInterval,
		OnCycle: func(c retention.Cycle, err error) {
			sc := SoakCycle{StartSec: since(c.Started), Seconds: round(c.Finished.Sub(c.Started).Seconds(), 2),
				Batches: c.Batches, Rows: c.Pruned.Total()}
			if err != nil {
				sc.Error = err.Error()
			}
			st.mu.Lock()
			res.Cycles = append(res.Cycles, sc)
			st.pruning = append(st.pruning, soakInterval{c.Started, c.Finished})
			st.mu.Unlock()
		},
		OnVacuum: func(v retention.Vacuum) {
			sv := SoakVacuum{StartSec: since(v.Started), Seconds: round(v.Finished.Sub(v.Started).Seconds(), 2), Tables: v.Tables}
			if v.Err != nil {
				sv.Error = v.Err.Error()
			}
			st.mu.Lock()
			res.Vacuums = append(res.Vacuums, sv)
			st.pruning = append(st.pruning, soakInterval{v.Started, v.Finished})
			st.mu.Unlock()
		},
	})
	p.Start(ctx)
	<-ctx.Done()
	p.Stop()
}

// soakSample records the tables' size and the minute's steps/s every
// minute (and at the end).
func (b *bench) soakSample(ctx context.Context, st *soakState, res *SoakResult) {
	for m := 1; ; m++ {
		err := ctxtime.Sleep(ctx, time.Until(st.start.Add(time.Duration(m)*time.Minute)))
		flowd, river, serr := b.h.sizes(context.WithoutCancel(ctx))
		if serr != nil {
			fmt.Fprintf(b.o.Progress, "flowbench soak: table sizes: %v\n", serr)
		}
		from := time.Duration(m-1) * time.Minute
		to := min(time.Duration(m)*time.Minute, time.Since(st.start))
		if err != nil && to-from < time.Second {
			return // the soak ended with the minute: nothing more to sample
		}
		st.mu.Lock()
		var pruned int64
		for _, c := range res.Cycles {
			if c.StartSec >= from.Seconds() && c.StartSec < to.Seconds() {
				pruned += c.Rows
			}
		}
		st.mu.Unlock()
		sm := SoakMinute{Minute: m, FlowdMiB: round(float64(flowd)/(1<<20), 1), RiverMiB: round(float64(river)/(1<<20), 1),
			StepsPerSec: round(float64(st.steps(from, to))/max(to-from, time.Second).Seconds(), 0), Pruned: pruned}
		res.Minutes = append(res.Minutes, sm)
		if b.o.Progress != nil {
			fmt.Fprintf(b.o.Progress, "flowbench soak: minute %d: flowd tables %.1f MiB, River %.1f MiB, %.0f steps/s, %d rows pruned\n",
				m, sm.FlowdMiB, sm.RiverMiB, sm.StepsPerSec, sm.Pruned)
		}
		b.load.forget()
		if err != nil {
			return
		}
	}
}

// soakSummary compares throughput and latency while the pruner worked with
// the moments it rested, from the moment pruning had work.
func (b *bench) soakSummary(st *soakState, res *SoakResult) {
	st.mu.Lock()
	defer st.mu.Unlock()
	from := st.start.Add(b.o.SoakRetention + b.o.SoakPruneInterval)
	pruning := func(a, z time.Time) bool {
		for _, c := range st.pruning {
			if a.Before(c.to) && c.from.Before(z) {
				return true
			}
		}
		return false
	}
	var nP, nB, stepsP, stepsB int
	for i, n := range st.buckets {
		a := st.start.Add(time.Duration(i) * soakBucket)
		if a.Before(from) || a.After(st.start.Add(b.o.SoakDuration-soakBucket)) {
			continue
		}
		if pruning(a, a.Add(soakBucket)) {
			nP, stepsP = nP+1, stepsP+n
		} else {
			nB, stepsB = nB+1, stepsB+n
		}
	}
	if nP > 0 {
		res.StepsPerSecPruning = round(float64(stepsP)/(float64(nP)*soakBucket.Seconds()), 0)
	}
	if nB > 0 {
		res.StepsPerSecBetween = round(float64(stepsB)/(float64(nB)*soakBucket.Seconds()), 0)
	}
	var during, between []time.Duration
	for _, s := range st.samples {
		if s.t0.Before(from) {
			continue
		}
		if pruning(s.t0, s.done) {
			during = append(during, s.done.Sub(s.t0))
		} else {
			between = append(between, s.done.Sub(s.t0))
		}
	}
	res.SamplesPruning, res.SamplesBetween = len(during), len(between)
	res.P99PruningMs, res.P99BetweenMs = percentiles(during).P99, percentiles(between).P99
	if len(res.Minutes) >= 3 && res.Minutes[2].FlowdMiB > 0 {
		first, last := res.Minutes[2], res.Minutes[len(res.Minutes)-1]
		res.SizeChangePct = round(100*((last.FlowdMiB+last.RiverMiB)/(first.FlowdMiB+first.RiverMiB)-1), 1)
	}
}

// sizes returns the total size (tables, indexes, TOAST) of flowd's tables
// and of River's, in bytes.
func (h *harness) sizes(ctx context.Context) (flowd, river int64, err error) {
	err = h.pool.QueryRow(ctx, marker+`SELECT
			coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname NOT LIKE 'river\_%'), 0)::bigint,
			coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname LIKE 'river\_%'), 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&flowd, &river)
	return flowd, river, err
}

// printSoak prints a soak's minutes and its during/between comparison.
func printSoak(w io.Writer, s *SoakResult) {
	var vacuumed int
	for _, v := range s.Vacuums {
		if len(v.Tables) > 0 {
			vacuumed++
		}
	}
	fmt.Fprintf(w, "soak: %s of workload b (3-step chain, Go trigger), retention %s, prune every %s, %d prune cycles, %d VACUUM passes (%d vacuumed a table)\n",
		s.Duration, s.Retention, s.PruneInterval, len(s.Cycles), len(s.Vacuums), vacuumed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "minute\tflowd MiB\tRiver MiB\tsteps/s\trows pruned\t")
	for _, m := range s.Minutes {
		fmt.Fprintf(tw, "%d\t%.1f\t%.1f\t%.0f\t%d\t\n", m.Minute, m.FlowdMiB, m.RiverMiB, m.StepsPerSec, m.Pruned)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "size at the end vs minute 3: %+.1f%%\n", s.SizeChangePct)
	fmt.Fprintf(w, "steps/s while the pruner worked (cycles and VACUUM passes) %.0f, between %.0f; trigger→done p99 during %.0f ms (%d executions), between %.0f ms (%d)\n\n",
		s.StepsPerSecPruning, s.StepsPerSecBetween, s.P99PruningMs, s.SamplesPruning, s.P99BetweenMs, s.SamplesBetween)
}
