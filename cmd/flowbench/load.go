package main

// The load process: flowbench starts itself again with FLOWBENCH_ROLE=load.
// The child serves the HTTP target and, on command, triggers executions
// through flowd's API; it reports on its standard output, one line each:
//
//	ADDR <host:port>                      the target listens (first line)
//	A <execution id> <step> <unix ns>     a step request arrived
//	T <execution id> <unix ns>            an API trigger was sent at that time
//	D <ok> <failed> <error or ->          an API run's triggers are all done
//
// Commands arrive on its standard input as JSON lines (loadCommand). The
// child exits when its standard input closes (the parent ended).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
)

const (
	roleEnv        = "FLOWBENCH_ROLE"
	targetDelayEnv = "FLOWBENCH_TARGET_DELAY"
)

// isLoadChild tells whether this process was started as the load process.
func isLoadChild() bool { return os.Getenv(roleEnv) == "load" }

// loadCommand asks the load process to trigger N executions of a flow
// through the API, in a closed loop.
type loadCommand struct {
	Run       string        `json:"run"`
	URL       string        `json:"url"`
	Token     string        `json:"token"`
	FlowID    string        `json:"flow_id"`
	N         int           `json:"n"`
	InFlight  int           `json:"inflight"`
	Clients   int           `json:"clients"`
	FinalStep int           `json:"final_step"`
	Stall     time.Duration `json:"stall"`
	// Event, when set, makes each trigger POST /v1/events with this type,
	// starting Fanout executions.
	Event  string `json:"event,omitempty"`
	Fanout int    `json:"fanout,omitempty"`
}

// lineWriter serialises report lines and flushes them every millisecond
// (and at once for D lines), so the parent sees arrivals promptly without
// a write per request.
type lineWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (lw *lineWriter) line(flush bool, format string, args ...any) {
	lw.mu.Lock()
	fmt.Fprintf(lw.w, format+"\n", args...)
	if flush {
		_ = lw.w.Flush()
	}
	lw.mu.Unlock()
}

func (lw *lineWriter) flushEvery(d time.Duration) {
	for range time.Tick(d) {
		lw.mu.Lock()
		if lw.w.Buffered() > 0 {
			_ = lw.w.Flush()
		}
		lw.mu.Unlock()
	}
}

// runLoadChild is the main function of the load process.
func runLoadChild(stdin io.Reader, stdout io.Writer) error {
	delay, _ := time.ParseDuration(os.Getenv(targetDelayEnv))
	out := &lineWriter{w: bufio.NewWriterSize(stdout, 64<<10)}
	go out.flushEvery(time.Millisecond)

	// finals of the API run in progress: the closed loop's release.
	var mu sync.Mutex
	var finalStep int
	var seen map[string]bool
	var release func()

	tg := &target{delay: delay, arrive: func(execID string, step int, at time.Time) {
		out.line(false, "A %s %d %d", execID, step, at.UnixNano())
		mu.Lock()
		if release != nil && step == finalStep && !seen[execID] {
			seen[execID] = true
			release()
		}
		mu.Unlock()
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the target: %w", err)
	}
	srv := &http.Server{Handler: tg, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	go func() { _ = srv.Serve(ln) }()
	out.line(true, "ADDR %s", ln.Addr())

	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var cmd loadCommand
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			out.line(true, "D 0 0 bad command: %v", err)
			continue
		}
		loop := newClosedLoop(cmd.InFlight, cmd.Stall)
		mu.Lock()
		finalStep, seen, release = cmd.FinalStep, map[string]bool{}, everyNth(cmd.Fanout, loop.release)
		mu.Unlock()
		ok, failed, firstErr, err := loop.run(context.Background(), cmd.N, cmd.Clients, apiTrigger(&cmd, out))
		mu.Lock()
		release = nil
		mu.Unlock()
		msg := "-"
		if err == nil {
			err = firstErr
		}
		if err != nil {
			msg = strings.ReplaceAll(err.Error(), "\n", " ")
		}
		out.line(true, "D %d %d %s", ok, failed, msg)
	}
	return sc.Err()
}

