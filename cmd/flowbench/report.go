package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Targets the benchmark checks (issue 15 and SPEC.md, Performance).
const (
	goalRiverRatio   = 0.3  // flowd steps/s ≥ 0.3 × bare River jobs/s (0.5× is the ceiling worth chasing)
	goalChainExecs   = 1200 // executions/s on the 3-step chain via the API
	goalCPUPer1k     = 0.45 // flowd + PostgreSQL CPU seconds per 1,000 steps of the 3-step chain
	goalLightFirstMs = 25   // light run (16 in flight): trigger → first request p99
	goalLightDoneMs  = 50   // light run: trigger → done p99
	goalHistoryDrift = 0.10 // SQL statements per step within ±10% with history
	goalPeakRSSMiB   = 200
	goalEventStarts  = 3000 // executions/s started by events fanned out to 10 flows (SPEC, Performance)
	// Soak (issue 14): storage plateaus, pruning barely slows the workers.
	goalSoakSizePct  = 20
	goalSoakStepsPct = 10
)

// soakGoals are the soak's two targets.
func soakGoals(s *SoakResult) []Goal {
	var out []Goal
	if len(s.Minutes) >= 3 {
		out = append(out, Goal{Name: "soak: tables' size at the end vs minute 3", Want: fmt.Sprintf("within ±%d%%", goalSoakSizePct),
			Got: fmt.Sprintf("%+.1f%%", s.SizeChangePct), Pass: math.Abs(s.SizeChangePct) <= goalSoakSizePct})
	}
	if s.StepsPerSecBetween > 0 && s.StepsPerSecPruning > 0 {
		drop := 100 * (1 - s.StepsPerSecPruning/s.StepsPerSecBetween)
		out = append(out, Goal{Name: "soak: steps/s while pruning (cycles, VACUUM) vs between", Want: fmt.Sprintf("at most %d%% lower", goalSoakStepsPct),
			Got: fmt.Sprintf("%.0f vs %.0f (%+.1f%%)", s.StepsPerSecPruning, s.StepsPerSecBetween, -drop), Pass: drop <= goalSoakStepsPct})
	}
	return out
}

