package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/flowd/flowd/flow"
)

// eventsCommands are the verbs of `flowd events`.
var eventsCommands = []subcommand{
	{"send", "publish an event: every subscribed flow starts; --wait follows them all", eventsSend},
	{"list", "list the company's events, newest first", eventsList},
	{"show", "show one event and the executions it started", eventsShow},
}

// eventsWaitExitCodes is the exit code paragraph of `events send`.
const eventsWaitExitCodes = `Exit codes:
  0    published (with --wait: every execution it started succeeded, or it
       started none)
  1    with --wait, an execution failed or was cancelled; or the API
       answered an error or could not be reached
  2    usage error
  4    --timeout passed before every execution ended (they go on)
  130  interrupted by SIGINT or SIGTERM (the executions go on)`

func eventsSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name: "events send",
		args: "TYPE",
		summary: `Publishes an event (POST /v1/events): every flow of the company in the
workspace that subscribes to TYPE, is not stopped and whose event_filter is
true starts an execution. Prints the event id, then one line per execution
started ("FLOW_ID EXECUTION_ID"); filters that failed are listed on stderr.`,
		details: `--data is the event's data: inline JSON, @FILE, or @- for standard input.
A repeated --idempotency-key returns the first event and starts nothing
(said on stderr). With --wait, every execution started is followed until it
ends; one line "execution ID (flow FLOW_ID): STATUS" is printed for each.`,
		examples: []string{
			`flowd events send call.ended --data '{"call": {"id": "c-42"}, "duration": 95}'`,
			"flowd events send lead.created --data @lead.json --workspace sales --wait",
		},
		exit: eventsWaitExitCodes,
	}
	e, o := cmd.flags(stdout, stderr)
	data := e.fs.String("data", "", "the event's data: JSON, `@FILE`, or @- for standard input")
	workspace := e.fs.String("workspace", "", "the workspace whose flows start (default: the server's, \"default\")")
	key := e.fs.String("idempotency-key", "", "Idempotency-Key header: a repeated key returns the first event")
	wait, wo := waitFlags(e, "wait for every execution started to end; the exit code tells the outcome")
	pos, c, err := parseArgs(e, o, args, 1)
	if err != nil {
		return err
	}
	req := map[string]json.RawMessage{"type": mustMarshalString(pos[0])}
	if *data != "" {
		raw := []byte(*data)
		if name, ok := strings.CutPrefix(*data, "@"); ok {
			if raw, err = readInput(name); err != nil {
				return err
			}
		}
		if !json.Valid(raw) {
			return usageError(e.fs, "--data is not JSON")
		}
		req["data"] = raw
	}
	if *workspace != "" {
		req["workspace_id"] = mustMarshalString(*workspace)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	a, err := c.do(ctx, http.MethodPost, "/v1/events", nil, body, idempotencyHeader(*key))
	if err != nil {
		return err
	}
	var ev flow.Event
	if err := a.decode(&ev); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s\n", a.Message)
	for _, fe := range ev.FilterErrors {
		fmt.Fprintf(stderr, "flow %s not started: %s\n", fe.FlowID, fe.Message)
	}
	if o.json && !*wait {
		return printJSON(stdout, a.Data)
	}
	if !o.json {
		fmt.Fprintln(stdout, ev.ID)
		for _, x := range ev.Executions {
			fmt.Fprintf(stdout, "%s %s\n", x.FlowID, x.ID)
		}
	}
	if !*wait {
		return nil
	}
	return waitEvent(ctx, c, &ev, wo, o.json, stdout, stderr)
}