// apiTrigger returns the trigger function of an API run: POST
// /v1/webhooks/{id}/trigger (or POST /v1/events for an event run) with
// keep-alive connections. Each execution started is reported with the
// time of its trigger.
func apiTrigger(cmd *loadCommand, out *lineWriter) func(ctx context.Context) error {
	client := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        cmd.Clients * 2,
		MaxIdleConnsPerHost: cmd.Clients * 2,
		IdleConnTimeout:     time.Minute,
	}, Timeout: 60 * time.Second}
	url := cmd.URL + "/v1/webhooks/" + cmd.FlowID + "/trigger"
	body := []byte(`{"variables":{"source":"flowbench"}}`)
	if cmd.Event != "" {
		url = cmd.URL + "/v1/events"
		body = []byte(`{"type":"` + cmd.Event + `","data":{"source":"flowbench"}}`)
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+cmd.Token)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("trigger: %w", err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("trigger: read answer: %w", err)
		}
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("trigger answered %d: %s", resp.StatusCode, raw)
		}
		ids, err := startedIDs(raw, cmd.Event != "")
		if err != nil {
			return err
		}
		for _, id := range ids {
			out.line(false, "T %s %d", id, t0.UnixNano())
		}
		return nil
	}
}

// startedIDs reads the ids of the executions a trigger answer (or, for an
// event, a publish answer) started.
func startedIDs(raw []byte, event bool) ([]string, error) {
	var env struct {
		Data struct {
			ID         string `json:"id"`
			Executions []struct {
				ID string `json:"id"`
			} `json:"executions"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Data.ID == "" {
		return nil, fmt.Errorf("trigger answer has no id: %s", raw)
	}
	if !event {
		return []string{env.Data.ID}, nil
	}
	if len(env.Data.Executions) == 0 {
		return nil, fmt.Errorf("the event started no execution: %s", raw)
	}
	ids := make([]string, len(env.Data.Executions))
	for i, x := range env.Data.Executions {
		ids[i] = x.ID
	}
	return ids, nil
}

// arrival is what the target saw of one execution.
type arrival struct {
	first    time.Time // the first request of the execution
	final    bool      // its last step arrived
	requests int
}

// apiDone is the D line of an API run.
type apiDone struct {
	ok, failed int
	err        string
}

// loadProc is the parent's handle on the load process.
type loadProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string

	mu        sync.Mutex
	arrivals  map[uuid.UUID]*arrival
	triggers  map[uuid.UUID]time.Time
	finalStep int
	onFinal   func()
	// onArrive, when set (observe), sees every arrival (the soak).
	onArrive  func(id uuid.UUID, step int, at time.Time)
	finals    int
	requests  int
	finalCond chan struct{} // closed and replaced on every final arrival
	done      chan apiDone
	readErr   error
}

// startLoad starts the load process and waits for its target's address.
func startLoad(ctx context.Context, delay time.Duration) (*loadProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable for the load process: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"=load", targetDelayEnv+"="+delay.String())
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the load process: %w", err)
	}
	lp := &loadProc{cmd: cmd, stdin: stdin, finalCond: make(chan struct{}), done: make(chan apiDone, 1)}
	lp.reset(0, nil)
	r := bufio.NewReaderSize(stdout, 256<<10)
	first, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "ADDR ") {
		lp.stop()
		return nil, fmt.Errorf("load process did not start: %q %v", first, err)
	}
	lp.addr = strings.TrimSpace(strings.TrimPrefix(first, "ADDR "))
	go lp.read(r)
	return lp, nil
}

// URL is the target's base URL.
func (lp *loadProc) URL() string { return "http://" + lp.addr }

// Pid is the load process's pid.
func (lp *loadProc) Pid() int { return lp.cmd.Process.Pid }

func (lp *loadProc) stop() {
	_ = lp.stdin.Close()
	done := make(chan struct{})
	go func() { _ = lp.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = lp.cmd.Process.Kill()
		<-done
	}
}

// reset starts a new run: arrivals are recorded afresh, and onFinal (may be
// nil) is called once per execution whose finalStep arrives.
func (lp *loadProc) reset(finalStep int, onFinal func()) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.arrivals = map[uuid.UUID]*arrival{}
	lp.triggers = map[uuid.UUID]time.Time{}
	lp.finalStep, lp.onFinal, lp.onArrive, lp.finals, lp.requests = finalStep, onFinal, nil, 0, 0
}

// noteTrigger records when the execution id was triggered.
func (lp *loadProc) noteTrigger(id uuid.UUID, at time.Time) {
	lp.mu.Lock()
	lp.triggers[id] = at
	lp.mu.Unlock()
}

func (lp *loadProc) read(r *bufio.Reader) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			lp.mu.Lock()
			lp.readErr = err
			lp.mu.Unlock()
			return
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "A":
			if len(f) != 4 {
				continue
			}
			id, err := uuid.Parse(f[1])
			step, _ := strconv.Atoi(f[2])
			ns, _ := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				continue
			}
			lp.arrive(id, step, time.Unix(0, ns))
		case "T":
			if len(f) != 3 {
				continue
			}
			id, err := uuid.Parse(f[1])
			ns, _ := strconv.ParseInt(f[2], 10, 64)
			if err == nil {
				lp.noteTrigger(id, time.Unix(0, ns))
			}
		case "D":
			if len(f) < 4 {
				continue
			}
			ok, _ := strconv.Atoi(f[1])
			failed, _ := strconv.Atoi(f[2])
			msg := strings.Join(f[3:], " ")
			if msg == "-" {
				msg = ""
			}
			lp.done <- apiDone{ok: ok, failed: failed, err: msg}
		}
	}
}

func (lp *loadProc) arrive(id uuid.UUID, step int, at time.Time) {
	lp.mu.Lock()
	lp.requests++
	a := lp.arrivals[id]
	if a == nil {
		a = &arrival{first: at}
		lp.arrivals[id] = a
	}
	a.requests++
	if at.Before(a.first) {
		a.first = at
	}
	var onFinal func()
	onArrive := lp.onArrive
	if step == lp.finalStep && !a.final {
		a.final = true
		lp.finals++
		onFinal = lp.onFinal
		close(lp.finalCond)
		lp.finalCond = make(chan struct{})
	}
	lp.mu.Unlock()
	if onArrive != nil {
		onArrive(id, step, at)
	}
	if onFinal != nil {
		onFinal()
	}
}

// observe calls f with every arrival of the run from now on (until the
// next reset).
func (lp *loadProc) observe(f func(id uuid.UUID, step int, at time.Time)) {
	lp.mu.Lock()
	lp.onArrive = f
	lp.mu.Unlock()
}

// forget drops the arrivals and triggers recorded so far, keeping the
// counters and callbacks: a soak calls it every minute so its memory stays
// flat.
func (lp *loadProc) forget() {
	lp.mu.Lock()
	lp.arrivals = map[uuid.UUID]*arrival{}
	lp.triggers = map[uuid.UUID]time.Time{}
	lp.mu.Unlock()
}

// waitFinals waits until n executions of the run reached their last step,
// or fails when none arrived for the stall time.
func (lp *loadProc) waitFinals(ctx context.Context, n int, stall time.Duration) error {
	for {
		lp.mu.Lock()
		got, ch, rerr := lp.finals, lp.finalCond, lp.readErr
		lp.mu.Unlock()
		if got >= n {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("load process output ended: %w", rerr)
		}
		select {
		case <-ch:
		case <-time.After(stall):
			return fmt.Errorf("%d of %d executions reached their last step; none for %s", got, n, stall)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// runAPI sends an API run to the load process and waits for its triggers.
func (lp *loadProc) runAPI(ctx context.Context, cmd loadCommand) (apiDone, error) {
	b, _ := json.Marshal(cmd)
	if _, err := lp.stdin.Write(append(b, '\n')); err != nil {
		return apiDone{}, fmt.Errorf("send command to the load process: %w", err)
	}
	select {
	case d := <-lp.done:
		return d, nil
	case <-ctx.Done():
		return apiDone{}, ctx.Err()
	}
}

// snapshot returns the run's arrivals and trigger times.
func (lp *loadProc) snapshot() (map[uuid.UUID]*arrival, map[uuid.UUID]time.Time, int) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.arrivals, lp.triggers, lp.requests
}
