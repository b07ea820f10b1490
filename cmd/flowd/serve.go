package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/netguard"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/store"
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
	worker := engine.NewWorker(st, &engine.WorkerConfig{
		HTTPClient:            guard.Client(),
		MaxConcurrentRequests: cfg.MaxConcurrentRequests,
		MaxResponseBytes:      cfg.MaxResponseBytes,
		WorkerID:              id,
		Logger:                log,
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
	if withAPI {
		srv = api.New(st, sched, &api.Config{
			Addr:         cfg.Addr,
			MaxBodyBytes: cfg.MaxBodyBytes,
			RateLimit:    cfg.RateLimit,
			Logger:       log,
		})
		if err := srv.Start(ctx); err != nil {
			return err
		}
	}
	log.Info("flowd ready", "command", name, "client_id", id)
	<-ctx.Done()
	return shutdown(log, cfg, srv, sched)
}

func shutdown(log *slog.Logger, cfg *Config, srv *api.Server, sched *scheduler.Scheduler) error {
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
