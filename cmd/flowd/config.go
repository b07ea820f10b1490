package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/netguard"
	"github.com/flowd/flowd/redact"
	"github.com/flowd/flowd/retention"
	"github.com/flowd/flowd/scheduler"
	"github.com/flowd/flowd/web"
)

// Defaults of the settings that belong to the binary itself (the others
// are the *Default constants of the packages that take them).
const (
	// DBMaxConnsDefault is the size of a serve or worker process's pool.
	DBMaxConnsDefault = 40
	// LogFormatDefault and LogLevelDefault are the logger's.
	LogFormatDefault = "json"
	LogLevelDefault  = "info"
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
	// Retention is how long finished executions are kept (0: for ever);
	// PruneInterval is the time between the starts of two prune cycles.
	Retention     time.Duration
	PruneInterval time.Duration
	// MetricsAddr is the metrics-only listener of `flowd worker` ("" off).
	MetricsAddr string
	// MetricsToken, when set, is the Bearer token /metrics requires.
	MetricsToken string
	// OperatorToken enables River's UI at /riverui/ (Basic auth password).
	OperatorToken string
}

// envFlags registers flags that also read an environment variable. The
// flag's default is the built-in one (so --help shows it and never an
// environment value, which may hold a secret); parse applies each set
// variable to the flags the command line left alone, which gives the
// precedence flag > environment variable > default.
type envFlags struct {
	fs   *flag.FlagSet
	envs map[string]string // flag name -> environment variable
	// required names flags that have no default and must be given.
	required map[string]bool
	// helpOut, when set, receives the usage asked for with -h or --help
	// (errors and the usage that goes with them stay on the flag set's
	// output).
	helpOut io.Writer
}

func newEnvFlags(fs *flag.FlagSet) *envFlags {
	return &envFlags{fs: fs, envs: map[string]string{}, required: map[string]bool{}}
}

func (e *envFlags) str(p *string, name, env, def, usage string) {
	e.fs.StringVar(p, name, def, usage)
	e.envs[name] = env
}

func (e *envFlags) int(p *int, name, env string, def int, usage string) {
	e.fs.IntVar(p, name, def, usage)
	e.envs[name] = env
}

func (e *envFlags) int64(p *int64, name, env string, def int64, usage string) {
	e.fs.Int64Var(p, name, def, usage)
	e.envs[name] = env
}

func (e *envFlags) float(p *float64, name, env string, def float64, usage string) {
	e.fs.Float64Var(p, name, def, usage)
	e.envs[name] = env
}

func (e *envFlags) dur(p *time.Duration, name, env string, def time.Duration, usage string) {
	e.fs.DurationVar(p, name, def, usage)
	e.envs[name] = env
}

// parse parses args, flags and positional arguments in any order ("--"
// ends the flags), then sets every flag not given on the command line from
// its environment variable when that is set and not empty. It returns the
// positional arguments. A flag parse error has already been printed with
// the usage: it is returned as errUsage.
func (e *envFlags) parse(args []string) ([]string, error) {
	if e.helpOut != nil {
		for _, a := range args {
			if a == "--" {
				break
			}
			if a == "-h" || a == "-help" || a == "--help" {
				out := e.fs.Output()
				e.fs.SetOutput(e.helpOut)
				e.fs.Usage()
				e.fs.SetOutput(out)
				return nil, flag.ErrHelp
			}
		}
	}
	var positional []string
	for {
		if err := e.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := e.fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	given := map[string]bool{}
	e.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	names := make([]string, 0, len(e.envs))
	for name := range e.envs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		env := e.envs[name]
		v := os.Getenv(env)
		if given[name] || v == "" {
			continue
		}
		if err := e.fs.Set(name, v); err != nil {
			return nil, fmt.Errorf("%s=%q: not %s", env, v, flagKind(e.fs.Lookup(name)))
		}
	}
	return positional, nil
}

// flagKind names what a flag's value must be, for error messages.
func flagKind(f *flag.Flag) string {
	switch f.Value.(flag.Getter).Get().(type) {
	case int, int64:
		return "an integer"
	case float64:
		return "a number"
	case time.Duration:
		return "a duration (like 30s)"
	case bool:
		return "true or false"
	}
	return "valid"
}

// configPrecedence heads the flag list of commands that read environment
// variables.
const configPrecedence = `Every setting is taken from its flag when given, else from its environment
variable when set and not empty, else from the default shown.`