// waitEvent follows every execution an event started until each ends, and
// turns their outcomes into the command's exit code: 0 only when all
// succeeded.
func waitEvent(ctx context.Context, c *client, ev *flow.Event, wo *watchOptions, asJSON bool, stdout, stderr io.Writer) error {
	if wo.interval <= 0 {
		wo.interval = WatchIntervalDefault
	}
	var deadline time.Time
	if wo.timeout > 0 {
		deadline = time.Now().Add(wo.timeout)
	}
	code := 0
	var finals []json.RawMessage
	for _, started := range ev.Executions {
		one := *wo
		if !deadline.IsZero() {
			one.timeout = max(time.Until(deadline), time.Millisecond)
		}
		x, raw, err := watchExecution(ctx, c, started.ID.String(), &one, nil)
		if err != nil {
			return watchStopped(ctx, err, wo, stderr, "execution "+started.ID.String()+" is not finished", "the event's executions go on")
		}
		finals = append(finals, raw)
		if !asJSON {
			fmt.Fprintf(stdout, "execution %s (flow %s): %s\n", x.ID, x.FlowID, executionOutcome(x))
		}
		if x.Status != flow.ExecutionStatusSuccess {
			code = exitFailed
		}
	}
	if asJSON {
		raw, err := json.Marshal(finals)
		if err != nil {
			return err
		}
		if err := printJSON(stdout, raw); err != nil {
			return err
		}
	}
	if code != 0 {
		return exitCodeError{code}
	}
	return nil
}

// executionOutcome is an ended execution's status, with its error.
func executionOutcome(x *flow.Execution) string {
	if x.ErrorMessage != nil && *x.ErrorMessage != "" {
		return x.Status + ": " + cell(*x.ErrorMessage, 120)
	}
	return x.Status
}

// mustMarshalString encodes a string as JSON, which cannot fail.
func mustMarshalString(s string) json.RawMessage {
	raw, _ := json.Marshal(s)
	return raw
}

func eventsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:    "events list",
		summary: "Lists the company's events, newest first (GET /v1/events).",
		examples: []string{
			"flowd events list",
			"flowd events list --type call.ended --limit 50",
		},
	}
	return showList(ctx, cmd, args, stdout, stderr, &listing[flow.Event]{
		path:    func([]string) string { return "/v1/events" },
		filters: []listFilter{{"type", "type", "", "only events of this type"}},
		page:    20,
		what:    "events",
		header:  "ID\tTYPE\tWORKSPACE\tCREATED\tEXECUTIONS\tFILTER ERRORS",
		row: func(w io.Writer, ev *flow.Event) {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\n", ev.ID, ev.Type, cell(ev.WorkspaceID, 30),
				timeText(&ev.CreatedAt), len(ev.Executions), len(ev.FilterErrors))
		},
	})
}

func eventsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:     "events show",
		args:     "EVENT_ID",
		summary:  "Shows one event (GET /v1/events/{id}): its type, workspace and data, each\nexecution it started with its current status, and the filters that failed.",
		examples: []string{"flowd events show 9a0c…", "flowd events show 9a0c… --json | jq '.executions'"},
	}
	return showOne(ctx, cmd, args, stdout, stderr, "/v1/events/", printEvent)
}

// printEvent writes an event as text.
func printEvent(w io.Writer, ev *flow.Event) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "Event\t%s\n", ev.ID)
	fmt.Fprintf(tw, "Type\t%s\n", ev.Type)
	fmt.Fprintf(tw, "Workspace\t%s\n", ev.WorkspaceID)
	fmt.Fprintf(tw, "Created\t%s\n", timeText(&ev.CreatedAt))
	fmt.Fprintf(tw, "Data\t%s\n", cell(string(ev.Data), 200))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(ev.Executions) == 0 {
		fmt.Fprintln(w, "No execution started.")
	} else {
		tw = newTable(w)
		fmt.Fprintln(tw, "EXECUTION\tFLOW\tSTATUS")
		for _, x := range ev.Executions {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.ID, x.FlowID, x.Status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, fe := range ev.FilterErrors {
		fmt.Fprintf(w, "flow %s not started: %s\n", fe.FlowID, cell(fe.Message, 0))
	}
	return nil
}
