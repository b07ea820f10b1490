package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/flowd/flowd/netguard"
)

// Queues of the bare River baselines.
const (
	queueNoop  = "flowbench_noop"
	queueChain = "flowbench_chain"
)

// doneTimes records completion times from many goroutines.
type doneTimes struct {
	next  atomic.Int64
	times []time.Time
	all   chan struct{}
	once  sync.Once
}

func newDoneTimes(n int) *doneTimes {
	return &doneTimes{times: make([]time.Time, n), all: make(chan struct{})}
}

func (d *doneTimes) mark() {
	i := d.next.Add(1) - 1
	if i < int64(len(d.times)) {
		d.times[i] = time.Now()
	}
	if i+1 >= int64(len(d.times)) {
		d.once.Do(func() { close(d.all) })
	}
}

func (d *doneTimes) list() []time.Time {
	n := min(int(d.next.Load()), len(d.times))
	return d.times[:n]
}

type noopArgs struct {
	Seq int `json:"seq"`
}

func (noopArgs) Kind() string { return "flowbench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	done *doneTimes
}

func (w *noopWorker) Work(ctx context.Context, job *river.Job[noopArgs]) error {
	w.done.mark()
	return nil
}

type chainArgs struct {
	Chain int `json:"chain"`
	Left  int `json:"left"`
}

func (chainArgs) Kind() string { return "flowbench_chain" }

// chainWorker inserts its successor and completes itself in one
// transaction: River's ceiling for one transaction per step.
type chainWorker struct {
	river.WorkerDefaults[chainArgs]
	pool *pgxpool.Pool
	done *doneTimes
}

func (w *chainWorker) Work(ctx context.Context, job *river.Job[chainArgs]) error {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if job.Args.Left > 0 {
		client := river.ClientFromContext[pgx.Tx](ctx)
		next := chainArgs{Chain: job.Args.Chain, Left: job.Args.Left - 1}
		if _, err := client.InsertTx(ctx, tx, next, &river.InsertOpts{Queue: queueChain}); err != nil {
			return fmt.Errorf("insert successor: %w", err)
		}
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return fmt.Errorf("complete job: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	w.done.mark()
	return nil
}

// riverBaseline measures bare River on the bench database: n no-op jobs
// bulk inserted and then worked (chain false), or n jobs in `workers`
// chains, each job inserting its successor (chain true).
func (b *bench) riverBaseline(ctx context.Context, name string, n int, chain bool) (*RunResult, error) {
	if err := b.h.resetTables(ctx); err != nil {
		return nil, err
	}
	pool, qc, err := newCountedPool(ctx, b.dbURL, b.o.DBMaxConns)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	done := newDoneTimes(n)
	workers := river.NewWorkers()
	queue := queueNoop
	if chain {
		queue = queueChain
		river.AddWorker(workers, &chainWorker{pool: pool, done: done})
	} else {
		river.AddWorker(workers, &noopWorker{done: done})
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:            slog.New(slog.DiscardHandler),
		FetchCooldown:     b.o.FetchCooldown,
		FetchPollInterval: b.o.FetchPollInterval,
		Queues:            map[string]river.QueueConfig{queue: {MaxWorkers: b.o.Workers}},
		Workers:           workers,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	// Insert before measuring: all n jobs (bulk), or the chains' heads.
	var params []river.InsertManyParams
	if chain {
		chains := min(b.o.Workers, n)
		for c := range chains {
			length := n / chains
			if c < n%chains {
				length++
			}
			params = append(params, river.InsertManyParams{Args: chainArgs{Chain: c, Left: length - 1}, InsertOpts: &river.InsertOpts{Queue: queue}})
		}
	} else {
		for i := range n {
			params = append(params, river.InsertManyParams{Args: noopArgs{Seq: i}, InsertOpts: &river.InsertOpts{Queue: queue}})
		}
	}
	for len(params) > 0 {
		k := min(len(params), 5000)
		if _, err := client.InsertManyFast(ctx, params[:k]); err != nil {
			return nil, fmt.Errorf("insert jobs: %w", err)
		}
		params = params[k:]
	}
	_, _ = b.h.pool.Exec(ctx, marker+`ANALYZE river_job`)

	rr := &RunResult{Name: name, Kind: "baseline", Executions: n, StepsPerExecution: 1, Steps: n}
	p, err := b.begin(ctx, name, qc)
	if err != nil {
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("start river: %w", err)
	}
	var runErr error
	select {
	case <-done.all:
	case <-time.After(b.o.Stall + time.Duration(n)*time.Millisecond):
		runErr = fmt.Errorf("%d of %d jobs worked", len(done.list()), n)
	case <-ctx.Done():
		runErr = ctx.Err()
	}
	if runErr == nil {
		runErr = b.waitRiverCompleted(ctx, n)
	}
	b.end(ctx, p, qc, n, rr)
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = client.Stop(sctx)
	if runErr != nil {
		rr.Errors = append(rr.Errors, runErr.Error())
	}
	times := done.list()
	rr.Succeeded = len(times)
	fillRates(rr, times, p.start)
	return rr, nil
}

// waitRiverCompleted waits until River's completer has marked n jobs
// completed (it batches completions asynchronously).
func (b *bench) waitRiverCompleted(ctx context.Context, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var c int
		if err := b.h.pool.QueryRow(ctx, marker+`SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&c); err != nil {
			return err
		}
		if c >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d jobs completed in the database", c, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// httpBaseline sends n requests to the target from one http.Client (the
// SSRF-guarded client flowd uses) with `workers` requests in flight.
func (b *bench) httpBaseline(ctx context.Context, name string, n int) (*RunResult, error) {
	client := netguard.New(netguard.Config{Allow: loopback}).Client()
	// Its idle connections would outlive the baseline with two goroutines
	// each, and count in the next runs' peak RSS.
	defer client.CloseIdleConnections()
	url := b.load.URL() + "/noop"
	body := []byte(`{"event":"ping","id":"flowbench"}`)
	done := newDoneTimes(n)
	rr := &RunResult{Name: name, Kind: "baseline", Executions: n, StepsPerExecution: 1, Steps: n}
	p, err := b.begin(ctx, name, nil)
	if err != nil {
		return nil, err
	}
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range min(b.o.Workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("User-Agent", "flowbench")
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("answer %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				done.mark()
			}
		}()
	}
	wg.Wait()
	b.end(ctx, p, nil, n, rr)
	times := done.list()
	rr.Succeeded, rr.Failed = len(times), int(failed.Load())
	if e, ok := firstErr.Load().(string); ok {
		rr.Errors = append(rr.Errors, e)
	}
	fillRates(rr, times, p.start)
	return rr, nil
}

// fillRates sets a baseline's throughput figures from the completion
// times of its jobs or requests (one step each), the first at or after
// start.
func fillRates(rr *RunResult, times []time.Time, start time.Time) {
	rate, window := steadyRate(times)
	rr.ExecPerSec, rr.StepsPerSec, rr.SteadySeconds = round(rate, 1), round(rate, 1), round(window.Seconds(), 2)
	rr.SliceRates, rr.SpreadPct = steadySlices(times, 2*time.Second)
	if len(times) > 0 {
		rr.WallSeconds = round(latest(times).Sub(start).Seconds(), 2)
	}
}

// latest returns the latest of ts.
func latest(ts []time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}
