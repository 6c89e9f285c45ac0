// Package layering holds one test: the dependency arrows of DESIGN.md.
// Each package's non-test imports must stay within what its layer allows,
// so arrows point to the more basic package and never back.
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, per package, the non-standard import prefixes it may use.
var allowed = map[string][]string{
	"github.com/wsgate/wsgate/frame":            nil,
	"github.com/wsgate/wsgate/frame/deflate":    {"github.com/wsgate/wsgate/frame", "github.com/klauspost/compress"},
	"github.com/wsgate/wsgate/poller":           {"github.com/lesismal/nbio"},
	"github.com/wsgate/wsgate/internal/hub":     nil,
	"github.com/wsgate/wsgate/internal/limits":  nil,
	"github.com/wsgate/wsgate/internal/auth":    {"github.com/golang-jwt/jwt/v5", "github.com/MicahParks/jwkset"},
	"github.com/wsgate/wsgate/internal/metrics": {"github.com/prometheus/client_golang", "github.com/prometheus/common/expfmt", "github.com/prometheus/procfs"},
	"github.com/wsgate/wsgate/internal/config":  {"github.com/pelletier/go-toml/v2"},
}

func TestDependencyArrows(t *testing.T) {
	args := []string{"list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}"}
	for pkg := range allowed {
		args = append(args, pkg)
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		seen++
		for _, imp := range imports {
			if first, _, _ := strings.Cut(imp, "/"); !strings.Contains(first, ".") {
				continue // standard library
			}
			ok := false
			for _, p := range allowed[pkg] {
				if base := strings.TrimSuffix(p, "/"); imp == base || strings.HasPrefix(imp, base+"/") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s: its layer allows only the standard library and %v", pkg, imp, allowed[pkg])
			}
		}
	}
	if seen != len(allowed) {
		t.Fatalf("go list reported %d packages, want %d", seen, len(allowed))
	}
}
