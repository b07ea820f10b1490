package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/flowd/flowd/metrics"
	"github.com/flowd/flowd/netguard"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
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
// shuts down in order: stop accepting and drain HTTP, soft-stop River
// (in-flight steps get ShutdownGrace to finish, then are cancelled and
// re-queued), stop the group committer, close the pool.
func runProcess(ctx context.Context, name string, args []string, stderr io.Writer, withAPI bool) error {
	cfg, err := parseConfig(name, args, stderr, withAPI)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	log.Info("flowd starting", append([]any{"command", name}, cfg.logAttrs()...)...)

	pool, err := newPool(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.Migrate(ctx, pool, log); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	st := store.New(pool)
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
	})
	sched, err := scheduler.New(pool, st, &scheduler.Config{
		Worker:            worker,
		Workers:           cfg.Workers,
		FetchCooldown:     cfg.FetchCooldown,
		FetchPollInterval: cfg.FetchPollInterval,
		ID:                id,
		HeartbeatInterval: cfg.HeartbeatInterval,
		RescueAfter:       cfg.RescueAfter,
		Logger:            log,
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
			Wrap:         obs.Instrument,
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
	log.Info("flowd ready", "command", name, "client_id", id)
	<-ctx.Done()
	return shutdown(log, cfg, srv, msrv, sched)
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

func shutdown(log *slog.Logger, cfg *Config, srv *api.Server, msrv *metrics.Server, sched *scheduler.Scheduler) error {
	log.Info("shutting down: stop accepting requests")
	if srv != nil {
		hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := srv.Stop(hctx); err != nil {
			log.Warn("draining HTTP requests", "error", err)
		}
		cancel()
	}
	log.Info("shutting down: stop fetching jobs, wait for in-flight steps", "grace", cfg.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := sched.Stop(sctx); err != nil {
		log.Warn("stopping workers", "error", err)
	}
	if msrv != nil {
		// Last, so the drain shows in the metrics.
		_ = msrv.Stop(sctx)
	}
	log.Info("shutdown complete")
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	dbURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "PostgreSQL connection string (DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return fmt.Errorf("DATABASE_URL is not set (or pass --database-url)")
	}
	pool, err := newPool(ctx, *dbURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	log := newLogger(stderr, "text", "info")
	if err := store.Migrate(ctx, pool, log); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}