// goals evaluates the targets against the runs.
func (b *bench) goals() {
	r := b.res
	main := median(r.Runs, "b/api")
	if main == nil {
		main = median(r.Runs, "b/go")
	}
	river := median(r.Baselines, "river/bulk")
	if main != nil && river != nil && river.StepsPerSec > 0 {
		ratio := main.StepsPerSec / river.StepsPerSec
		r.Goals = append(r.Goals, Goal{Name: "steps/s vs bare River jobs/s (" + main.Name + ")", Want: fmt.Sprintf("≥ %.2f×", goalRiverRatio),
			Got: fmt.Sprintf("%.2f× (%.0f / %.0f)", ratio, main.StepsPerSec, river.StepsPerSec), Pass: ratio >= goalRiverRatio})
	}
	if main != nil {
		r.Goals = append(r.Goals, Goal{Name: "3-step chain executions/s (" + main.Name + "; n8n: 74–83)", Want: fmt.Sprintf("≥ %d", goalChainExecs),
			Got: fmt.Sprintf("%.0f (%.0f steps/s)", main.ExecPerSec, main.StepsPerSec), Pass: main.ExecPerSec >= goalChainExecs})
		cpu := main.FlowdCPUPer1k + main.PostgresCPUPer1k
		g := Goal{Name: "flowd + PostgreSQL CPU s per 1,000 steps (" + main.Name + ")", Want: fmt.Sprintf("≤ %.2f", goalCPUPer1k),
			Got:  fmt.Sprintf("%.3f (flowd %.3f, PostgreSQL %.3f)", cpu, main.FlowdCPUPer1k, main.PostgresCPUPer1k),
			Pass: cpu <= goalCPUPer1k && r.Machine.PostgresLocal}
		if !r.Machine.PostgresLocal {
			g.Note = "PostgreSQL is not on this machine: its CPU is not measured"
		}
		r.Goals = append(r.Goals, g)
	}
	if light := median(r.Runs, fmt.Sprintf("b/go light@%d", b.o.LightInFlight)); light != nil && light.TriggerToFirstRequest != nil && light.TriggerToFinished != nil {
		first, done := light.TriggerToFirstRequest.P99, light.TriggerToFinished.P99
		r.Goals = append(r.Goals,
			Goal{Name: "trigger → first request p99 (" + light.Name + ")", Want: fmt.Sprintf("≤ %d ms", goalLightFirstMs),
				Got: fmt.Sprintf("%.1f ms", first), Pass: first <= goalLightFirstMs},
			Goal{Name: "trigger → done p99 (" + light.Name + ")", Want: fmt.Sprintf("≤ %d ms", goalLightDoneMs),
				Got: fmt.Sprintf("%.1f ms", done), Pass: done <= goalLightDoneMs})
	}
	if s := r.Soak; s != nil {
		r.Goals = append(r.Goals, soakGoals(s)...)
	}
	if h := r.History; h != nil && h.SQLPerStepEmpty > 0 {
		drift := h.SQLPerStepWith/h.SQLPerStepEmpty - 1
		r.Goals = append(r.Goals, Goal{Name: fmt.Sprintf("SQL statements per step with %d old executions", h.Rows), Want: fmt.Sprintf("within ±%.0f%% of empty", goalHistoryDrift*100),
			Got: fmt.Sprintf("%.2f vs %.2f (%+.1f%%)", h.SQLPerStepWith, h.SQLPerStepEmpty, drift*100), Pass: math.Abs(drift) <= goalHistoryDrift,
			Note: fmt.Sprintf("steps/s %.0f with history vs %.0f empty", h.StepsPerSecWith, h.StepsPerSecEmpty)})
	}
	if ev := median(r.Runs, "e/api"); ev != nil && ev.StartedPerSec > 0 {
		r.Goals = append(r.Goals, Goal{Name: "executions/s started by events fanned out to 10 flows (" + ev.Name + ")", Want: fmt.Sprintf("≥ %d", goalEventStarts),
			Got:  fmt.Sprintf("%.0f (%.0f events/s, trigger→1st request p99 %.0f ms)", ev.StartedPerSec, ev.EventsPerSec, ev.TriggerToFirstRequest.P99),
			Pass: ev.StartedPerSec >= goalEventStarts})
	}
	var peak float64
	var peakRun string
	for _, rr := range r.Runs {
		if rr.PeakRSSMiB > peak {
			peak, peakRun = rr.PeakRSSMiB, rr.Name
		}
	}
	if peakRun != "" {
		r.Goals = append(r.Goals, Goal{Name: "peak RSS of flowd (" + peakRun + ")", Want: fmt.Sprintf("< %d MiB", goalPeakRSSMiB),
			Got: fmt.Sprintf("%.0f MiB", peak), Pass: peak < goalPeakRSSMiB})
	}
	if r.Mode == "short" {
		for i := range r.Goals {
			r.Goals[i].Note = strings.TrimSpace(r.Goals[i].Note + " (short mode: not meaningful)")
		}
	}
}

// median returns the run named name, or of its repeats ("name #k") the
// one with the median steps/s.
func median(runs []*RunResult, name string) *RunResult {
	var list []*RunResult
	for _, rr := range runs {
		if rr.Name == name || strings.HasPrefix(rr.Name, name+" #") {
			list = append(list, rr)
		}
	}
	if len(list) == 0 {
		return nil
	}
	slices.SortStableFunc(list, func(a, b *RunResult) int { return cmp.Compare(a.StepsPerSec, b.StepsPerSec) })
	return list[(len(list)-1)/2]
}

