package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
	"github.com/flowd/flowd/internal/testdb"
)

var update = flag.Bool("update", false, "rewrite golden files and the generated docs table")

func TestMain(m *testing.M) { testdb.Main(m) }

type testBundle struct {
	env    *flowdtest.Env
	tenant *flowdtest.Tenant
	target *flowdtest.Target
}

// setup returns the package's flowd, a fresh company, and a target server:
// /ok answers 200, /fail 500, /flaky 500 the first time and 200 after,
// /slow 200 after 300ms, /hang only at the test's end.
func setup(t *testing.T) *testBundle {
	t.Helper()
	env := flowdtest.Shared(t)
	target := flowdtest.NewTarget(t)
	target.Handle("/fail", func(w http.ResponseWriter, r *http.Request, n int) {
		answerJSON(w, http.StatusInternalServerError, `{"ok": false}`)
	})
	target.Handle("/flaky", func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			answerJSON(w, http.StatusInternalServerError, `{"ok": false}`)
			return
		}
		answerJSON(w, http.StatusOK, `{"ok": true}`)
	})
	target.Handle("/slow", func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(300 * time.Millisecond)
		answerJSON(w, http.StatusOK, `{"ok": true}`)
	})
	target.Gate(t, "/hang")
	return &testBundle{env: env, tenant: env.NewTenant(t), target: target}
}

// answerJSON answers a target's request with code and a JSON body.
func answerJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprint(w, body)
}

// result is what one CLI run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the CLI in-process against the bundle's server with the
// bundle's token (flags after the arguments, as a user may type them).
func (b *testBundle) cli(t *testing.T, args ...string) result {
	t.Helper()
	return b.cliToken(t, b.tenant.Token, args...)
}

func (b *testBundle) cliToken(t *testing.T, token string, args ...string) result {
	t.Helper()
	return b.cliAt(t, b.env.URLFor(t), token, args...)
}

