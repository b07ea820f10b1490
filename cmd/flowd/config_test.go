package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/redact"
	"github.com/flowd/flowd/retention"
	"github.com/flowd/flowd/scheduler"
)

func TestRedactDatabaseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://flowd:s3cret@db:5432/flowd?sslmode=disable", "postgres://flowd:***@db:5432/flowd?sslmode=disable"},
		{"postgresql://flowd:p%40ss@db/flowd", "postgresql://flowd:***@db/flowd"},
		{"postgres://flowd@db/flowd?password=s3cret&sslmode=require", "postgres://flowd@db/flowd?password=***&sslmode=require"},
		{"postgres://db/flowd?sslpassword=s3cret", "postgres://db/flowd?sslpassword=***"},
		{"host=db user=flowd password=s3cret dbname=flowd", "host=db user=flowd password=*** dbname=flowd"},
		{"host=db password = 's3 cret' dbname=flowd", "host=db password = *** dbname=flowd"},
		{"host=db user=flowd", "host=db user=flowd"},
		{"", ""},
	} {
		tc.want = strings.ReplaceAll(tc.want, "***", redact.Mask)
		if got := redactDatabaseURL(tc.in); got != tc.want {
			t.Errorf("redactDatabaseURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLogAttrsHideSecrets(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://flowd:s3cret@db:5432/flowd?sslmode=disable",
		"postgres://flowd@db/flowd?password=s3cret",
		"host=db password=s3cret",
	} {
		c := &Config{DatabaseURL: dsn, Addr: "127.0.0.1:8080", LogFormat: "json", LogLevel: "info"}
		var out bytes.Buffer
		newLogger(&out, "json", "info").Info("flowd starting", c.logAttrs()...)
		if strings.Contains(out.String(), "s3cret") {
			t.Errorf("the start-up line shows the password of %q: %s", dsn, out.String())
		}
		if !strings.Contains(out.String(), `"database_url":`) {
			t.Errorf("the start-up line lacks database_url: %s", out.String())
		}
	}
}

// The tests below set environment variables, so they cannot run in
// parallel with anything.

func TestConfigPrecedence(t *testing.T) {
	setEnv(t, "DATABASE_URL", "postgres://flowd:s3cret@db/flowd", "FLOWD_WORKERS", "7", "FLOWD_SHUTDOWN_GRACE", "1m")
	c := mustParse(t, "serve")
	type view struct {
		Workers, DBMaxConns int
		Grace               time.Duration
		Addr                string
	}
	if diff := cmp.Diff(view{7, 40, time.Minute, "127.0.0.1:8080"}, view{c.Workers, c.DBMaxConns, c.ShutdownGrace, c.Addr}); diff != "" {
		t.Errorf("env over default (-want +got):\n%s", diff)
	}
	if c = mustParse(t, "serve", "--workers", "9"); c.Workers != 9 {
		t.Errorf("flag over env: workers %d, want 9", c.Workers)
	}

	t.Setenv("FLOWD_WORKERS", "many")
	if _, err := parseConfig("serve", nil, io.Discard, true); err == nil || !strings.Contains(err.Error(), "FLOWD_WORKERS") {
		t.Errorf("a bad FLOWD_WORKERS: error %v, want one naming the variable", err)
	}
}

// setEnv sets environment variables for the test: name, value, name, ...
func setEnv(t *testing.T, kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

// mustParse reads the configuration of `flowd serve` or `flowd worker`
// from args and the environment.
func mustParse(t *testing.T, cmd string, args ...string) *Config {
	t.Helper()
	c, err := parseConfig(cmd, args, io.Discard, cmd == "serve")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every flag's default is the constant of the package that takes the
// setting (the value its Config's zero means), so the two cannot drift.
func TestConfigDefaultsAreThePackages(t *testing.T) {
	for _, cmd := range []string{"serve", "worker"} {
		_, _, e := configFlags(cmd, cmd == "serve")
		for _, env := range e.envs {
			t.Setenv(env, "") // empty counts as unset
		}
	}
	setEnv(t, "DATABASE_URL", "postgres://db/flowd", "FLOWD_OPERATOR_TOKEN", "", "FLOWD_METRICS_TOKEN", "")
	c := mustParse(t, "serve")
	want := &Config{
		DatabaseURL:           "postgres://db/flowd",
		Addr:                  api.AddrDefault,
		AllowNetworks:         c.AllowNetworks, // none: checked below
		Workers:               scheduler.WorkersDefault,
		MaxConcurrentRequests: engine.MaxConcurrentRequestsDefault,
		MaxResponseBytes:      engine.MaxResponseBytesDefault,
		MaxBodyBytes:          api.MaxBodyBytesDefault,
		DBMaxConns:            DBMaxConnsDefault,
		FetchCooldown:         scheduler.FetchCooldownDefault,
		FetchPollInterval:     scheduler.FetchPollIntervalDefault,
		ShutdownGrace:         scheduler.SoftStopTimeoutDefault,
		LogFormat:             LogFormatDefault,
		LogLevel:              LogLevelDefault,
		RateLimit:             api.RateLimitDefault,
		HeartbeatInterval:     scheduler.HeartbeatIntervalDefault,
		RescueAfter:           scheduler.RescueAfterDefault,
		Retention:             retention.RetentionDefault,
		PruneInterval:         retention.PruneIntervalDefault,
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("serve defaults (-want +got):\n%s", diff)
	}
	if len(c.AllowNetworks) != 0 {
		t.Errorf("allow-networks default %v, want none", c.AllowNetworks)
	}
}

func TestServeHelpListsEverySetting(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://flowd:s3cret@db/flowd")
	t.Setenv("FLOWD_WORKERS", "7")
	for _, cmd := range []string{"serve", "worker"} {
		var out bytes.Buffer
		if code := run(context.Background(), []string{cmd, "--help"}, &out, &out); code != 0 {
			t.Fatalf("flowd %s --help: exit %d", cmd, code)
		}
		help := out.String()
		if strings.Contains(help, "s3cret") || strings.Contains(help, "default 7)") {
			t.Errorf("flowd %s --help shows environment values:\n%s", cmd, help)
		}
		if !strings.Contains(help, configPrecedence) {
			t.Errorf("flowd %s --help lacks the precedence header", cmd)
		}
		rows := helpRows(t, help)
		_, _, e := configFlags(cmd, cmd == "serve")
		e.fs.VisitAll(func(f *flag.Flag) {
			if rows[f.Name].env == "" {
				t.Errorf("flowd %s --help: --%s has no environment variable", cmd, f.Name)
			}
		})
		if len(rows) != countFlags(e) {
			t.Errorf("flowd %s --help lists %d flags, the command has %d", cmd, len(rows), countFlags(e))
		}
	}
}

func countFlags(e *envFlags) int {
	n := 0
	e.fs.VisitAll(func(*flag.Flag) { n++ })
	return n
}

// helpRow is one flag as `--help` prints it.
type helpRow struct {
	name, kind, usage, env, def string
}

var (
	helpFlagRE  = regexp.MustCompile(`^  --([a-z-]+)(?: (\S+))?$`)
	helpExtraRE = regexp.MustCompile(`^        \((.*)\)$`)
)

// helpRows parses the flag list of a --help output.
func helpRows(t *testing.T, help string) map[string]*helpRow {
	t.Helper()
	rows := map[string]*helpRow{}
	var cur *helpRow
	for _, line := range strings.Split(help, "\n") {
		if m := helpFlagRE.FindStringSubmatch(line); m != nil {
			cur = &helpRow{name: m[1], kind: m[2]}
			rows[cur.name] = cur
			continue
		}
		if cur == nil || !strings.HasPrefix(line, "        ") {
			cur = nil
			continue
		}
		if m := helpExtraRE.FindStringSubmatch(line); m != nil {
			for _, part := range strings.Split(m[1], ", ") {
				switch {
				case strings.HasPrefix(part, "env "):
					cur.env = strings.TrimPrefix(part, "env ")
				case strings.HasPrefix(part, "default "):
					cur.def = strings.TrimPrefix(part, "default ")
				case part == "required":
					cur.def = "(required)"
				}
			}
			continue
		}
		cur.usage = strings.TrimSpace(line)
	}
	return rows
}

// TestConfigDocTable checks that the configuration table of
// README.md is the one generated from `flowd serve
// --help` and `flowd worker --help`; -update rewrites it.
func TestConfigDocTable(t *testing.T) {
	t.Parallel()
	help := func(cmd string) map[string]*helpRow {
		var out bytes.Buffer
		if code := run(context.Background(), []string{cmd, "--help"}, &out, &out); code != 0 {
			t.Fatalf("flowd %s --help: exit %d", cmd, code)
		}
		return helpRows(t, out.String())
	}
	serve, worker := help("serve"), help("worker")
	var b strings.Builder
	b.WriteString("| flag | environment variable | default | commands | what |\n| --- | --- | --- | --- | --- |\n")
	_, _, e := configFlags("serve", true)
	e.fs.VisitAll(func(f *flag.Flag) {
		r := serve[f.Name]
		cmds := "serve, worker"
		if worker[f.Name] == nil {
			cmds = "serve"
		}
		def := r.def
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s | %s |\n", r.name, r.env, def, cmds, strings.ReplaceAll(r.usage, "|", "\\|"))
	})
	table := b.String()

	const path = "../../README.md"
	const begin, end = "<!-- config-table:begin (generated by TestConfigDocTable; go test ./cmd/flowd -run TestConfigDocTable -update) -->\n", "<!-- config-table:end -->"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q and %q", path, begin, end)
	}
	got := string(doc[i+len(begin) : j])
	if *update && got != table {
		out := string(doc[:i+len(begin)]) + table + string(doc[j:])
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(table, got); diff != "" {
		t.Errorf("%s configuration table is stale; run with -update (-want +got):\n%s", path, diff)
	}
}

// TestOperatorConfig covers the operators' settings: tokens come from the
// environment only, a short operator token is refused, and the metrics
// listener is a worker flag.
func TestOperatorConfig(t *testing.T) {
	setEnv(t, "DATABASE_URL", "postgres://u:pw@localhost/db", "FLOWD_METRICS_TOKEN", "scrape-me",
		"FLOWD_OPERATOR_TOKEN", "op-0123456789abcdef", "FLOWD_METRICS_ADDR", "")
	c := mustParse(t, "serve")
	type ops struct{ MetricsAddr, MetricsToken, OperatorToken string }
	if d := cmp.Diff(ops{"", "scrape-me", "op-0123456789abcdef"}, ops{c.MetricsAddr, c.MetricsToken, c.OperatorToken}); d != "" {
		t.Errorf("serve (-want +got):\n%s", d)
	}
	for _, a := range c.logAttrs() {
		if s, ok := a.(string); ok && (strings.Contains(s, "scrape-me") || strings.Contains(s, "op-0123")) {
			t.Errorf("logAttrs shows a token: %v", c.logAttrs())
		}
	}

	c = mustParse(t, "worker", "--metrics-addr", "127.0.0.1:9090")
	if d := cmp.Diff(ops{"127.0.0.1:9090", "scrape-me", ""}, ops{c.MetricsAddr, c.MetricsToken, c.OperatorToken}); d != "" {
		t.Errorf("worker (-want +got):\n%s", d)
	}
	if _, err := parseConfig("serve", []string{"--metrics-addr", ":9090"}, io.Discard, true); err == nil {
		t.Error("serve accepted --metrics-addr (metrics are on the API listener)")
	}

	t.Setenv("FLOWD_OPERATOR_TOKEN", "short")
	if _, err := parseConfig("serve", nil, io.Discard, true); err == nil || !strings.Contains(err.Error(), "FLOWD_OPERATOR_TOKEN must have at least 16 characters") {
		t.Errorf("short operator token: %v", err)
	}
}
