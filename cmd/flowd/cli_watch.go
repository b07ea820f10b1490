package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/flowd/flowd/flow"
)

// WatchIntervalDefault is how often watch and --wait poll the execution.
const WatchIntervalDefault = 250 * time.Millisecond

// watchMaxErrors is how many polls in a row may fail (network, 429, 5xx)
// before watch gives up.
const watchMaxErrors = 5

// watchDetails explains the two output modes of watch and --wait.
const watchDetails = `On a terminal the steps are redrawn in place (ANSI escapes); otherwise (a
pipe, a file, or --plain) one line is printed per change: the execution's
status, then each step's status (with its attempt number, and the error of
a failed attempt), ending with a line "execution ID: STATUS". With --json
nothing is printed until the end, then the final execution object.`

// watchOptions are the flags of the commands that wait for an execution.
type watchOptions struct {
	interval time.Duration
	timeout  time.Duration
	plain    bool
}

// waitFlags declares --wait, described by usage, and the watch flags: the
// flags of the commands that can follow what they start until it ends.
func waitFlags(e *envFlags, usage string) (*bool, *watchOptions) {
	return e.fs.Bool("wait", false, usage), watchFlags(e)
}

func watchFlags(e *envFlags) *watchOptions {
	wo := &watchOptions{}
	e.fs.DurationVar(&wo.interval, "interval", WatchIntervalDefault, "how often to poll the execution")
	e.fs.DurationVar(&wo.timeout, "timeout", 0, "give up waiting after this long (exit code 4; the execution goes on); 0 waits until it ends")
	e.fs.BoolVar(&wo.plain, "plain", false, "print one line per change even on a terminal")
	return wo
}

// isTerminal tells whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// watchView shows the progress of an execution.
type watchView interface {
	update(x *flow.Execution)
}

// watchAndExit follows an execution until it ends and turns its outcome
// into the command's exit code.
func watchAndExit(ctx context.Context, c *client, id string, wo *watchOptions, asJSON bool, stdout, stderr io.Writer) error {
	if wo.interval <= 0 {
		wo.interval = WatchIntervalDefault
	}
	var view watchView = &plainView{w: stdout}
	switch {
	case asJSON:
		view = nil
	case !wo.plain && isTerminal(stdout):
		view = &ttyView{w: stdout, start: time.Now()}
	}
	x, raw, err := watchExecution(ctx, c, id, wo, view)
	if err != nil {
		status := "not known yet"
		if x != nil {
			status = x.Status
		}
		return watchStopped(ctx, err, wo, stderr, "execution "+id+" is "+status, "execution "+id+" goes on")
	}
	if asJSON {
		if err := printJSON(stdout, raw); err != nil {
			return err
		}
	}
	switch x.Status {
	case flow.ExecutionStatusSuccess:
		return nil
	case flow.ExecutionStatusCancelled:
		return exitCodeError{exitCancelled}
	}
	return exitCodeError{exitFailed}
}

var errWatchTimeout = errors.New("watch timed out")

// watchStopped turns the error that stopped watchExecution into the
// command's exit code. A timeout or an interruption is said on stderr:
// state is what was still awaited ("execution ID is running"), goesOn what
// goes on without the command.
func watchStopped(ctx context.Context, err error, wo *watchOptions, stderr io.Writer, state, goesOn string) error {
	switch {
	case errors.Is(err, errWatchTimeout):
		fmt.Fprintf(stderr, "flowd: gave up waiting after %s: %s\n", wo.timeout, state)
		return exitCodeError{exitTimeout}
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "flowd: interrupted; %s\n", goesOn)
		return exitCodeError{exitInterrupted}
	}
	return err
}

// watchExecution polls an execution every wo.interval, showing each state
// on view (which may be nil), until it ends. It returns the final
// execution and its raw JSON.
func watchExecution(ctx context.Context, c *client, id string, wo *watchOptions, view watchView) (*flow.Execution, json.RawMessage, error) {
	var deadline <-chan time.Time
	if wo.timeout > 0 {
		t := time.NewTimer(wo.timeout)
		defer t.Stop()
		deadline = t.C
	}
	var last *flow.Execution
	failures := 0
	for {
		var x flow.Execution
		a, err := c.get(ctx, "/v1/executions/"+url.PathEscape(id), nil, &x)
		switch {
		case err == nil:
			failures = 0
			last = &x
			if view != nil {
				view.update(&x)
			}
			if flow.ExecutionEnded(x.Status) {
				return &x, a.Data, nil
			}
		case ctx.Err() != nil:
			return last, nil, ctx.Err()
		case !retryable(err):
			return last, nil, err
		default:
			failures++
			if failures >= watchMaxErrors {
				return last, nil, fmt.Errorf("watch execution %s: %d polls in a row failed, the last: %w", id, failures, err)
			}
		}
		t := time.NewTimer(wo.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, nil, ctx.Err()
		case <-deadline:
			t.Stop()
			return last, nil, errWatchTimeout
		case <-t.C:
		}
	}
}