// cliInvalid is cli for a run whose requests break the OpenAPI document
// on purpose (an invalid flow, a malformed id): only the answers are
// checked against it.
func (b *testBundle) cliInvalid(t *testing.T, want int, args ...string) result {
	t.Helper()
	r := b.cliAt(t, b.env.InvalidURLFor(t), b.tenant.Token, args...)
	if r.code != want {
		t.Fatalf("flowd %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func (b *testBundle) cliAt(t *testing.T, server, token string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args = append(args, "--server", server, "--token", token)
	code := run(ctx, args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// mustCLI runs the CLI and fails the test unless it exits with want.
func (b *testBundle) mustCLI(t *testing.T, want int, args ...string) result {
	t.Helper()
	r := b.cli(t, args...)
	if r.code != want {
		t.Fatalf("flowd %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// writeFlow writes a flow definition into the test's temp dir.
func writeFlow(t *testing.T, def map[string]any) string {
	t.Helper()
	raw, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flow.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// twoStepFlow is a flow whose step 1 calls url1 (retried once at once) and
// whose step 2, depending on it, calls url2.
func twoStepFlow(name, url1, url2 string) map[string]any {
	return map[string]any{
		"name": name, "retry_delay": 0, "max_retries": 0,
		"steps": []any{
			map[string]any{"step_number": 1, "webhook_url": url1, "webhook_method": "POST", "retry_limit": 1,
				"webhook_body": map[string]any{"hello": "world"}},
			map[string]any{"step_number": 2, "webhook_url": url2, "webhook_method": "GET", "depends_on_step": 1},
		},
	}
}

// apply creates a flow with `flowd flows apply` and returns its id.
func (b *testBundle) apply(t *testing.T, def map[string]any) string {
	t.Helper()
	r := b.mustCLI(t, 0, "flows", "apply", writeFlow(t, def))
	id := strings.TrimSpace(r.stdout)
	if _, err := uuid.Parse(id); err != nil {
		t.Fatalf("flows apply printed %q, want a flow id", r.stdout)
	}
	return id
}

// start applies a two-step flow calling the target's path1 then path2,
// starts an execution of it with `flowd trigger` and returns the
// execution's id.
func (b *testBundle) start(t *testing.T, name, path1, path2 string) string {
	t.Helper()
	id := b.apply(t, twoStepFlow(name, b.target.URL+path1, b.target.URL+path2))
	return strings.TrimSpace(b.mustCLI(t, 0, "trigger", id).stdout)
}

func TestFlowsApplyCreateThenUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	def := twoStepFlow("apply me", b.target.URL+"/ok", b.target.URL+"/ok")
	def["generate_signing_secret"] = true
	r := b.mustCLI(t, 0, "flows", "apply", writeFlow(t, def))
	id := strings.TrimSpace(r.stdout)
	if _, err := uuid.Parse(id); err != nil {
		t.Fatalf("create printed %q, want a flow id", r.stdout)
	}
	mustContain(t, "create's stderr (the hook and signing secrets, shown once)", r.stderr, "hook secret (shown once): whsec_", "signing secret (shown once): whsec_")

	delete(def, "generate_signing_secret") // create only
	def["id"] = id
	def["name"] = "applied again"
	r = b.mustCLI(t, 0, "flows", "apply", writeFlow(t, def))
	if got := strings.TrimSpace(r.stdout); got != id {
		t.Errorf("update printed %q, want the same id %s", got, id)
	}
	resp := b.env.Do(t, b.tenant, "GET", "/v1/webhooks/"+id, nil)
	var f flow.Flow
	resp.Decode(t, &f)
	if diff := cmp.Diff([]any{"applied again", 2, true}, []any{f.Name, f.Version, f.HasSigningSecret}); diff != "" {
		t.Errorf("flow after the update: name, version, has_signing_secret (-want +got):\n%s", diff)
	}

	// An id that does not exist creates a new flow and says so.
	def["id"] = uuid.NewString()
	r = b.mustCLI(t, 0, "flows", "apply", writeFlow(t, def))
	if got := strings.TrimSpace(r.stdout); got == id || got == def["id"] {
		t.Errorf("unknown id: printed %q, want a new flow's id", got)
	}
	mustContain(t, "unknown id: stderr", r.stderr, "not found: creating a new flow")
}

func TestFlowsApplyInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.cliInvalid(t, 1, "flows", "apply", writeFlow(t, map[string]any{"name": "no steps", "steps": []any{}}))
	mustContain(t, "stderr", r.stderr, "422", "validation failed", "steps:")
}

func TestFlowsListAndGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.apply(t, twoStepFlow("listed flow", b.target.URL+"/ok", b.target.URL+"/ok"))
	b.mustCLI(t, 0, "trigger", id, "--wait")

	r := b.mustCLI(t, 0, "flows", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if got := strings.Fields(lines[0]); !cmp.Equal(got, []string{"ID", "NAME", "STATUS", "WORKSPACE", "STEPS", "LAST", "EXECUTION"}) {
		t.Errorf("header %q", lines[0])
	}
	var row string
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, id) {
			row = l
		}
	}
	if row == "" {
		t.Fatalf("flows list has no row for %s:\n%s", id, r.stdout)
	}
	want := []string{id, "listed", "flow", "running", "default", "2", "success"}
	if diff := cmp.Diff(want, strings.Fields(row)); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}

	r = b.mustCLI(t, 0, "flows", "get", id)
	mustContain(t, "flows get output", r.stdout, "Name       listed flow", "Version    1", "STEP  METHOD", "EXECUTION", "success")
}

func TestJSONOutputDecodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.apply(t, twoStepFlow("json flow", b.target.URL+"/ok", b.target.URL+"/ok"))

	var flows []flow.Flow
	decode(t, b.mustCLI(t, 0, "flows", "list", "--json").stdout, &flows)
	if len(flows) != 1 || flows[0].ID.String() != id {
		t.Errorf("flows list --json: got %d flows, want the one flow %s", len(flows), id)
	}
	var f flow.Flow
	decode(t, b.mustCLI(t, 0, "flows", "get", id, "--json").stdout, &f)
	if f.Name != "json flow" || len(f.Steps) != 2 {
		t.Errorf("flows get --json: name %q with %d steps", f.Name, len(f.Steps))
	}

	var x flow.Execution
	decode(t, b.mustCLI(t, 0, "trigger", id, "--json").stdout, &x)
	if x.FlowID.String() != id {
		t.Errorf("trigger --json: flow_id %s, want %s", x.FlowID, id)
	}
	var final flow.Execution
	decode(t, b.mustCLI(t, 0, "executions", "watch", x.ID.String(), "--json").stdout, &final)
	if final.Status != flow.ExecutionStatusSuccess || len(final.Attempts) != 2 {
		t.Errorf("watch --json: status %s with %d attempts, want success with 2", final.Status, len(final.Attempts))
	}
	var list []flow.Execution
	decode(t, b.mustCLI(t, 0, "executions", "list", id, "--json").stdout, &list)
	if len(list) != 1 || list[0].ID != x.ID {
		t.Errorf("executions list --json: %d executions, want just %s", len(list), x.ID)
	}
	var shown flow.Execution
	decode(t, b.mustCLI(t, 0, "executions", "show", x.ID.String(), "--json").stdout, &shown)
	if shown.ID != x.ID || len(shown.Attempts) != 2 {
		t.Errorf("executions show --json: id %s with %d attempts", shown.ID, len(shown.Attempts))
	}
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode --json output: %v\n%s", err, out)
	}
}

func TestTriggerWaitExitCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ok := b.apply(t, twoStepFlow("succeeds", b.target.URL+"/ok", b.target.URL+"/ok"))
	bad := b.apply(t, twoStepFlow("fails", b.target.URL+"/fail", b.target.URL+"/ok"))

	r := b.mustCLI(t, 0, "trigger", ok, "--wait", "--var", "who=ann", "--var-json", "n=3")
	last := lastLine(r.stdout)
	if !regexp.MustCompile(`^execution [0-9a-f-]{36}: success$`).MatchString(last) {
		t.Errorf("success: last line %q", last)
	}

	r = b.mustCLI(t, 1, "trigger", bad, "--wait")
	last = lastLine(r.stdout)
	if !regexp.MustCompile(`^execution [0-9a-f-]{36}: failed: .*step 1`).MatchString(last) {
		t.Errorf("failure: last line %q", last)
	}
	mustContain(t, "failure: stdout", r.stdout, "step 2: skipped")
}

func TestWatchTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	x := b.start(t, "hangs", "/hang", "/ok")

	r := b.mustCLI(t, exitTimeout, "executions", "watch", x, "--timeout", "300ms", "--interval", "20ms")
	mustContain(t, "timeout: stderr", r.stderr, "gave up waiting after 300ms")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"executions", "watch", x, "--server", b.env.URLFor(t), "--token", b.tenant.Token}, &stdout, &stderr)
	if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("interrupted watch: exit %d, stderr %q; want %d", code, stderr.String(), exitInterrupted)
	}

	r = b.mustCLI(t, 0, "executions", "cancel", x)
	if want := "execution " + x + ": cancelled"; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("cancel printed %q, want it to start with %q", r.stdout, want)
	}
	r = b.mustCLI(t, exitCancelled, "executions", "watch", x)
	if want := "execution " + x + ": cancelled"; !strings.HasPrefix(lastLine(r.stdout), want) {
		t.Errorf("watch of a cancelled execution: last line %q, want %q…", lastLine(r.stdout), want)
	}
	// A second cancel answers 409 with the API's message.
	r = b.mustCLI(t, 1, "executions", "cancel", x)
	mustContain(t, "second cancel: stderr (the 409 message)", r.stderr, "409", "cancelled")
}

func TestTriggerIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.apply(t, twoStepFlow("idem", b.target.URL+"/ok", b.target.URL+"/ok"))
	first := b.mustCLI(t, 0, "trigger", id, "--idempotency-key", "k-1")
	again := b.mustCLI(t, 0, "trigger", id, "--idempotency-key", "k-1")
	if first.stdout != again.stdout {
		t.Errorf("a repeated key started another execution: %q then %q", first.stdout, again.stdout)
	}
	mustContain(t, "a repeated key: stderr", again.stderr, "already exists")
}