func pct(p *Percentiles) string {
	if p == nil || p.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f/%.0f/%.0f", p.P50, p.P95, p.P99)
}

// pct1 is pct with a decimal: hops are a few milliseconds.
func pct1(p *Percentiles) string {
	if p == nil || p.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f/%.1f/%.1f", p.P50, p.P95, p.P99)
}

// hotPct is the run's share of HOT updates of executions, "-" when it
// updated none.
func hotPct(rr *RunResult) string {
	if rr.ExecutionUpdates == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", rr.HOTUpdatePct)
}

// printReport writes the result as tables.
func printReport(w io.Writer, r *Result) {
	m := r.Machine
	fmt.Fprintf(w, "\nflowbench %s — %d CPUs (%s), %.0f GiB RAM, PostgreSQL %s, %s; load average %.2f %.2f %.2f at start, %.2f %.2f %.2f at end; %.0f s\n",
		r.Mode, m.CPUs, m.CPUModel, m.MemTotalGiB, m.PostgreSQL, m.GoVersion,
		m.LoadAvgAtStart[0], m.LoadAvgAtStart[1], m.LoadAvgAtStart[2], m.LoadAvgAtEnd[0], m.LoadAvgAtEnd[1], m.LoadAvgAtEnd[2], r.Seconds)
	c := r.Config
	rate := "off"
	if c.RateLimit >= 0 {
		rate = fmt.Sprintf("%.0f/s", c.RateLimit)
	}
	tracing := "off"
	if c.Tracing {
		tracing = "on (OTLP/HTTP)"
	}
	fmt.Fprintf(w, "flowd: %d workers, fetch cooldown %s, fetch poll %s, %d commit shards (batch ≤ %d), %d DB conns, API rate limit %s, log level %s, tracing %s\n",
		c.Workers, c.FetchCooldown, c.FetchPollInterval, c.CommitShards, c.CommitBatch, c.DBMaxConns, rate, c.LogLevel, tracing)
	fmt.Fprintf(w, "load: closed loop, %d executions in flight, %d trigger clients, target delay %s; SQL counted by %s\n\n",
		c.InFlight, c.Clients, c.TargetDelay, c.SQLSource)

	table := func(title string, runs []*RunResult) {
		if len(runs) == 0 {
			return
		}
		fmt.Fprintln(w, title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "run\tn\tok\tsteady s\tspread\texec/s\tsteps/s\ttrig→1st req ms\ttrig→done ms\tflowd CPU\tpg CPU\tload CPU\tother\tSQL/step\tHOT\tallocs\tRSS MiB\t")
		fmt.Fprintln(tw, "\t\t\t\t%\t\t\tp50/p95/p99\tp50/p95/p99\ts/1k steps\ts/1k steps\ts/1k steps\tcores\t\t%\t/step\t\t")
		for _, rr := range runs {
			ok := fmt.Sprint(rr.Succeeded)
			if rr.Failed > 0 || len(rr.Errors) > 0 {
				ok += "!"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.1f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%s\t%.0f\t%.0f\t\n",
				rr.Name, rr.Executions, ok, rr.SteadySeconds, rr.SpreadPct, rr.ExecPerSec, rr.StepsPerSec,
				pct(rr.TriggerToFirstRequest), pct(rr.TriggerToFinished),
				rr.FlowdCPUPer1k, rr.PostgresCPUPer1k, rr.LoadCPUPer1k, rr.OtherCores, rr.SQLPerStep, hotPct(rr), rr.AllocsPerStep, rr.PeakRSSMiB)
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	hopTable := func() {
		if !slices.ContainsFunc(r.Runs, func(rr *RunResult) bool { return len(rr.Hops) > 0 }) {
			return
		}
		fmt.Fprintln(w, "trigger → first request by hop, ms p50/p95/p99")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "run\t%s\t\n", strings.Join(hopNames, "\t"))
		for _, rr := range r.Runs {
			if len(rr.Hops) == 0 {
				continue
			}
			fmt.Fprintf(tw, "%s\t", rr.Name)
			for i := range rr.Hops {
				fmt.Fprintf(tw, "%s\t", pct1(&rr.Hops[i].Percentiles))
			}
			fmt.Fprintln(tw)
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	table("baselines (flowd's CPU column is this process: River client, or HTTP client)", r.Baselines)
	table("flowd", r.Runs)
	hopTable()
	table("sweep (fetch cooldown / fetch poll interval / commit shards)", r.Sweep)
	for _, rr := range r.Runs {
		if rr.Events > 0 {
			fmt.Fprintf(w, "events %s: %d events, %.0f events/s, %.0f executions started/s, trigger→1st request ms %s\n",
				rr.Name, rr.Events, rr.EventsPerSec, rr.StartedPerSec, pct(rr.TriggerToFirstRequest))
		}
	}
	if r.Soak != nil {
		printSoak(w, r.Soak)
	}

	if len(r.Baselines) > 0 && len(r.Runs) > 0 {
		// One column per baseline: its median repeat.
		var bases []*RunResult
		for _, name := range []string{"river/bulk", "river/chain", "http"} {
			if bl := median(r.Baselines, name); bl != nil {
				bases = append(bases, bl)
			}
		}
		fmt.Fprintln(w, "flowd steps/s as a ratio of each baseline (of its median repeat)")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "run\t")
		for _, bl := range bases {
			fmt.Fprintf(tw, "÷ %s\t", bl.Name)
		}
		fmt.Fprintln(tw)
		for _, rr := range r.Runs {
			fmt.Fprintf(tw, "%s\t", rr.Name)
			for _, bl := range bases {
				if bl.StepsPerSec > 0 {
					fmt.Fprintf(tw, "%.2f\t", rr.StepsPerSec/bl.StepsPerSec)
				} else {
					fmt.Fprint(tw, "-\t")
				}
			}
			fmt.Fprintln(tw)
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}

	shown := map[string]bool{}
	for _, rr := range append(append(append([]*RunResult{}, r.Runs...), r.Sweep...), r.Baselines...) {
		if (rr.Workload == "b" || strings.HasPrefix(rr.Name, "river/chain")) && !shown[rr.Workload] && len(rr.TopStatements) > 0 {
			shown[rr.Workload] = true
			fmt.Fprintf(w, "most frequent statements in %s (calls per step of %.2f; mean execution ms; execution ms per step)\n", rr.Name, rr.SQLPerStep)
			for _, s := range rr.TopStatements {
				fmt.Fprintf(w, "  %6.3f  %7.3f  %7.4f  %s\n", s.CallsPerStep, s.MeanMS, s.ExecMSPerStep, s.Query)
			}
			fmt.Fprintln(w)
		}
	}

	if len(r.Goals) > 0 {
		fmt.Fprintln(w, "goals")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, g := range r.Goals {
			v := "MISS"
			switch {
			case r.Mode == "short":
				v = "n/a " // too few executions to mean anything
			case g.Pass:
				v = "PASS"
			}
			fmt.Fprintf(tw, "  %s\t%s\twant %s\tgot %s\t%s\n", v, g.Name, g.Want, g.Got, g.Note)
		}
		_ = tw.Flush()
		fmt.Fprintln(w)
	}
	for _, rr := range append(append(append([]*RunResult{}, r.Baselines...), r.Runs...), r.Sweep...) {
		for _, e := range rr.Errors {
			fmt.Fprintf(w, "ERROR in %s: %s\n", rr.Name, e)
		}
	}
	var steal float64
	for _, rr := range append(append([]*RunResult{}, r.Runs...), r.Sweep...) {
		steal = max(steal, rr.StealCores)
	}
	if steal >= 0.05 {
		fmt.Fprintf(w, "note: the hypervisor stole up to %.2f cores during a run (steal_cores in the JSON)\n", steal)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