// printFlags writes the flag list of fs: each flag with its value type, its
// description, and its environment variable and default when it has them.
// `flowd serve --help` prints it; README.md's
// configuration table is generated from it.
func (e *envFlags) printFlags(w io.Writer) {
	e.fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintln(w, line)
		fmt.Fprintf(w, "        %s\n", usage)
		var extra []string
		if env := e.envs[f.Name]; env != "" {
			extra = append(extra, "env "+env)
		}
		switch {
		case e.required[f.Name]:
			extra = append(extra, "required")
		case f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false":
			extra = append(extra, "default "+f.DefValue)
		}
		if len(extra) > 0 {
			fmt.Fprintf(w, "        (%s)\n", strings.Join(extra, ", "))
		}
	})
}

// parseConfig reads the serve/worker configuration.
func parseConfig(name string, args []string, stderr io.Writer, withAPI bool) (*Config, error) {
	c, allow, e := configFlags(name, withAPI)
	e.fs.SetOutput(stderr)
	rest, err := e.parse(args)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, usageError(e.fs, "unexpected arguments: %v", rest)
	}
	if c.DatabaseURL == "" {
		return nil, fmt.Errorf("DATABASE_URL is not set (or pass --database-url)")
	}
	prefixes, err := netguard.ParseAllowList(*allow)
	if err != nil {
		return nil, fmt.Errorf("FLOWD_ALLOW_NETWORKS: %w", err)
	}
	c.AllowNetworks = prefixes
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return nil, fmt.Errorf("--log-format must be json or text, not %q", c.LogFormat)
	}
	if c.OperatorToken != "" && len(c.OperatorToken) < web.MinOperatorTokenLen {
		return nil, fmt.Errorf("FLOWD_OPERATOR_TOKEN must have at least %d characters", web.MinOperatorTokenLen)
	}
	if c.Workers < 1 || c.MaxConcurrentRequests < 1 || c.DBMaxConns < 2 {
		return nil, fmt.Errorf("--workers and --max-concurrent-requests must be >= 1 and --db-max-conns >= 2")
	}
	if c.Retention < 0 || c.PruneInterval <= 0 {
		return nil, fmt.Errorf("--retention must be 0 (keep for ever) or more, and --prune-interval more than 0")
	}
	if c.ShutdownGrace <= 0 {
		return nil, fmt.Errorf("--shutdown-grace must be more than 0, not %s", c.ShutdownGrace)
	}
	return c, nil
}

