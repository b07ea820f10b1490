package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/auth"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/gctune"
	"github.com/flowd/flowd/metrics"
	"github.com/flowd/flowd/netguard"
	"github.com/flowd/flowd/retention"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
	"github.com/flowd/flowd/telemetry"
	"github.com/flowd/flowd/web"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runProcess(ctx, "serve", args, stderr, true)
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runProcess(ctx, "worker", args, stderr, false)
}

func newPool(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		pcfg.MaxConns = int32(maxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return pool, nil
}

// clientID names this process for River and the execution records.
func clientID(kind string) string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s-%d-%s", kind, host, os.Getpid(), hex.EncodeToString(b))
}

// runProcess runs serve (withAPI) or worker until ctx is cancelled, then
// shuts down in the order shutdown documents.
func runProcess(ctx context.Context, name string, args []string, stderr io.Writer, withAPI bool) error {
	cfg, err := parseConfig(name, args, stderr, withAPI)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	gogc, gogcSource := gctune.Apply()
	log.Info("flowd starting", append([]any{"command", name, "gogc", gogc, "gogc_source", gogcSource}, cfg.logAttrs()...)...)
	keys, keySource, err := loadKeys()
	if err != nil {
		return err
	}

	pool, err := newPool(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	startupErr := true // shutdown closes the pool in its turn
	defer func() {
		if startupErr {
			pool.Close()
		}
	}()
	if err := store.Migrate(ctx, pool, log); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Traces: on when an OTEL_EXPORTER_OTLP_*ENDPOINT variable is set
	// (README "Tracing"); off, every span is the no-op one.
	tr, err := telemetry.FromEnv(ctx)
	if err != nil {
		return err
	}
	defer shutdownTracing(log, tr)
	log.Info("tracing", "on", tr.On())
	st := store.New(pool, keys)
	if err := prepareSecrets(ctx, st, keys, keySource, log); err != nil {
		return err
	}
	guard := netguard.New(netguard.Config{Allow: cfg.AllowNetworks})
	id := clientID(name)
	obs := metrics.New()
	worker := engine.NewWorker(st, &engine.WorkerConfig{
		HTTPClient:            guard.Client(),
		MaxConcurrentRequests: cfg.MaxConcurrentRequests,
		MaxResponseBytes:      cfg.MaxResponseBytes,
		WorkerID:              id,
		Logger:                log,
		Observer:              obs,
		Tracer:                tr.Tracer(),
	})
	sched, err := scheduler.New(pool, st, &scheduler.Config{
		Worker:            worker,
		Workers:           cfg.Workers,
		FetchCooldown:     cfg.FetchCooldown,
		FetchPollInterval: cfg.FetchPollInterval,
		ID:                id,
		HeartbeatInterval: cfg.HeartbeatInterval,
		RescueAfter:       cfg.RescueAfter,
		SoftStopTimeout:   cfg.ShutdownGrace,
		JobRetention:      cfg.Retention,
		Logger:            log,
		Middleware:        tr.RiverMiddleware(),
		Tracer:            tr.Tracer(),
		Events:            obs,
	})
	if err != nil {
		return err
	}
	if err := sched.Start(ctx); err != nil {
		return fmt.Errorf("start scheduler: %w", err)
	}
	var srv *api.Server
	var msrv *metrics.Server
	if withAPI {
		authn := auth.New(st) // one token check and cache for the API and the pages
		mounts, err := operatorMounts(ctx, cfg, st, authn, sched, obs, log)
		if err != nil {
			return err
		}
		srv = api.New(st, sched, &api.Config{
			Addr:         cfg.Addr,
			MaxBodyBytes: cfg.MaxBodyBytes,
			RateLimit:    cfg.RateLimit,
			Logger:       log,
			Auth:         authn,
			Mounts:       mounts,
			Wrap:         func(h http.Handler) http.Handler { return tr.Handler(obs.Instrument(h)) },
		})
		if err := srv.Start(ctx); err != nil {
			return err
		}
	} else if cfg.MetricsAddr != "" {
		msrv = metrics.NewServer(cfg.MetricsAddr, obs.Handler(cfg.MetricsToken), log)
		if err := msrv.Start(ctx); err != nil {
			return err
		}
	}
	pruner := retention.New(st, &retention.Config{
		Retention: cfg.Retention, Interval: cfg.PruneInterval, Observer: obs, Logger: log,
	})
	pruner.Start(ctx)
	log.Info("flowd ready", "command", name, "client_id", id)
	<-ctx.Done()
	startupErr = false
	pruner.Stop() // a cycle in flight rolls back its batch; the next process resumes
	return shutdown(log, srv, msrv, sched, pool)
}

// operatorMounts returns the operators' handlers served next to the API:
// /metrics, the execution view at /ui/, and River's UI at /riverui/ when
// an operator token is set.
func operatorMounts(ctx context.Context, cfg *Config, st *store.Store, authn *auth.Authenticator, sched *scheduler.Scheduler, obs *metrics.Metrics, log *slog.Logger) (map[string]http.Handler, error) {
	mounts := map[string]http.Handler{
		"GET /metrics": obs.Handler(cfg.MetricsToken),
		web.Prefix:     web.New(st, &web.Config{Auth: authn, Logger: log}),
	}
	if cfg.OperatorToken == "" {
		log.Info("river UI off: set FLOWD_OPERATOR_TOKEN to serve it at /riverui/")
		return mounts, nil
	}
	ui, err := web.NewRiverUI(sched.Client(), cfg.OperatorToken, log)
	if err != nil {
		return nil, err
	}
	if err := ui.Start(ctx); err != nil {
		return nil, err
	}
	mounts[web.RiverUIPrefix+"/"] = ui
	return mounts, nil
}

// Bounds of the shutdown steps that the grace period does not cover.
const (
	// httpDrainTimeout bounds the wait for API requests in flight.
	httpDrainTimeout = 10 * time.Second
	// poolCloseTimeout bounds the wait for the pool's connections.
	poolCloseTimeout = 5 * time.Second
)

// shutdown stops the process after SIGTERM or SIGINT. The steps run in
// this order, each logged as "shutdown: <step>" when it begins, and each
// begins when the one before has ended (or run out of time):
//
//  1. stop accepting: the API's listener is closed (new connections are
//     refused, open ones close after their request) and the schedule loop
//     stops; no new work arrives.
//  2. drain HTTP: the API requests in flight finish (httpDrainTimeout).
//  3. stop River: no job is fetched; running executions launch no new step
//     and get FLOWD_SHUTDOWN_GRACE (River's SoftStopTimeout) to finish the
//     steps in flight and hand back; then River cancels what still runs
//     (hard stop) and those executions record their interrupted attempts.
//  4. wait for runs: every engine.Worker.Work has returned.
//  5. close the committer: the last checkpoints are written; nothing is
//     submitted after this (a late submit gets an error, never a panic).
//     Then the heartbeat stops and marks this process stopped.
//  6. close the pool.
//
// Steps 3 to 5 are scheduler.Scheduler.Stop, bounded together by
// Scheduler.StopTimeout (the grace plus scheduler.HardStopWait). A worker
// process's metrics listener stops after step 5, so the drain shows in
// its metrics. The process then exits 0.
func shutdown(log *slog.Logger, srv *api.Server, msrv *metrics.Server, sched *scheduler.Scheduler, pool *pgxpool.Pool) error {
	log.Info("shutdown: stop accepting")
	if srv != nil {
		srv.StopAccepting()
	}
	sched.StopSchedules()

	log.Info("shutdown: drain HTTP", "timeout", httpDrainTimeout.String())
	if srv != nil {
		hctx, cancel := context.WithTimeout(context.Background(), httpDrainTimeout)
		if err := srv.Stop(hctx); err != nil {
			log.Warn("draining HTTP requests", "error", err)
		}
		cancel()
	}

	sctx, cancel := context.WithTimeout(context.Background(), sched.StopTimeout())
	defer cancel()
	if err := sched.Stop(sctx); err != nil { // steps 3 to 5, logged by Stop
		log.Warn("stopping workers", "error", err)
	}
	if msrv != nil {
		mctx, cancel := context.WithTimeout(context.Background(), httpDrainTimeout)
		_ = msrv.Stop(mctx)
		cancel()
	}

	log.Info("shutdown: close pool")
	closed := make(chan struct{})
	go func() {
		pool.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(poolCloseTimeout):
		log.Warn("database connections still in use; exiting without them", "timeout", poolCloseTimeout.String())
	}
	log.Info("shutdown complete")
	return nil
}

// shutdownTracing exports the spans still buffered, after the shutdown
// (whose spans are among them).
func shutdownTracing(log *slog.Logger, tr *telemetry.Tracing) {
	ctx, cancel := context.WithTimeout(context.Background(), poolCloseTimeout)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		log.Warn("exporting the last spans", "error", err)
	}
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	dbURL := databaseURLFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(stderr, "text", LogLevelDefault)
	pool, err := migratedPool(ctx, *dbURL, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	// With a key, migrate also encrypts what an older flowd stored in
	// clear; without one, serve and worker do it when they start.
	if keys, source, err := loadKeys(); err == nil {
		if err := prepareSecrets(ctx, store.New(pool, keys), keys, source, log); err != nil {
			return err
		}
	} else if !errors.Is(err, errNoKeys) {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// databaseURLFlag declares --database-url, DATABASE_URL by default, for
// the commands that only need the database (migrate, token create).
func databaseURLFlag(fs *flag.FlagSet) *string {
	return fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL connection string (DATABASE_URL)")
}

// migratedPool connects a small pool to the database at url and applies
// River's and flowd's migrations.
func migratedPool(ctx context.Context, url string, log *slog.Logger) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, fmt.Errorf("DATABASE_URL is not set (or pass --database-url)")
	}
	pool, err := newPool(ctx, url, 2)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx, pool, log); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return pool, nil
}
