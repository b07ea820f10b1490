package web_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/internal/flowdtest"
)

var update = flag.Bool("update", false, "copy the screenshots of the execution view to docs/")

// chromiumPath returns the Chromium binary. Without one the test is
// skipped, except on CI (CI=true), where .ci/run installs it and its
// absence is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (CI=true: .ci/run should have installed it)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// runChromium runs headless Chromium on pageURL with extra arguments in a
// fresh profile, bounded to 3 minutes (a loaded machine takes a while to
// start a browser), and kills its whole process group after.
func runChromium(t *testing.T, bin, pageURL string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-quic", "--user-data-dir=" + t.TempDir(),
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, pageURL)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		// Chromium's helper processes share its process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("chromium did not finish within 3 minutes; stderr:\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium: %v; stderr:\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}

// screenshot loads pageURL in Chromium at the window size, checks that a
// PNG came back and, with -update, copies it to docs/name. It returns the
// page's DOM (one browser run for both).
func screenshot(t *testing.T, bin, pageURL, name string, width, height int) (dom string) {
	t.Helper()
	shot := filepath.Join(t.TempDir(), name)
	dom = string(runChromium(t, bin, pageURL, "--dump-dom", "--screenshot="+shot,
		fmt.Sprintf("--window-size=%d,%d", width, height), "--hide-scrollbars"))
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is not a PNG (%d bytes)", name, len(png))
	}
	if *update {
		if err := os.WriteFile(filepath.Join("..", "docs", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dom
}

// pageURL is the URL of a page of the execution view signed in as tn
// with Basic credentials in the URL (an API token as the password).
func (b *testBundle) pageURL(t *testing.T, tn *flowdtest.Tenant, path string) string {
	t.Helper()
	u, err := url.Parse(b.env.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("flowd", tn.Token)
	return u.String()
}

// waitStep polls an execution until its step n has the status, or fails
// the test after timeout, and returns the execution as it was then.
func (b *testBundle) waitStep(t *testing.T, id uuid.UUID, n int, status string, timeout time.Duration) *flow.Execution {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var e flow.Execution
		b.env.Do(t, b.tenant, "GET", "/v1/executions/"+id.String(), nil).Decode(t, &e)
		if st := e.Steps[n]; st != nil && st.Status == status {
			return &e
		}
		if time.Now().After(deadline) {
			t.Fatalf("step %d of execution %s is not %s after %s: %+v", n, id, status, timeout, e.Steps[n])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// graphStatuses reads the step graph of a page (its DOM or HTML): each
// box's step number and status.
func graphStatuses(page string) map[int]string {
	got := map[int]string{}
	for _, m := range regexp.MustCompile(`id="graph-step-(\d+)" data-step="\d+" data-status="([a-z_]*)"`).FindAllStringSubmatch(page, -1) {
		n, _ := strconv.Atoi(m[1])
		got[n] = m[2]
	}
	return got
}

// TestPicturesInChromium loads each page of the execution view that has a
// picture in a real browser, checks what the DOM shows, and takes the
// screenshots of docs/: an execution in flight (docs/execution-view.png),
// the same flow once it ended with its last 24 hours
// (docs/flow-view.png), the index with each flow's success rate
// (docs/index-view.png), and a 50-step flow (docs/flow-50-steps.png).
func TestPicturesInChromium(t *testing.T) {
	t.Parallel()
	bin := chromiumPath(t)
	s := setupShowcase(t)
	crm := s.createFlow(t, s.tenant, contactsToCRM())
	s.seedHistory(t, crm, s.tenant.CompanyID, history{perHour: 70, failRate: 0.004, incident: 7, p50: 600 * time.Millisecond, cancelled: 0.01})
	for _, f := range []struct {
		name string
		h    *history
	}{
		{"Invoices to ledger", &history{perHour: 30, failRate: 0, incident: -1, p50: 250 * time.Millisecond}},
		{"Lead webhooks", &history{perHour: 45, failRate: 0.12, incident: 3, p50: 900 * time.Millisecond, cancelled: 0.02}},
		{"Nightly export", nil},
	} {
		def := contactsToCRM()
		def["name"] = f.name
		id := s.createFlow(t, s.tenant, def)
		if f.h != nil {
			s.seedHistory(t, id, s.tenant.CompanyID, *f.h)
		}
	}

	// An execution in flight: step 3 holds, step 7 waits for its retry.
	e := s.trigger(t, s.tenant, crm)
	s.waitStep(t, e.ID, 3, "running", 30*time.Second)
	// The page shows the states of the moment it was rendered; step 7 may
	// change meanwhile (its retry comes 5 s after its failure, and a busy
	// machine may take longer to start a browser). Compare with the states
	// the API showed both before and after the rendering; when they moved,
	// render again.
	states := func() map[int]string {
		var x flow.Execution
		s.env.Do(t, s.tenant, "GET", "/v1/executions/"+e.ID.String(), nil).Decode(t, &x)
		got := map[int]string{}
		for n := 1; n <= 7; n++ {
			got[n] = "pending"
			if st := x.Steps[n]; st != nil {
				got[n] = st.Status
			}
		}
		return got
	}
	execURL := s.pageURL(t, s.tenant, "/ui/executions/"+e.ID.String())
	for try := 1; ; try++ {
		before := states()
		dom := screenshot(t, bin, execURL, "execution-view.png", 1440, 960)
		if after := states(); !maps.Equal(before, after) && try < 5 {
			continue
		}
		if diff := gocmp.Diff(before, graphStatuses(dom)); diff != "" {
			t.Errorf("execution in flight: graph statuses (-want API +got DOM):\n%s", diff)
		}
		break
	}

	s.releaseAll()
	s.env.WaitExecution(t, s.tenant, e.ID, 60*time.Second, "failed")
	flowURL := s.pageURL(t, s.tenant, "/ui/flows/"+crm)
	dom := screenshot(t, bin, flowURL, "flow-view.png", 1440, 1180)
	wantDone := map[int]string{1: "success", 2: "success", 3: "success", 4: "success", 5: "success", 6: "success", 7: "failed"}
	if diff := gocmp.Diff(wantDone, graphStatuses(dom)); diff != "" {
		t.Errorf("flow page: graph statuses (-want +got):\n%s", diff)
	}
	if n := strings.Count(dom, `<g class="bar">`); n < 20 {
		t.Errorf("flow page: %d bars in the last 24 hours, want one an hour", n)
	}
	if n := strings.Count(dom, `<circle `); n < 40 {
		t.Errorf("flow page: %d points on the duration lines, want two an hour", n)
	}

	indexURL := s.pageURL(t, s.tenant, "/ui/")
	dom = screenshot(t, bin, indexURL, "index-view.png", 1440, 560)
	if n := strings.Count(dom, `class="sparkline"`); n != 4 {
		t.Errorf("index: %d sparklines, want 4", n)
	}
	if !inOrder(dom, "Contacts to CRM", "%</span>", "Invoices to ledger", "100.0 %", "Lead webhooks", "%</span>", "Nightly export", "no runs") {
		t.Errorf("index lacks the success rates:\n%s", dom)
	}

	wide := s.createFlow(t, s.tenant, wideFlow())
	we := s.trigger(t, s.tenant, wide)
	s.env.WaitExecution(t, s.tenant, we.ID, 60*time.Second, "success")
	wideURL := s.pageURL(t, s.tenant, "/ui/flows/"+wide)
	dom = screenshot(t, bin, wideURL, "flow-50-steps.png", 1700, 1400)
	if got := graphStatuses(dom); len(got) != 50 {
		t.Errorf("50-step flow: %d boxes in the graph", len(got))
	}
}