// configFlags declares the flags of `flowd serve` (withAPI) or `flowd
// worker`. allow receives the raw FLOWD_ALLOW_NETWORKS list.
func configFlags(name string, withAPI bool) (c *Config, allow *string, e *envFlags) {
	c, allow = &Config{}, new(string)
	fs := flag.NewFlagSet("flowd "+name, flag.ContinueOnError)
	e = newEnvFlags(fs)
	e.str(&c.DatabaseURL, "database-url", "DATABASE_URL", "", "PostgreSQL connection string")
	e.required["database-url"] = true
	if withAPI {
		e.str(&c.Addr, "addr", "FLOWD_ADDR", api.AddrDefault, "API listen address")
		e.int64(&c.MaxBodyBytes, "max-body-bytes", "FLOWD_MAX_BODY_BYTES", api.MaxBodyBytesDefault, "largest API request body; larger answers 413")
		e.float(&c.RateLimit, "rate-limit", "FLOWD_RATE_LIMIT", api.RateLimitDefault, "API requests per second per company (negative: no limit)")
		// Secrets come from the environment only, never from flags (ps).
		c.OperatorToken = os.Getenv("FLOWD_OPERATOR_TOKEN")
	} else {
		e.str(&c.MetricsAddr, "metrics-addr", "FLOWD_METRICS_ADDR", "", "listen address serving GET /metrics, e.g. 127.0.0.1:9090 (default off)")
	}
	c.MetricsToken = os.Getenv("FLOWD_METRICS_TOKEN")
	e.str(allow, "allow-networks", "FLOWD_ALLOW_NETWORKS", "", "comma-separated CIDRs steps may reach despite the private-network guard, e.g. 127.0.0.0/8")
	e.int(&c.Workers, "workers", "FLOWD_WORKERS", scheduler.WorkersDefault, "executions run at once by this process")
	e.int(&c.MaxConcurrentRequests, "max-concurrent-requests", "FLOWD_MAX_CONCURRENT_REQUESTS", engine.MaxConcurrentRequestsDefault, "outbound HTTP requests in flight in this process")
	e.int64(&c.MaxResponseBytes, "max-response-bytes", "FLOWD_MAX_RESPONSE_BYTES", engine.MaxResponseBytesDefault, "response bytes read per attempt (the rest is discarded)")
	e.int(&c.DBMaxConns, "db-max-conns", "FLOWD_DB_MAX_CONNS", DBMaxConnsDefault, "PostgreSQL connections of this process")
	e.dur(&c.FetchCooldown, "fetch-cooldown", "FLOWD_FETCH_COOLDOWN", scheduler.FetchCooldownDefault, "River FetchCooldown")
	e.dur(&c.FetchPollInterval, "fetch-poll-interval", "FLOWD_FETCH_POLL_INTERVAL", scheduler.FetchPollIntervalDefault, "River FetchPollInterval")
	e.dur(&c.ShutdownGrace, "shutdown-grace", "FLOWD_SHUTDOWN_GRACE", scheduler.SoftStopTimeoutDefault, "on SIGTERM, time in-flight steps get to finish before they are cancelled and re-queued (River's SoftStopTimeout)")
	e.dur(&c.HeartbeatInterval, "heartbeat-interval", "FLOWD_HEARTBEAT_INTERVAL", scheduler.HeartbeatIntervalDefault, "how often this process records that it is alive")
	e.dur(&c.RescueAfter, "rescue-after", "FLOWD_RESCUE_AFTER", scheduler.RescueAfterDefault, "a process silent this long is dead: its running executions are re-queued")
	retentionFlags(e, &c.Retention)
	e.dur(&c.PruneInterval, "prune-interval", "FLOWD_PRUNE_INTERVAL", retention.PruneIntervalDefault, "time between the starts of two prune cycles (one process at a time prunes)")
	e.str(&c.LogFormat, "log-format", "FLOWD_LOG_FORMAT", LogFormatDefault, "log format: json or text")
	e.str(&c.LogLevel, "log-level", "FLOWD_LOG_LEVEL", LogLevelDefault, "log level: debug, info, warn, error")
	what := "the API, the workers and the scheduler"
	if !withAPI {
		what = "the workers and the scheduler only, to scale out (no API)"
	}
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: flowd %s [flags]\n\nRuns %s until SIGINT or SIGTERM,\nafter applying River's and flowd's migrations.\n\n%s\n\nFlags:\n", name, what, configPrecedence)
		e.printFlags(w)
		fmt.Fprintf(w, "\nExit codes: 0 after a clean shutdown, 1 on a start-up error, 2 on a usage error.\n")
	}
	return c, allow, e
}

// retentionFlags declares --retention (FLOWD_RETENTION), shared by serve,
// worker and prune.
func retentionFlags(e *envFlags, p *time.Duration) {
	e.dur(p, "retention", "FLOWD_RETENTION", retention.RetentionDefault, "how long finished executions (and their events, deleted flows, revoked or expired tokens) are kept; 0 keeps everything")
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

// dsnPassword matches the password of a key/value connection string
// ("host=x password=secret" or "password='a b'").
var dsnPassword = regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// redactDatabaseURL hides the passwords of a PostgreSQL connection string,
// either a URL (user information and password/sslpassword parameters) or
// key/value pairs.
func redactDatabaseURL(s string) string {
	if strings.Contains(s, "://") {
		return redact.URL(s, nil)
	}
	return dsnPassword.ReplaceAllString(s, "${1}"+redact.Mask)
}

// logAttrs returns the configuration as log attributes, secrets hidden.
func (c *Config) logAttrs() []any {
	return []any{
		"database_url", redactDatabaseURL(c.DatabaseURL),
		"addr", c.Addr, "allow_networks", fmt.Sprint(c.AllowNetworks), "workers", c.Workers,
		"max_concurrent_requests", c.MaxConcurrentRequests, "max_response_bytes", c.MaxResponseBytes,
		"max_body_bytes", c.MaxBodyBytes, "db_max_conns", c.DBMaxConns,
		"fetch_cooldown", c.FetchCooldown.String(), "fetch_poll_interval", c.FetchPollInterval.String(),
		"shutdown_grace", c.ShutdownGrace.String(), "heartbeat_interval", c.HeartbeatInterval.String(),
		"rescue_after", c.RescueAfter.String(), "retention", c.Retention.String(),
		"prune_interval", c.PruneInterval.String(), "rate_limit", c.RateLimit, "log_format", c.LogFormat, "log_level", c.LogLevel,
		"metrics_addr", c.MetricsAddr, "metrics_protected", c.MetricsToken != "", "river_ui", c.OperatorToken != "",
	}
}
