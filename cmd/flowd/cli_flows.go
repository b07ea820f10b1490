package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/flowd/flowd/flow"
)

// flowsCommands are the verbs of `flowd flows`.
var flowsCommands = []subcommand{
	{"list", "list the company's flows of a workspace", flowsList},
	{"get", "show one flow: its settings, steps and recent executions", flowsGet},
	{"apply", "create a flow from a JSON file, or replace it when the file's id exists", flowsApply},
	{"stop", "stop a flow: no new executions (in-flight ones finish)", flowsAction("stop")},
	{"resume", "resume a stopped flow", flowsAction("resume")},
	{"delete", "soft-delete a flow (its history is kept)", flowsAction("delete")},
}

func flowsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:     "flows list",
		summary:  "Lists the flows of a workspace (deleted flows excluded) as a table: id, name,\nstatus, workspace, number of steps and the status of the last execution.",
		examples: []string{"flowd flows list", "flowd flows list --workspace sales --json | jq '.[].id'"},
	}
	return showList(ctx, cmd, args, stdout, stderr, &listing[flow.Flow]{
		path:    func([]string) string { return "/v1/webhooks" },
		filters: []listFilter{{"workspace", "workspace_id", flow.DefaultWorkspaceID, "workspace_id whose flows to list"}},
		header:  "ID\tNAME\tSTATUS\tWORKSPACE\tSTEPS\tLAST EXECUTION",
		row: func(w io.Writer, f *flow.Flow) {
			last := "-"
			if len(f.Executions) > 0 {
				last = f.Executions[0].Status
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", f.ID, cell(f.Name, 40), f.Status, cell(f.WorkspaceID, 20), len(f.Steps), last)
		},
	})
}

func flowsGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name:     "flows get",
		args:     "FLOW_ID",
		summary:  "Shows one flow: its settings, its steps and its most recent executions.",
		details:  "With --json it prints the flow object, which `flowd flows apply` accepts\nback (read-only fields such as status and executions are ignored).",
		examples: []string{"flowd flows get 0b7c…", "flowd flows get 0b7c… --json > flow.json  # edit, then: flowd flows apply flow.json"},
	}
	return showOne(ctx, cmd, args, stdout, stderr, "/v1/webhooks/", printFlow)
}

