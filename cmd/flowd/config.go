package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/flowd/flowd/netguard"
	"github.com/flowd/flowd/redact"
	"github.com/flowd/flowd/web"
)

// Config is every setting of `flowd serve` and `flowd worker`, read once
// from flags and environment variables (a flag wins over its variable).
type Config struct {
	DatabaseURL           string
	Addr                  string
	AllowNetworks         []netip.Prefix
	Workers               int
	MaxConcurrentRequests int
	MaxResponseBytes      int64
	MaxBodyBytes          int64
	DBMaxConns            int
	FetchCooldown         time.Duration
	FetchPollInterval     time.Duration
	ShutdownGrace         time.Duration
	LogFormat             string
	LogLevel              string
	RateLimit             float64
	HeartbeatInterval     time.Duration
	RescueAfter           time.Duration
	// MetricsAddr is the metrics-only listener of `flowd worker` ("" off).
	MetricsAddr string
	// MetricsToken, when set, is the Bearer token /metrics requires.
	MetricsToken string
	// OperatorToken enables River's UI at /riverui/ (Basic auth password).
	OperatorToken string
}

type envFlags struct {
	fs  *flag.FlagSet
	err error
}

func (e *envFlags) str(p *string, name, env, def, usage string) {
	e.fs.StringVar(p, name, cmp.Or(os.Getenv(env), def), usage+" ("+env+")")
}

func (e *envFlags) int(p *int, name, env string, def int, usage string) {
	v := def
	if s := os.Getenv(env); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			e.err = fmt.Errorf("%s=%q: not an integer", env, s)
		}
		v = n
	}
	e.fs.IntVar(p, name, v, usage+" ("+env+")")
}

func (e *envFlags) int64(p *int64, name, env string, def int64, usage string) {
	v := def
	if s := os.Getenv(env); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			e.err = fmt.Errorf("%s=%q: not an integer", env, s)
		}
		v = n
	}
	e.fs.Int64Var(p, name, v, usage+" ("+env+")")
}

func (e *envFlags) float(p *float64, name, env string, def float64, usage string) {
	v := def
	if s := os.Getenv(env); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			e.err = fmt.Errorf("%s=%q: not a number", env, s)
		}
		v = n
	}
	e.fs.Float64Var(p, name, v, usage+" ("+env+")")
}

func (e *envFlags) dur(p *time.Duration, name, env string, def time.Duration, usage string) {
	v := def
	if s := os.Getenv(env); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			e.err = fmt.Errorf("%s=%q: not a duration (like 30s)", env, s)
		}
		v = d
	}
	e.fs.DurationVar(p, name, v, usage+" ("+env+")")
}

