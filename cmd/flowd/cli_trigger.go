package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/flowd/flowd/flow"
)

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