// printFlow writes a flow as text.
func printFlow(w io.Writer, f *flow.Flow) error {
	tw := newTable(w)
	yesNo := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(tw, "ID\t%s\n", f.ID)
	fmt.Fprintf(tw, "Name\t%s\n", cell(f.Name, 0))
	fmt.Fprintf(tw, "Status\t%s\n", f.Status)
	fmt.Fprintf(tw, "Workspace\t%s\n", cell(f.WorkspaceID, 0))
	fmt.Fprintf(tw, "Direction\t%s\n", f.FlowDirection)
	fmt.Fprintf(tw, "Version\t%d\n", f.Version)
	fmt.Fprintf(tw, "Schedule\t%s\n", cell(strPtr(f.Schedule), 0))
	fmt.Fprintf(tw, "Retries\tmax %d, delay %d %s\n", f.MaxRetries, f.RetryDelay, f.RetryDelayUnit)
	fmt.Fprintf(tw, "Template\t%s\n", yesNo[f.IsTemplate])
	fmt.Fprintf(tw, "Signed\t%s\n", yesNo[f.HasSigningSecret])
	fmt.Fprintf(tw, "Tag\t%s\n", cell(f.TagName, 0))
	fmt.Fprintf(tw, "Category\t%s\n", cell(f.CategoryName, 0))
	fmt.Fprintf(tw, "Created\t%s\n", timeText(&f.CreatedAt))
	fmt.Fprintf(tw, "Updated\t%s\n", timeText(&f.UpdatedAt))
	if f.DeletedAt != nil {
		fmt.Fprintf(tw, "Deleted\t%s\n", timeText(f.DeletedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "STEP\tMETHOD\tURL\tDEPENDS ON\tRETRIES\tTIMEOUTS")
	for _, st := range f.Steps {
		dep := "-"
		if st.DependsOnStep != nil {
			dep = strconv.Itoa(*st.DependsOnStep)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%ds request, %ds step\n", st.StepNumber, st.WebhookMethod, cell(st.WebhookURL, 60), dep, st.RetryLimit, st.WebhookTimeout, st.Timeout)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(f.PredefinedVariables) > 0 || len(f.Variables) > 0 {
		fmt.Fprintln(w)
		tw = newTable(w)
		fmt.Fprintln(tw, "VARIABLE\tFROM")
		for _, pv := range f.PredefinedVariables {
			value := cell(string(pv.Value), 50)
			if pv.Secret {
				value = "(secret, never shown)"
			}
			fmt.Fprintf(tw, "%s\tpredefined %s\n", pv.Name, value)
		}
		for _, v := range f.Variables {
			from := fmt.Sprintf("step %d %s", v.StepID, v.Type)
			if v.Location != "" {
				from += " " + v.Location
			}
			fmt.Fprintf(tw, "%s\t%s (%s)\n", v.Name, cell(from, 50), v.DataType)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w)
	if len(f.Executions) == 0 {
		fmt.Fprintln(w, "No executions yet.")
		return nil
	}
	tw = newTable(w)
	fmt.Fprintln(tw, "EXECUTION\tSTATUS\tATTEMPT\tCREATED\tFINISHED\tERROR")
	for _, x := range f.Executions {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", x.ID, x.Status, x.AttemptNumber, timeText(&x.CreatedAt), timeText(x.FinishedAt), cell(strPtr(x.ErrorMessage), 60))
	}
	return tw.Flush()
}

func flowsApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name: "flows apply",
		args: "FILE.json|-",
		summary: `Creates a flow from a JSON definition (POST /v1/webhooks), or replaces the
definition of an existing flow (PUT /v1/webhooks/{id}) when the file has an
"id" that exists for your company. "-" reads standard input. Prints the
flow's id.`,
		details: `A file whose "id" is unknown (or another company's) creates a new flow
with a new id, and says so on stderr. On create, the flow's inbound hook
secret is printed once on stderr (with --json it is in the data).`,
		examples: []string{"flowd flows apply flow.json", "flowd flows get 0b7c… --json | jq '.max_retries = 3' | flowd flows apply -"},
	}
	e, o := cmd.flags(stdout, stderr)
	pos, c, err := parseArgs(e, o, args, 1)
	if err != nil {
		return err
	}
	body, err := readInput(pos[0])
	if err != nil {
		return err
	}
	var probe struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &probe) // a malformed document gets the API's 400
	if id := strings.TrimSpace(probe.ID); id != "" {
		path := "/v1/webhooks/" + url.PathEscape(id)
		_, err := c.do(ctx, http.MethodGet, path, nil, nil, nil)
		switch {
		case err == nil:
			a, err := c.do(ctx, http.MethodPut, path, nil, body, nil)
			if err != nil {
				return err
			}
			return printApplied(stdout, a, o.json)
		case isNotFound(err):
			fmt.Fprintf(stderr, "flow %s not found: creating a new flow\n", id)
		default:
			return err
		}
	}
	a, err := c.do(ctx, http.MethodPost, "/v1/webhooks", nil, body, nil)
	if err != nil {
		return err
	}
	if !o.json {
		var created struct {
			HookSecret    string `json:"hook_secret"`
			SigningSecret string `json:"signing_secret"`
		}
		if err := a.decode(&created); err != nil {
			return err
		}
		if created.HookSecret != "" {
			fmt.Fprintf(stderr, "flow created; its inbound hook secret (shown once): %s\n", created.HookSecret)
		}
		if created.SigningSecret != "" {
			fmt.Fprintf(stderr, "its outbound signing secret (shown once): %s\n", created.SigningSecret)
		}
	}
	return printApplied(stdout, a, o.json)
}

// printApplied prints the id of the flow an answer holds, or its data.
func printApplied(w io.Writer, a *answer, asJSON bool) error {
	return printAnswer(w, a, asJSON, func(f *flow.Flow) string { return f.ID.String() })
}

// flowsAction returns the `flows stop|resume|delete` command.
func flowsAction(verb string) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	method, pathFmt, done := http.MethodPost, "/v1/integrations/%s/"+verb, map[string]string{"stop": "stopped", "resume": "resumed"}[verb]
	summary := map[string]string{
		"stop":   "Stops a flow (POST /v1/integrations/{id}/stop): executions in flight complete,\nno new ones start (triggers answer 409, schedules pause).",
		"resume": "Resumes a stopped flow (POST /v1/integrations/{id}/resume): new executions\nstart again.",
		"delete": "Soft-deletes a flow (DELETE /v1/webhooks/{id}): status deleted, no new\nexecutions, history kept.",
	}[verb]
	if verb == "delete" {
		method, pathFmt, done = http.MethodDelete, "/v1/webhooks/%s", "deleted"
	}
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		cmd := &cliCommand{name: "flows " + verb, args: "FLOW_ID", summary: summary, examples: []string{"flowd flows " + verb + " 0b7c…"}}
		e, o := cmd.flags(stdout, stderr)
		pos, c, err := parseArgs(e, o, args, 1)
		if err != nil {
			return err
		}
		a, err := c.do(ctx, method, fmt.Sprintf(pathFmt, url.PathEscape(pos[0])), nil, nil, nil)
		if err != nil {
			return err
		}
		return printAnswer(stdout, a, o.json, func(f *flow.Flow) string {
			return fmt.Sprintf("flow %s %s (status %s)", f.ID, done, f.Status)
		})
	}
}