// retryable tells whether a failed poll may succeed later: the server was
// unreachable, busy or failing, rather than refusing the request.
func retryable(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code == http.StatusTooManyRequests || ae.code >= 500
	}
	return true
}

// stepSeen is what a view last showed of a step.
type stepSeen struct {
	status   string
	attempts int
}

// plainView prints one line per change.
type plainView struct {
	w       io.Writer
	started bool
	status  string
	attempt int
	steps   map[int]stepSeen
}

func (v *plainView) update(x *flow.Execution) {
	if v.steps == nil {
		v.steps = map[int]stepSeen{}
	}
	changed := !v.started || x.Status != v.status || x.AttemptNumber != v.attempt
	v.started, v.status, v.attempt = true, x.Status, x.AttemptNumber
	if changed && !flow.ExecutionEnded(x.Status) {
		fmt.Fprintln(v.w, executionLine(x))
	}
	for _, n := range stepNumbers(x) {
		st := x.Steps[n]
		seen := stepSeen{st.Status, st.Attempts}
		if old, ok := v.steps[n]; ok && old == seen {
			continue
		}
		v.steps[n] = seen
		fmt.Fprintf(v.w, "step %d: %s\n", n, stepText(st, 0))
	}
	if changed && flow.ExecutionEnded(x.Status) {
		fmt.Fprintln(v.w, executionLine(x))
	}
}

// executionLine describes an execution's status in one line.
func executionLine(x *flow.Execution) string {
	s := fmt.Sprintf("execution %s: %s", x.ID, x.Status)
	switch {
	case x.Status == flow.ExecutionStatusFailed || x.Status == flow.ExecutionStatusCancelled:
		if msg := strPtr(x.ErrorMessage); msg != "" {
			s += ": " + cell(msg, 0)
		}
	case flow.ExecutionEnded(x.Status):
	case x.NextRetryAt != nil:
		s += fmt.Sprintf(" (attempt %d, next retry at %s)", x.AttemptNumber, timeText(x.NextRetryAt))
	default:
		s += fmt.Sprintf(" (attempt %d)", x.AttemptNumber)
	}
	return s
}

// stepText describes a step's state; errors are cut to max characters
// (0: whole).
func stepText(st *flow.StepState, max int) string {
	s := st.Status
	switch st.Status {
	case flow.StepRunning, flow.StepSuccess:
		s += fmt.Sprintf(" (attempt %d)", st.Attempts)
	case flow.StepWaiting:
		s += fmt.Sprintf(" (attempt %d failed: %s", st.Attempts, cell(st.Error, max))
		if st.NextAttemptAt != nil {
			s += "; next attempt at " + timeText(st.NextAttemptAt)
		}
		s += ")"
	case flow.StepFailed:
		s += fmt.Sprintf(" (attempt %d: %s)", st.Attempts, cell(st.Error, max))
	default:
		if st.Error != "" {
			s += " (" + cell(st.Error, max) + ")"
		}
	}
	return s
}

// ttyView redraws the execution's state in place on a terminal.
type ttyView struct {
	w     io.Writer
	start time.Time
	lines int // lines drawn last time
}

func (v *ttyView) update(x *flow.Execution) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "[%s] %s\n", time.Since(v.start).Round(100*time.Millisecond), executionLine(x))
	if len(x.Steps) == 0 {
		b.WriteString("  waiting for a worker to start it\n")
	}
	tw := newTable(&b)
	for _, n := range stepNumbers(x) {
		fmt.Fprintf(tw, "  step %d\t%s\n", n, stepText(x.Steps[n], 60))
	}
	_ = tw.Flush()
	// Lines wider than the terminal would wrap and spoil the redraw.
	width := 80
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		width = n
	}
	lines := strings.SplitAfter(b.String(), "\n")
	b.Reset()
	for _, l := range lines {
		if r := []rune(strings.TrimSuffix(l, "\n")); len(r) >= width {
			l = string(r[:width-2]) + "…\n"
		}
		b.WriteString(l)
	}
	frame := b.Bytes()
	if v.lines > 0 {
		// Up to the first line of the last frame, then clear to the end.
		fmt.Fprintf(v.w, "\x1b[%dA\r\x1b[J", v.lines)
	}
	_, _ = v.w.Write(frame)
	v.lines = bytes.Count(frame, []byte("\n"))
}
