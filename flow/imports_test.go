package flow

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestDomainImports fails when package flow depends, directly or through
// another package, on the database driver, the queue, the HTTP stack or the
// network guard: the domain must stay pure.
func TestDomainImports(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"net/http",
		"github.com/jackc/pgx",
		"github.com/riverqueue/river",
		"github.com/flowd/flowd/netguard",
		"github.com/flowd/flowd/store",
		"github.com/flowd/flowd/engine",
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		n++
		for _, f := range forbidden {
			if p.ImportPath == f || strings.HasPrefix(p.ImportPath, f+"/") {
				t.Errorf("package flow depends on %s", p.ImportPath)
			}
		}
	}
	if n < 5 {
		t.Fatalf("go list -deps listed %d packages; expected the standard library and flow's own imports", n)
	}
}