// parseConfig reads the serve/worker configuration.
func parseConfig(name string, args []string, stderr io.Writer, withAPI bool) (*Config, error) {
	var c Config
	var allow string
	fs := flag.NewFlagSet("flowd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	e := &envFlags{fs: fs}
	e.str(&c.DatabaseURL, "database-url", "DATABASE_URL", "", "PostgreSQL connection string (required)")
	if withAPI {
		e.str(&c.Addr, "addr", "FLOWD_ADDR", "127.0.0.1:8080", "API listen address")
		e.int64(&c.MaxBodyBytes, "max-body-bytes", "FLOWD_MAX_BODY_BYTES", 1<<20, "largest API request body; larger answers 413")
		e.float(&c.RateLimit, "rate-limit", "FLOWD_RATE_LIMIT", 500, "API requests per second per company (negative: no limit)")
		// Secrets come from the environment only, never from flags (ps).
		c.OperatorToken = os.Getenv("FLOWD_OPERATOR_TOKEN")
	} else {
		e.str(&c.MetricsAddr, "metrics-addr", "FLOWD_METRICS_ADDR", "", "listen address serving GET /metrics, e.g. 127.0.0.1:9090 (default off)")
	}
	c.MetricsToken = os.Getenv("FLOWD_METRICS_TOKEN")
	e.str(&allow, "allow-networks", "FLOWD_ALLOW_NETWORKS", "", "comma-separated CIDRs steps may reach despite the private-network guard, e.g. 127.0.0.0/8")
	e.int(&c.Workers, "workers", "FLOWD_WORKERS", 200, "executions run at once by this process")
	e.int(&c.MaxConcurrentRequests, "max-concurrent-requests", "FLOWD_MAX_CONCURRENT_REQUESTS", 256, "outbound HTTP requests in flight in this process")
	e.int64(&c.MaxResponseBytes, "max-response-bytes", "FLOWD_MAX_RESPONSE_BYTES", 1<<20, "response bytes read per attempt (the rest is discarded)")
	e.int(&c.DBMaxConns, "db-max-conns", "FLOWD_DB_MAX_CONNS", 40, "PostgreSQL connections of this process")
	e.dur(&c.FetchCooldown, "fetch-cooldown", "FLOWD_FETCH_COOLDOWN", 10*time.Millisecond, "River FetchCooldown")
	e.dur(&c.FetchPollInterval, "fetch-poll-interval", "FLOWD_FETCH_POLL_INTERVAL", 250*time.Millisecond, "River FetchPollInterval")
	e.dur(&c.ShutdownGrace, "shutdown-grace", "FLOWD_SHUTDOWN_GRACE", 30*time.Second, "on SIGTERM, time in-flight steps get to finish before they are cancelled and re-queued")
	e.dur(&c.HeartbeatInterval, "heartbeat-interval", "FLOWD_HEARTBEAT_INTERVAL", 5*time.Second, "how often this process records that it is alive")
	e.dur(&c.RescueAfter, "rescue-after", "FLOWD_RESCUE_AFTER", 30*time.Second, "a process silent this long is dead: its running executions are re-queued")
	e.str(&c.LogFormat, "log-format", "FLOWD_LOG_FORMAT", "json", "log format: json or text")
	e.str(&c.LogLevel, "log-level", "FLOWD_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if e.err != nil {
		return nil, e.err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.DatabaseURL == "" {
		return nil, fmt.Errorf("DATABASE_URL is not set (or pass --database-url)")
	}
	prefixes, err := netguard.ParseAllowList(allow)
	if err != nil {
		return nil, fmt.Errorf("FLOWD_ALLOW_NETWORKS: %w", err)
	}
	c.AllowNetworks = prefixes
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return nil, fmt.Errorf("--log-format must be json or text, not %q", c.LogFormat)
	}
	if c.OperatorToken != "" && len(c.OperatorToken) < web.MinOperatorTokenLen {
		return nil, fmt.Errorf("FLOWD_OPERATOR_TOKEN must have at least %d characters", web.MinOperatorTokenLen)
	}
	if c.Workers < 1 || c.MaxConcurrentRequests < 1 || c.DBMaxConns < 2 {
		return nil, fmt.Errorf("--workers and --max-concurrent-requests must be >= 1 and --db-max-conns >= 2")
	}
	return &c, nil
}

// newLogger builds the process logger; secrets are masked by attribute name.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: redact.ReplaceAttr}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

var passwordInURL = regexp.MustCompile(`(://[^:/@]+:)[^@]+@|(password=)\S+`)

// logAttrs returns the configuration as log attributes, secrets hidden.
func (c *Config) logAttrs() []any {
	return []any{
		"database_url", passwordInURL.ReplaceAllString(c.DatabaseURL, "${1}${2}***@"),
		"addr", c.Addr, "allow_networks", fmt.Sprint(c.AllowNetworks), "workers", c.Workers,
		"max_concurrent_requests", c.MaxConcurrentRequests, "max_response_bytes", c.MaxResponseBytes,
		"max_body_bytes", c.MaxBodyBytes, "db_max_conns", c.DBMaxConns,
		"fetch_cooldown", c.FetchCooldown.String(), "fetch_poll_interval", c.FetchPollInterval.String(),
		"shutdown_grace", c.ShutdownGrace.String(), "heartbeat_interval", c.HeartbeatInterval.String(),
		"rescue_after", c.RescueAfter.String(), "rate_limit", c.RateLimit, "log_format", c.LogFormat,
		"metrics_addr", c.MetricsAddr, "metrics_protected", c.MetricsToken != "", "river_ui", c.OperatorToken != "",
	}
}
