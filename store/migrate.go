package store

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/flowd/flowd/migrations"
)

// migrationLockID is the advisory lock that serialises concurrent migrators
// (several `flowd serve` processes starting at once).
const migrationLockID = 0x666c6f7764 // "flowd"

type migrationFile struct {
	version int
	name    string
	sql     string
}

func upMigrations() ([]migrationFile, error) {
	entries, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		return nil, err
	}
	var out []migrationFile
	for _, e := range entries {
		num, _, ok := strings.Cut(e, "_")
		if !ok {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.up.sql", e)
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: version: %w", e, err)
		}
		b, err := migrations.FS.ReadFile(e)
		if err != nil {
			return nil, err
		}
		out = append(out, migrationFile{version: v, name: e, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate applies River's migrations and then flowd's own, each at most once.
// Running it again is a no-op. Concurrent callers are serialised with an
// advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID) //nolint:errcheck

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	for _, v := range res.Versions {
		logger.Info("applied river migration", "version", v.Version)
	}

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS flowd_migrations (
		version integer PRIMARY KEY,
		name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create flowd_migrations: %w", err)
	}
	files, err := upMigrations()
	if err != nil {
		return err
	}
	for _, m := range files {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM flowd_migrations WHERE version = $1)`, m.version).Scan(&exists); err != nil {
				return err
			}
			if exists {
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO flowd_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return err
			}
			logger.Info("applied flowd migration", "version", m.version, "name", m.name)
			return nil
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
	}
	return nil
}

// MigrationsPending reports how many of River's and flowd's migrations are
// not yet applied; /readyz answers 503 while it is not zero.
func MigrationsPending(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return 0, fmt.Errorf("river migrator: %w", err)
	}
	pending := 0
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("river versions: %w", err)
	}
	pending += len(migrator.AllVersions()) - len(existing)

	files, err := upMigrations()
	if err != nil {
		return 0, err
	}
	var applied int
	err = pool.QueryRow(ctx, `SELECT count(*) FROM flowd_migrations`).Scan(&applied)
	if err != nil {
		return 0, fmt.Errorf("count flowd migrations: %w", err)
	}
	return pending + len(files) - applied, nil
}
