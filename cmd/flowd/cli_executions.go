package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/flowd/flowd/flow"
)

// executionsCommands are the verbs of `flowd executions`.
var executionsCommands = []subcommand{
	{"list", "list a flow's executions, newest first", executionsList},
	{"show", "show one execution: its steps and every HTTP attempt", executionsShow},
	{"watch", "follow an execution's steps until it ends", executionsWatch},
	{"cancel", "cancel an execution: no further steps are sent", executionsChange("cancel")},
	{"retry", "re-run a failed or cancelled execution from its failed step", executionsChange("retry")},
}

func executionsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:    "executions list",
		args:    "FLOW_ID",
		summary: "Lists a flow's executions, newest first (GET /v1/webhooks/{id}/executions).",
		examples: []string{
			"flowd executions list 0b7c…",
			"flowd executions list 0b7c… --status failed --limit 50",
		},
	}
	return showList(ctx, cmd, args, stdout, stderr, &listing[flow.Execution]{
		nargs:   1,
		path:    func(pos []string) string { return "/v1/webhooks/" + url.PathEscape(pos[0]) + "/executions" },
		filters: []listFilter{{"status", "status", "", "only executions with this status: scheduled, in_progress, success, failed or cancelled"}},
		page:    20,
		what:    "executions",
		header:  "ID\tSTATUS\tTRIGGER\tATTEMPT\tCREATED\tFINISHED\tERROR",
		row: func(w io.Writer, x *flow.Execution) {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", x.ID, x.Status, x.Trigger, x.AttemptNumber,
				timeText(&x.CreatedAt), timeText(x.FinishedAt), cell(strPtr(x.ErrorMessage), 60))
		},
	})
}

func executionsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:     "executions show",
		args:     "EXECUTION_ID",
		summary:  "Shows one execution (GET /v1/executions/{id}): its status, each step's state,\nand every HTTP attempt with its status code, duration and error.",
		details:  "The text leaves out request and response headers and bodies; --json prints\nthem all (secrets redacted by the server).",
		examples: []string{"flowd executions show 5f1e…", "flowd executions show 5f1e… --json | jq '.attempts[].response_body'"},
	}
	return showOne(ctx, cmd, args, stdout, stderr, "/v1/executions/", printExecution)
}

// printExecution writes an execution as text. The layout depends only on
// the execution, so it can be compared with a golden file.
func printExecution(w io.Writer, x *flow.Execution) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "Execution\t%s\n", x.ID)
	fmt.Fprintf(tw, "Flow\t%s (version %d)\n", x.FlowID, x.FlowVersion)
	fmt.Fprintf(tw, "Status\t%s\n", x.Status)
	fmt.Fprintf(tw, "Trigger\t%s\n", x.Trigger)
	fmt.Fprintf(tw, "Attempt\t%d\n", x.AttemptNumber)
	fmt.Fprintf(tw, "Created\t%s\n", timeText(&x.CreatedAt))
	fmt.Fprintf(tw, "Started\t%s\n", timeText(x.ExecutedAt))
	fmt.Fprintf(tw, "Finished\t%s\n", timeText(x.FinishedAt))
	if x.NextRetryAt != nil {
		fmt.Fprintf(tw, "Next retry\t%s\n", timeText(x.NextRetryAt))
	}
	fmt.Fprintf(tw, "Error\t%s\n", cell(strPtr(x.ErrorMessage), 0))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "STEP\tSTATUS\tATTEMPTS\tERROR")
	for _, n := range stepNumbers(x) {
		st := x.Steps[n]
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\n", n, st.Status, st.Attempts, cell(st.Error, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(x.Attempts) == 0 {
		fmt.Fprintln(w, "No attempts yet.")
		return nil
	}
	attempts := append([]flow.StepAttempt(nil), x.Attempts...)
	sort.SliceStable(attempts, func(i, j int) bool {
		a, b := attempts[i], attempts[j]
		if a.ExecutionAttempt != b.ExecutionAttempt {
			return a.ExecutionAttempt < b.ExecutionAttempt
		}
		if a.StepNumber != b.StepNumber {
			return a.StepNumber < b.StepNumber
		}
		return a.Attempt < b.Attempt
	})
	tw = newTable(w)
	fmt.Fprintln(tw, "STEP\tRUN\tATTEMPT\tSTATUS\tHTTP\tDURATION\tERROR")
	for _, at := range attempts {
		code := "-"
		if at.ResponseStatus != nil {
			code = strconv.Itoa(*at.ResponseStatus)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%dms\t%s\n", at.StepNumber, at.ExecutionAttempt, at.Attempt, at.Outcome, code, at.DurationMS, cell(at.Error, 80))
	}
	return tw.Flush()
}

// stepNumbers returns the numbers of an execution's steps, in order.
func stepNumbers(x *flow.Execution) []int {
	ns := make([]int, 0, len(x.Steps))
	for n := range x.Steps {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	return ns
}

func executionsWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:     "executions watch",
		args:     "EXECUTION_ID",
		summary:  "Follows an execution's steps until it ends, and exits with its outcome.",
		details:  watchDetails,
		examples: []string{"flowd executions watch 5f1e…", "flowd executions watch 5f1e… --timeout 10m || echo \"ended with $?\""},
		exit:     watchExitCodes,
	}
	e, o := cmd.flags(stdout, stderr)
	wo := watchFlags(e)
	pos, c, err := parseArgs(e, o, args, 1)
	if err != nil {
		return err
	}
	return watchAndExit(ctx, c, pos[0], wo, o.json, stdout, stderr)
}

// executionsChange returns the `executions cancel|retry` command: POST
// /v1/executions/{id}/cancel or /retry; retry can --wait for the end.
func executionsChange(action string) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return executionChange(ctx, action, args, stdout, stderr)
	}
}

func executionChange(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:     "executions cancel",
		args:     "EXECUTION_ID",
		summary:  "Cancels an execution (POST /v1/executions/{id}/cancel): no further steps are\nsent; its status becomes cancelled. An execution that has ended answers 409.",
		examples: []string{"flowd executions cancel 5f1e…"},
	}
	if action == "retry" {
		cmd = &cliCommand{
			name:     "executions retry",
			args:     "EXECUTION_ID",
			summary:  "Re-runs a failed or cancelled execution from its failed step\n(POST /v1/executions/{id}/retry); steps that succeeded are not sent again.",
			details:  "With --wait it then follows the execution like `flowd executions watch`\nand exits with its outcome.",
			examples: []string{"flowd executions retry 5f1e… --wait"},
			exit:     waitExitCodes,
		}
	}
	e, o := cmd.flags(stdout, stderr)
	var wait *bool
	var wo *watchOptions
	if action == "retry" {
		wait, wo = waitFlags(e, waitUsage)
	}
	pos, c, err := parseArgs(e, o, args, 1)
	if err != nil {
		return err
	}
	a, err := c.do(ctx, http.MethodPost, "/v1/executions/"+url.PathEscape(pos[0])+"/"+action, nil, nil, nil)
	if err != nil {
		return err
	}
	if wait != nil && *wait {
		return watchAndExit(ctx, c, pos[0], wo, o.json, stdout, stderr)
	}
	return printAnswer(stdout, a, o.json, func(x *flow.Execution) string {
		return fmt.Sprintf("execution %s: %s (%s)", x.ID, x.Status, a.Message)
	})
}
