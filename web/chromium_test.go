package web_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "copy the execution view's screenshot to docs/execution-view.png")

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
// fresh profile, bounded to 60 s, and kills its whole process group after.
func runChromium(t *testing.T, bin, pageURL string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
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
		t.Fatalf("chromium did not finish within 60 s; stderr:\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium: %v; stderr:\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}

// TestExecutionViewInChromium loads the execution page of a finished
// two-step flow in a real browser, signed in with Basic credentials in the
// URL (an API token as the password), and checks the DOM and a screenshot.
func TestExecutionViewInChromium(t *testing.T) {
	t.Parallel()
	bin := chromiumPath(t)
	b := setup(t)
	flowID := b.createFlow(t, b.tenant, b.twoSteps("Contacts to CRM"))
	e := b.trigger(t, b.tenant, flowID)
	b.env.WaitExecution(t, b.tenant, e.ID, 30*time.Second, "success")

	u, err := url.Parse(b.env.URL + "/ui/executions/" + e.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("flowd", b.tenant.Token)

	dom := string(runChromium(t, bin, u.String(), "--dump-dom"))
	if !inOrder(dom,
		`id="execution-status"`, `>success<`,
		`id="step-1"`, `data-status="success"`, `Step 1`, `>success<`,
		`id="step-2"`, `data-status="success"`, `Step 2`, `>success<`) {
		t.Errorf("DOM lacks both steps in order with their statuses:\n%s", dom)
	}
	if !strings.Contains(dom, "Contacts to CRM") {
		t.Errorf("DOM lacks the flow name:\n%s", dom)
	}
	if strings.Contains(dom, "hdr-SECRET-99") || strings.Contains(dom, "key-SECRET-42") {
		t.Error("DOM shows a secret")
	}

	shot := filepath.Join(t.TempDir(), "execution.png")
	runChromium(t, bin, u.String(), "--screenshot="+shot, "--window-size=1200,900", "--hide-scrollbars")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	if *update {
		if err := os.WriteFile(filepath.Join("..", "docs", "execution-view.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
