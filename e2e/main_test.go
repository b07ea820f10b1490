package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/flowd/flowd/internal/testdb"
)

// flowdBin is the flowd binary built for this test binary by TestMain.
var flowdBin string

// TestMain builds flowd once into a temporary directory, runs the tests,
// and removes it (and the package's test database).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	flowdBin = filepath.Join(dir, "flowd")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goBin, "build", "-o", flowdBin, "github.com/flowd/flowd/cmd/flowd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build flowd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	testdb.Main(m, func() { os.RemoveAll(dir) })
}