func TestWatchPlainLines(t *testing.T) {
	t.Parallel()
	b := setup(t)
	x := b.start(t, "watched", "/flaky", "/slow")
	r := b.mustCLI(t, 0, "executions", "watch", x, "--interval", "20ms")

	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if want := "execution " + x + ": success"; lines[len(lines)-1] != want {
		t.Errorf("last line %q, want %q", lines[len(lines)-1], want)
	}
	// One line per change: a step's line never repeats its previous one.
	prev := map[string]string{}
	for _, l := range lines {
		step, state, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("line %q is not NAME: STATE", l)
		}
		if prev[step] == state {
			t.Errorf("%s printed twice in a row: %q", step, state)
		}
		prev[step] = state
	}
	if diff := cmp.Diff(map[string]string{
		"step 1":         "success (attempt 2)",
		"step 2":         "success (attempt 1)",
		"execution " + x: "success",
	}, prev); diff != "" {
		t.Errorf("last state of each (-want +got):\n%s", diff)
	}
}

func TestExecutionsShowGolden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.apply(t, twoStepFlow("golden", b.target.URL+"/flaky", b.target.URL+"/ok"))
	r := b.mustCLI(t, 0, "trigger", id, "--wait", "--interval", "20ms")
	x := strings.TrimPrefix(strings.TrimSuffix(lastLine(r.stdout), ": success"), "execution ")
	r = b.mustCLI(t, 0, "executions", "show", x)
	got := normalize(r.stdout)

	golden := filepath.Join("testdata", "executions_show.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("executions show (-want +got):\n%s", diff)
	}
}

