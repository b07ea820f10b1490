package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowd/flowd/store"
)

// cluster is a throwaway PostgreSQL cluster of one test, which the test may
// stop and restart without disturbing the shared server other packages'
// tests use. As root, it belongs to and runs as the postgres user (like
// scripts/pg.sh does).
type cluster struct {
	bindir string
	dir    string // owned by the server's user: data/, the socket, server.log
	port   int
	asUser []string // runuser prefix when running as root
}

// pgBinDir finds initdb and pg_ctl: on PATH, else the newest
// /usr/lib/postgresql/*/bin.
func pgBinDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

// startCluster creates and starts a cluster on a free port of 127.0.0.1;
// it is destroyed at the test's cleanup.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{bindir: pgBinDir()}
	if c.bindir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL server binaries (initdb, pg_ctl) not found")
		}
		t.Skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
	}
	dir, err := os.MkdirTemp("", "flowd-e2e-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user to run the cluster: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	c.run(t, "initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	c.port = freePort(t)
	c.run(t, "pg_ctl", "-D", c.data(), "-l", filepath.Join(dir, "server.log"), "-o", c.options(), "-w", "-t", "60", "start")
	t.Cleanup(func() {
		cmd := c.command("pg_ctl", "-D", c.data(), "-m", "immediate", "stop")
		_ = cmd.Run()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Logf("--- PostgreSQL log:\n%s", tail(string(b), 40))
		}
	})
	return c
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *cluster) options() string {
	return fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off -c max_connections=100", c.port, c.dir)
}

func (c *cluster) command(name string, args ...string) *exec.Cmd {
	argv := append(append([]string{}, c.asUser...), filepath.Join(c.bindir, name))
	argv = append(argv, args...)
	return exec.Command(argv[0], argv[1:]...)
}

func (c *cluster) run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := c.command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// restart restarts the server, disconnecting every client (-m fast).
func (c *cluster) restart(t *testing.T) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-o", c.options(), "-m", "fast", "-w", "-t", "60", "restart")
}

// createDatabase creates a migrated database and returns its URL.
func (c *cluster) createDatabase(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := store.Migrate(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	return url
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
