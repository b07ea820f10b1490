// Command flowd runs and operates the flowd webhook flow engine.
//
//	flowd serve           API + workers + scheduler
//	flowd worker          workers + scheduler only (scale out)
//	flowd migrate         apply River's and flowd's migrations
//	flowd prune           delete what is past FLOWD_RETENTION (--dry-run)
//	flowd keys ...        generate an encryption key, rotate stored secrets
//	flowd token ...       create, list, revoke API tokens
//	flowd flows ...       list, get, apply, stop, resume, delete flows
//	flowd trigger         start an execution (and --wait for it)
//	flowd executions ...  list, show, watch, cancel, retry executions
//	flowd audit           the audit trail of the token's company
//
// Run `flowd help` or `flowd COMMAND -h` for details.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func commands() []subcommand {
	return []subcommand{
		{"serve", "run the API, the workers and the scheduler", runServe},
		{"worker", "run workers and the scheduler only (scale-out)", runWorker},
		{"migrate", "apply River's and flowd's database migrations", runMigrate},
		{"prune", "delete what is past the retention now; --dry-run counts it", runPrune},
		{"keys", "encryption keys of stored secrets: keys generate [--file PATH], keys rotate", runKeys},
		{"token", "manage API tokens: token create, list, revoke", group("token", tokenCommands)},
		{"flows", "list, get, apply (create/replace), stop, resume, delete flows", group("flows", flowsCommands)},
		{"trigger", "start an execution of a flow; --wait follows it to the end", runTrigger},
		{"executions", "list, show, watch, cancel, retry executions", group("executions", executionsCommands)},
		{"audit", "list the audit trail: who changed what, newest first", runAudit},
		{"events", "send (publish), list, show events", group("events", eventsCommands)},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "flowd: a webhook flow engine on PostgreSQL and River\n\nUsage:\n  flowd COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, usageFooter)
}

const usageFooter = `
serve, worker, migrate, prune and token talk to PostgreSQL (DATABASE_URL);
'flowd serve -h' and 'flowd worker -h' list every setting with its FLOWD_*
variable and default. The operator commands (flows, trigger, executions,
audit, events) talk to a running flowd API over HTTP.

Environment:
  FLOWD_SERVER   base URL of the API (--server), default ` + ServerDefault + `
  FLOWD_TOKEN    API token (--token), from 'flowd token create'
  DATABASE_URL   PostgreSQL connection string (--database-url)
A flag wins over its environment variable, which wins over the default.
Every operator command takes --json to print the API's data as JSON.

Exit codes:
  0    done (watch, trigger --wait: the execution succeeded)
  1    the API answered an error (message and field errors on stderr) or
       could not be reached, or a command failed; watch and --wait: the
       execution failed
  2    usage error (unknown command, bad flag or argument)
  3    watch, --wait: the execution was cancelled
  4    watch, --wait: --timeout passed before the execution ended
  130  watch, --wait: interrupted (the execution goes on)

Run 'flowd COMMAND -h' (or 'flowd flows -h', 'flowd executions -h') for a
command's flags, environment variables and exit codes.
`

// errUsage marks errors already explained by a usage message.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			case errors.Is(err, errExitCode):
				var ec exitCodeError
				errors.As(err, &ec)
				return ec.code
			default:
				fmt.Fprintf(stderr, "flowd %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "flowd: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errExitCode lets a command choose its exit code (watch, trigger --wait).
var errExitCode = errors.New("exit code")

type exitCodeError struct{ code int }

func (e exitCodeError) Error() string        { return fmt.Sprintf("exit code %d", e.code) }
func (e exitCodeError) Is(target error) bool { return target == errExitCode }
