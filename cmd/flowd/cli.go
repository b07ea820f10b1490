package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// stdin is what `-` reads (flows apply -, trigger --payload -); tests
// replace it.
var stdin io.Reader = os.Stdin

// readInput reads a file, or standard input for "-".
func readInput(name string) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// Exit codes of the operator commands, beyond 0 (done) and 2 (usage).
const (
	exitFailed      = 1   // the API answered an error, or the execution failed
	exitCancelled   = 3   // the watched execution was cancelled
	exitTimeout     = 4   // --timeout passed before the execution ended
	exitInterrupted = 130 // SIGINT or SIGTERM while waiting
)

// cliExitCodes is the exit code paragraph of the operator commands.
const cliExitCodes = `Exit codes:
  0    done
  1    the API answered an error (its message and field errors are printed
       on stderr) or could not be reached
  2    usage error`

// watchExitCodes is the exit code paragraph of the commands that wait for
// an execution to end.
const watchExitCodes = `Exit codes:
  0    the execution succeeded
  1    it failed, or the API answered an error or could not be reached
  2    usage error
  3    it was cancelled
  4    --timeout passed before it ended (the execution goes on)
  130  interrupted by SIGINT or SIGTERM (the execution goes on)`

// waitExitCodes is the exit code paragraph of the commands with --wait.
const waitExitCodes = watchExitCodes + `
Without --wait only 0, 1 and 2 apply.`

// waitUsage describes the --wait of the commands that start one execution.
const waitUsage = "wait for the execution to end, showing its progress; the exit code tells the outcome"

// cliCommand describes one operator subcommand for its usage text.
type cliCommand struct {
	name     string // "flows list"
	args     string // "FLOW_ID"
	summary  string
	details  string // optional paragraph
	examples []string
	exit     string // exit code paragraph; cliExitCodes when empty
}

// flags returns the subcommand's flag set, with --server, --token and
// --json declared and the usage text set: -h prints it on stdout, usage
// errors print it on stderr.
func (c *cliCommand) flags(stdout, stderr io.Writer) (*envFlags, *clientOptions) {
	fs := flag.NewFlagSet("flowd "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	e := newEnvFlags(fs)
	e.helpOut = stdout
	o := clientFlags(e)
	fs.Usage = func() {
		w := fs.Output()
		synopsis := "flowd " + c.name + " [flags]"
		if c.args != "" {
			synopsis += " " + c.args
		}
		fmt.Fprintf(w, "Usage: %s\n\n%s\n", synopsis, c.summary)
		if c.details != "" {
			fmt.Fprintf(w, "\n%s\n", c.details)
		}
		if len(c.examples) > 0 {
			fmt.Fprintf(w, "\nExamples:\n")
			for _, ex := range c.examples {
				fmt.Fprintf(w, "  %s\n", ex)
			}
		}
		fmt.Fprintf(w, "\nFlags (before or after the arguments):\n")
		e.printFlags(w)
		fmt.Fprintf(w, "\n%s\n\n%s\n", configPrecedence, cmp.Or(c.exit, cliExitCodes))
	}
	return e, o
}

// parseArgs parses the subcommand's flags and checks it got exactly n
// positional arguments, then builds the API client.
func parseArgs(e *envFlags, o *clientOptions, args []string, n int) ([]string, *client, error) {
	pos, err := e.parse(args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) != n {
		if n == 0 {
			return nil, nil, usageError(e.fs, "unexpected arguments: %v", pos)
		}
		return nil, nil, usageError(e.fs, "want %d argument(s), got %d", n, len(pos))
	}
	c, err := newClient(o)
	if err != nil {
		return nil, nil, usageError(e.fs, "%v", err)
	}
	return pos, c, nil
}

// subcommand is one command of flowd (commands), or one verb of a command
// group (flows, executions).
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// group returns the command of a group of verbs (flowd flows, executions,
// events, token): it runs the verb args[0] names, or prints the group's
// usage.
func group(name string, subs []subcommand) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: flowd %s COMMAND [flags] [arguments]\n\nCommands:\n", name)
		for _, s := range subs {
			fmt.Fprintf(w, "  %-8s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(w, "\nRun 'flowd %s COMMAND -h' for a command's flags, environment variables\nand exit codes.\n", name)
	}
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if len(args) == 0 {
			usage(stderr)
			return errUsage
		}
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			usage(stdout)
			return nil
		}
		for _, s := range subs {
			if s.name == args[0] {
				return s.run(ctx, args[1:], stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "flowd %s: unknown command %q\n\n", name, args[0])
		usage(stderr)
		return errUsage
	}
}

// newTable returns a tabwriter for aligned columns; call Flush.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// timeText formats a time for tables: UTC, to the second, fixed width.
func timeText(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// cell makes a value safe for one table cell: one line, at most max
// characters (0: no limit), "-" when empty.
func cell(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-1]) + "…"
	}
	return s
}

