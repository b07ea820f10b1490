// Package testdb gives each test package its own freshly migrated PostgreSQL
// database on the server named by DATABASE_URL (which `make test` sets, to
// the private cluster when nothing else is given). It is for tests only.
package testdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/store"
)

var (
	once    sync.Once
	pool    *pgxpool.Pool
	dbURL   string
	dbName  string
	initErr error
)

// URL returns the connection string of the package's test database, creating
// and migrating it on first use.
func URL(tb testing.TB) string {
	tb.Helper()
	Pool(tb)
	return dbURL
}

// Pool returns a pool on the package's test database, creating and
// migrating it on first use. The database is dropped by Main.
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	once.Do(func() { initErr = create() })
	if initErr != nil {
		tb.Fatalf("test database: %v", initErr)
	}
	return pool
}

// AdminURL is the server's connection string from DATABASE_URL.
func AdminURL() (string, error) {
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		return "", fmt.Errorf("DATABASE_URL is not set; run the tests with `make test`, which starts a private PostgreSQL when needed")
	}
	return u, nil
}

func create() error {
	admin, err := AdminURL()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	wd, _ := os.Getwd()
	pkg := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(filepath.Base(wd)), "_")
	dbName = fmt.Sprintf("flowd_test_%s_%d_%04d", pkg, os.Getpid(), rand.IntN(10000))
	if dbURL, err = createDatabase(ctx, admin, dbName); err != nil {
		return err
	}
	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("parse %s: %w", redactURL(dbURL), err)
	}
	pcfg.MaxConns = 20
	pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	return err
}

// createDatabase creates the database name on the server of admin,
// migrates it, and returns its connection string.
func createDatabase(ctx context.Context, admin, name string) (string, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", redactURL(admin), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	url := store.ConnStringWithDatabase(admin, name)
	p, err := pgxpool.New(ctx, url)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", name, err)
	}
	defer p.Close()
	if err := store.Migrate(ctx, p, nil); err != nil {
		return "", fmt.Errorf("migrate %s: %w", name, err)
	}
	return url, nil
}

// dropDatabase drops the database name on the server of admin, whoever
// is still connected to it.
func dropDatabase(admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, admin); err == nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		conn.Close(ctx)
	}
}

func redactURL(s string) string {
	return regexp.MustCompile(`:[^:@/]+@`).ReplaceAllString(s, ":***@")
}

// NewDatabase creates another freshly migrated database on the server of
// DATABASE_URL, for a test that needs one of its own (tests that run
// worker processes, whose jobs must not mix with other tests' jobs), and
// returns its connection string. It is dropped at the test's cleanup.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin, err := AdminURL()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	name := fmt.Sprintf("flowd_test_x_%d_%06d", os.Getpid(), rand.IntN(1000000))
	tb.Cleanup(func() { dropDatabase(admin, name) })
	url, err := createDatabase(ctx, admin, name)
	if err != nil {
		tb.Fatal(err)
	}
	return url
}

// NewPool creates another freshly migrated database (NewDatabase) and
// returns a pool on it, closed at the test's cleanup: for a test whose
// rows must be the only ones (a plan read after ANALYZE, a walk over
// every company's rows).
func NewPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	p, err := pgxpool.New(context.Background(), NewDatabase(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// Main runs the package's tests, then the cleanups, and then drops its test
// database. Use it from TestMain:
// `func TestMain(m *testing.M) { testdb.Main(m) }`.
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, f := range cleanups {
		f()
	}
	if pool != nil {
		pool.Close()
	}
	if admin, err := AdminURL(); err == nil && dbName != "" {
		dropDatabase(admin, dbName)
	}
	os.Exit(code)
}
