package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/gctune"
	"github.com/flowd/flowd/keyring"
	"github.com/flowd/flowd/netguard"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
	"github.com/flowd/flowd/telemetry"
)

// stackConfig is what `flowd serve` lets an operator set that matters here.
type stackConfig struct {
	Workers           int
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	CommitShards      int
	CommitBatch       int
	DBMaxConns        int
	RateLimit         float64
	// JobRetention caps River's retention of finished jobs (the soak's
	// short retention; 0: River's defaults).
	JobRetention time.Duration
	Logger       *slog.Logger
	// Tracing is the benchmark process's (OTEL_* variables, as flowd
	// serve reads them); nil is off.
	Tracing *telemetry.Tracing
}

// flowdStack is one flowd running in this process, wired as
// cmd/flowd/serve.go wires it.
type flowdStack struct {
	pool    *pgxpool.Pool
	store   *store.Store
	sched   *scheduler.Scheduler
	api     *api.Server
	url     string
	queries *queryCounter
}

// queryCounter counts the statements a pool sends (pgx tracer): every
// Query, QueryRow and Exec (BEGIN and COMMIT included), every statement of
// a batch, and every COPY.
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *queryCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (c *queryCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.n.Add(1)
}
func (c *queryCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
func (c *queryCounter) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *queryCounter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

// newCountedPool opens a pool like cmd/flowd's newPool, with a statement
// counter.
func newCountedPool(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, *queryCounter, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("parse database URL: %w", err)
	}
	if maxConns > 0 {
		pcfg.MaxConns = int32(maxConns)
	}
	qc := &queryCounter{}
	pcfg.ConnConfig.Tracer = qc
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return pool, qc, nil
}

// loopback is the network the SSRF guard opens for the local target.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// benchKeys seals the secrets of the bench's own database: one key made
// for the run, shared by every stack the run starts on it.
var benchKeys = sync.OnceValues(func() (*keyring.Ring, error) { return keyring.Parse(keyring.Generate()) })

// startFlowd starts store, worker, scheduler and API server on dbURL.
func startFlowd(ctx context.Context, dbURL string, cfg stackConfig) (*flowdStack, error) {
	gctune.Apply() // as flowd serve does: the stack runs in this process
	pool, qc, err := newCountedPool(ctx, dbURL, cfg.DBMaxConns)
	if err != nil {
		return nil, err
	}
	keys, err := benchKeys()
	if err != nil {
		pool.Close()
		return nil, err
	}
	st := store.New(pool, keys)
	guard := netguard.New(netguard.Config{Allow: loopback})
	id := fmt.Sprintf("flowbench-%d", time.Now().UnixNano())
	worker := engine.NewWorker(st, &engine.WorkerConfig{
		HTTPClient:     guard.Client(),
		CommitShards:   cfg.CommitShards,
		MaxCommitBatch: cfg.CommitBatch,
		WorkerID:       id,
		Logger:         cfg.Logger,
		Tracer:         cfg.Tracing.Tracer(),
	})
	sched, err := scheduler.New(pool, st, &scheduler.Config{
		Worker:            worker,
		Workers:           cfg.Workers,
		FetchCooldown:     cfg.FetchCooldown,
		FetchPollInterval: cfg.FetchPollInterval,
		ID:                id,
		JobRetention:      cfg.JobRetention,
		Logger:            cfg.Logger,
		Middleware:        cfg.Tracing.RiverMiddleware(),
		Tracer:            cfg.Tracing.Tracer(),
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := sched.Start(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("start scheduler: %w", err)
	}
	fs := &flowdStack{pool: pool, store: st, sched: sched, queries: qc}
	addr, err := freeLoopbackAddr()
	if err != nil {
		fs.stop()
		return nil, err
	}
	fs.api = api.New(st, sched, &api.Config{Addr: addr, RateLimit: cfg.RateLimit, Logger: cfg.Logger, Wrap: cfg.Tracing.Handler})
	if err := fs.api.Start(ctx); err != nil {
		fs.api = nil
		fs.stop()
		return nil, fmt.Errorf("start API: %w", err)
	}
	fs.url = "http://" + addr
	return fs, nil
}

// freeLoopbackAddr returns a loopback address with a port free right now
// (api.Server listens on a configured address and does not report a
// chosen port).
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr, nil
}

// stop shuts down in serve's order: API, workers, pool.
func (s *flowdStack) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second+s.sched.StopTimeout())
	defer cancel()
	if s.api != nil {
		_ = s.api.Stop(ctx)
	}
	_ = s.sched.Stop(ctx)
	s.pool.Close()
}