var (
	uuidRE     = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE     = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`)
	durationRE = regexp.MustCompile(`\b\d+ms *`)
)

// normalize replaces what changes from run to run, keeping every column's
// width: ids by numbered ids in order of appearance, times, durations.
func normalize(s string) string {
	ids := map[string]string{}
	s = uuidRE.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("00000000-0000-0000-0000-%012d", len(ids)+1)
		}
		return ids[id]
	})
	s = timeRE.ReplaceAllString(s, "2000-01-01 00:00:00Z")
	return durationRE.ReplaceAllStringFunc(s, func(d string) string {
		return "Nms" + strings.Repeat(" ", len(d)-3)
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// mustContain fails the test unless out, the output what names, contains
// each of wants.
func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s does not contain %q:\n%s", what, want, out)
		}
	}
}

func TestBadTokenAndUsageErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.cliToken(t, "fd_not-a-token", "flows", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "missing or invalid API token") {
		t.Errorf("bad token: exit %d, stderr %q; want 1 and the 401 message", r.code, r.stderr)
	}

	r = b.cli(t, "executions", "show", uuid.NewString())
	if r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Errorf("unknown execution: exit %d, stderr %q; want 1 and 404", r.code, r.stderr)
	}

	for _, args := range [][]string{
		{"no-such-command"},
		{"flows", "no-such-verb"},
		{"flows", "get"},                     // missing FLOW_ID
		{"flows", "list", "extra"},           // unexpected argument
		{"trigger", "x", "--no-such-flag"},   // unknown flag
		{"trigger", "x", "--var", "novalue"}, // malformed --var
		{"executions", "list", "x", "--limit", "ten"},
	} {
		if r := b.cli(t, args...); r.code != 2 {
			t.Errorf("flowd %s: exit %d, want 2 (usage); stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

func TestHelpIsComplete(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &out); code != 0 {
		t.Fatalf("flowd --help: exit %d", code)
	}
	mustContain(t, "flowd --help", out.String(), "flows", "trigger", "executions", "FLOWD_SERVER", "FLOWD_TOKEN", "DATABASE_URL", "130")
	for _, args := range [][]string{
		{"flows", "list", "-h"}, {"flows", "get", "-h"}, {"flows", "apply", "-h"}, {"trigger", "-h"},
		{"executions", "list", "-h"}, {"executions", "show", "-h"}, {"executions", "watch", "-h"},
		{"executions", "cancel", "--help"}, {"executions", "retry", "-h"}, {"flows", "stop", "-h"}, {"audit", "-h"},
		{"events", "send", "-h"}, {"events", "list", "-h"}, {"events", "show", "-h"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 0 || errOut.Len() > 0 {
			t.Errorf("flowd %s: exit %d, stderr %q; want 0 and the help on stdout", strings.Join(args, " "), code, errOut.String())
		}
		mustContain(t, "flowd "+strings.Join(args, " "), out.String(), "Usage: flowd "+args[0], "--server", "FLOWD_SERVER", "--token", "FLOWD_TOKEN", "--json", "Exit codes:", "Examples:")
	}
}

// TestEventsSendListShow publishes an event with the CLI to two subscribed
// flows, one of which fails: --wait prints both outcomes and exits 1; an
// event whose flows all succeed exits 0; list and show find them.
func TestEventsSendListShow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	subscribe := func(name, url, typ string) string {
		def := twoStepFlow(name, url, b.target.URL+"/ok")
		def["events"] = []string{typ}
		return b.apply(t, def)
	}
	okFlow := subscribe("succeeds", b.target.URL+"/ok", "call.ended")
	badFlow := subscribe("fails", b.target.URL+"/fail", "call.failed")
	okToo := subscribe("succeeds too", b.target.URL+"/ok", "call.*")

	path := filepath.Join(t.TempDir(), "data.json")
	if err := os.WriteFile(path, []byte(`{"call": {"id": "c-1"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := b.mustCLI(t, 0, "events", "send", "call.ended", "--data", "@"+path, "--wait", "--idempotency-key", "e-1")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("send --wait printed %q; want the event id, 2 started executions and 2 outcomes", r.stdout)
	}
	eventID := lines[0]
	for _, flowID := range []string{okFlow, okToo} {
		if !regexp.MustCompile(`(?m)^execution [0-9a-f-]{36} \(flow ` + flowID + `\): success$`).MatchString(r.stdout) {
			t.Errorf("no success line for flow %s:\n%s", flowID, r.stdout)
		}
	}
	r = b.mustCLI(t, 1, "events", "send", "call.failed", "--data", `{"n": 1}`, "--wait")
	if !regexp.MustCompile(`(?m)^execution [0-9a-f-]{36} \(flow ` + badFlow + `\): failed: .*step 1`).MatchString(r.stdout) {
		t.Errorf("failed flow not reported:\n%s", r.stdout)
	}
	if again := b.mustCLI(t, 0, "events", "send", "call.ended", "--idempotency-key", "e-1"); !strings.HasPrefix(again.stdout, eventID+"\n") || !strings.Contains(again.stderr, "already published") {
		t.Errorf("a repeated key: stdout %q stderr %q; want the first event %s", again.stdout, again.stderr, eventID)
	}

	r = b.mustCLI(t, 0, "events", "list", "--type", "call.ended")
	if !strings.Contains(r.stdout, eventID) || strings.Count(strings.TrimSpace(r.stdout), "\n") != 1 {
		t.Errorf("events list --type call.ended:\n%s", r.stdout)
	}
	r = b.mustCLI(t, 0, "events", "show", eventID)
	mustContain(t, "events show output", r.stdout, "Type       call.ended", okFlow, okToo, "success")
	b.cliInvalid(t, 1, "events", "send", "call..ended")
}
