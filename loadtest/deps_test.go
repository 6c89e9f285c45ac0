package loadtest

import (
	"os/exec"
	"strings"
	"testing"
)

// loadtest and cmd/wsload talk to servers from the outside: they never
// import wsgate's internal packages.
func TestNoInternalImports(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./loadtest/...", "./cmd/wsload")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/wsgate/wsgate/internal") {
			t.Errorf("depends on %s", p)
		}
	}
}