// varFlag collects repeated NAME=VALUE flags.
type varFlag struct {
	asJSON bool
	vars   map[string]json.RawMessage
}

func (v *varFlag) String() string { return "" }

func (v *varFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	var raw json.RawMessage
	if v.asJSON {
		if !json.Valid([]byte(value)) {
			return fmt.Errorf("%s: %q is not JSON", name, value)
		}
		raw = json.RawMessage(value)
	} else {
		raw, _ = json.Marshal(value)
	}
	v.vars[name] = raw
	return nil
}

// idempotencyHeader is the Idempotency-Key header of --idempotency-key,
// or none.
func idempotencyHeader(key string) http.Header {
	if key == "" {
		return nil
	}
	return http.Header{"Idempotency-Key": {key}}
}

func runTrigger(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := &cliCommand{
		name: "trigger",
		args: "FLOW_ID",
		summary: `Starts an execution of a flow now (POST /v1/webhooks/{id}/trigger) and
prints its id; with --wait, follows it until it ends and exits with its
outcome.`,
		details: `Trigger variables override the flow's predefinedVariables. --var values
are strings; --var-json values are JSON (numbers, booleans, objects...).
The payload is any JSON document, read by the flow's flow_mapping.
A repeated --idempotency-key returns the first execution instead of
starting a new one (said on stderr).

` + watchDetails,
		examples: []string{
			"flowd trigger 0b7c…",
			"flowd trigger 0b7c… --var email=ann@x.io --var-json count=3 --wait",
			"echo '{\"lead\": {\"id\": 7}}' | flowd trigger 0b7c… --payload - --idempotency-key lead-7",
		},
		exit: waitExitCodes,
	}
	e, o := cmd.flags(stdout, stderr)
	vars := &varFlag{vars: map[string]json.RawMessage{}}
	jsonVars := &varFlag{asJSON: true, vars: vars.vars}
	e.fs.Var(vars, "var", "a trigger variable `NAME=VALUE` (a string); repeatable")
	e.fs.Var(jsonVars, "var-json", "a trigger variable `NAME=JSON` (any JSON value); repeatable")
	payload := e.fs.String("payload", "", "`FILE` holding the JSON payload, or - for standard input")
	key := e.fs.String("idempotency-key", "", "Idempotency-Key header: a repeated key returns the first execution")
	wait, wo := waitFlags(e, waitUsage)
	pos, c, err := parseArgs(e, o, args, 1)
	if err != nil {
		return err
	}
	req := map[string]json.RawMessage{}
	if len(vars.vars) > 0 {
		raw, err := json.Marshal(vars.vars)
		if err != nil {
			return fmt.Errorf("encode variables: %w", err)
		}
		req["variables"] = raw
	}
	if *payload != "" {
		raw, err := readInput(*payload)
		if err != nil {
			return err
		}
		if !json.Valid(raw) {
			return usageError(e.fs, "--payload %s is not JSON", *payload)
		}
		req["payload"] = raw
	}
	var body []byte
	if len(req) > 0 {
		if body, err = json.Marshal(req); err != nil {
			return fmt.Errorf("encode trigger body: %w", err)
		}
	}
	a, err := c.do(ctx, http.MethodPost, "/v1/webhooks/"+url.PathEscape(pos[0])+"/trigger", nil, body, idempotencyHeader(*key))
	if err != nil {
		return err
	}
	var x flow.Execution
	if err := a.decode(&x); err != nil {
		return err
	}
	if *key != "" {
		fmt.Fprintf(stderr, "%s\n", a.Message) // says whether the key was seen before
	}
	if *wait {
		return watchAndExit(ctx, c, x.ID.String(), wo, o.json, stdout, stderr)
	}
	if o.json {
		return printJSON(stdout, a.Data)
	}
	_, err = fmt.Fprintln(stdout, x.ID)
	return err
}