// strPtr returns *p, or "" for nil.
func strPtr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// showOne runs a `get`/`show` command: it reads the object at prefix + its
// one argument (an id) and prints it with print, or its data with --json.
func showOne[T any](ctx context.Context, cmd *cliCommand, args []string, stdout, stderr io.Writer, prefix string, print func(io.Writer, *T) error) error {
	e, o := cmd.flags(stdout, stderr)
	pos, c, err := parseArgs(e, o, args, 1)
	if err != nil {
		return err
	}
	var v T
	a, err := c.get(ctx, prefix+url.PathEscape(pos[0]), nil, &v)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(stdout, a.Data)
	}
	return print(stdout, &v)
}

// printAnswer prints what a command got back: the answer's data with
// --json, else the one line that line makes of the object it decodes.
func printAnswer[T any](w io.Writer, a *answer, asJSON bool, line func(*T) string) error {
	if asJSON {
		return printJSON(w, a.Data)
	}
	var v T
	if err := a.decode(&v); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, line(&v))
	return err
}

// listing describes a `list` command: the collection it reads, the flags
// that filter it, and the table it prints.
type listing[T any] struct {
	nargs   int                       // positional arguments
	path    func(pos []string) string // the collection, from the arguments
	filters []listFilter
	// page is the default --limit; 0 for a collection that is not paged
	// (no --limit and --cursor).
	page   int
	what   string // "events": the next page is "more events: add --cursor …"
	header string // tab-separated column names
	row    func(w io.Writer, x *T)
}

// listFilter is a string flag of a `list` command whose value, when not
// empty, is the query parameter param.
type listFilter struct{ flag, param, def, usage string }

// pagedDetails starts the usage details of a paged `list` command.
const pagedDetails = "When there are more, the --cursor of the next page is printed on stderr."

// showList runs a `list` command: it reads the collection, filtered and
// paged by the flags, and prints it as a table, or its data with --json.
// When there are more, the next page's --cursor is printed on stderr.
func showList[T any](ctx context.Context, cmd *cliCommand, args []string, stdout, stderr io.Writer, l *listing[T]) error {
	if l.page > 0 {
		cmd.details = strings.TrimSuffix(pagedDetails+"\n"+cmd.details, "\n")
	}
	e, o := cmd.flags(stdout, stderr)
	values := make([]*string, len(l.filters))
	for i, f := range l.filters {
		values[i] = e.fs.String(f.flag, f.def, f.usage)
	}
	var limit int
	var cursor string
	if l.page > 0 {
		e.fs.IntVar(&limit, "limit", l.page, "page size, 1 to 200")
		e.fs.StringVar(&cursor, "cursor", "", "the next page's cursor, as printed by the previous page")
	}
	pos, c, err := parseArgs(e, o, args, l.nargs)
	if err != nil {
		return err
	}
	q := url.Values{}
	if l.page > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	for i, f := range l.filters {
		if *values[i] != "" {
			q.Set(f.param, *values[i])
		}
	}
	var list []T
	a, err := c.get(ctx, l.path(pos), q, &list)
	if err != nil {
		return err
	}
	if a.NextCursor != nil {
		defer fmt.Fprintf(stderr, "more %s: add --cursor %s\n", l.what, *a.NextCursor)
	}
	if o.json {
		return printJSON(stdout, a.Data)
	}
	tw := newTable(stdout)
	fmt.Fprintln(tw, l.header)
	for i := range list {
		l.row(tw, &list[i])
	}
	return tw.Flush()
}
