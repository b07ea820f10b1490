package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/flowd/flowd/internal/testdb"
)

var (
	binDir   string
	binOnce  sync.Once
	flowdBin string
	binErr   error
)

// flowdBinary builds flowd once per test binary, into a temporary directory
// that TestMain removes, and returns its path. It is built on first use, so
// that listing the tests or running them with -short builds nothing.
func flowdBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "flowd-e2e-bin-")
		if binErr != nil {
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		flowdBin = filepath.Join(binDir, "flowd")
		out, err := exec.Command(goBin, "build", "-o", flowdBin, "github.com/flowd/flowd/cmd/flowd").CombinedOutput()
		if err != nil {
			binErr = err
			flowdBin = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build flowd: %v\n%s", binErr, flowdBin)
	}
	return flowdBin
}

// TestMain runs the tests, then removes the flowd binary and the package's
// test database.
func TestMain(m *testing.M) {
	testdb.Main(m, func() {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
	})
}
