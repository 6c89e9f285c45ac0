// Package layering holds one test: the dependency arrows drawn in
// docs/architecture.md. Each package's non-test imports must stay within
// what its layer allows, so arrows point to the more basic package and
// never back; internal/server, the composition root, is the only package
// that may import them all.
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, per package, the non-standard import prefixes it may use.
var allowed = map[string][]string{
	"github.com/wsgate/wsgate/frame":                {"github.com/wsgate/wsgate/frame/bufpool"},
	"github.com/wsgate/wsgate/frame/bufpool":        nil,
	"github.com/wsgate/wsgate/internal/stomp":       {"github.com/wsgate/wsgate/frame/bufpool"},
	"github.com/wsgate/wsgate/internal/sockjs":      {"github.com/wsgate/wsgate/poller"},
	"github.com/wsgate/wsgate/frame/deflate":        {"github.com/wsgate/wsgate/frame", "github.com/klauspost/compress"},
	"github.com/wsgate/wsgate/poller":               {"github.com/lesismal/nbio", "github.com/wsgate/wsgate/internal/uring"},
	"github.com/wsgate/wsgate/internal/uring":       nil,
	"github.com/wsgate/wsgate/internal/hub":         nil,
	"github.com/wsgate/wsgate/internal/reqhead":     nil,
	"github.com/wsgate/wsgate/internal/broker/wire": nil,
	"github.com/wsgate/wsgate/internal/broker": {"github.com/wsgate/wsgate/internal/broker/wire",
		"github.com/nats-io/nats.go", "github.com/nats-io/nats-server/v2"},
	"github.com/wsgate/wsgate/internal/limits":  nil,
	"github.com/wsgate/wsgate/internal/auth":    {"github.com/golang-jwt/jwt/v5", "github.com/MicahParks/jwkset"},
	"github.com/wsgate/wsgate/internal/metrics": {"github.com/prometheus/client_golang", "github.com/prometheus/common/expfmt", "github.com/prometheus/procfs"},
	"github.com/wsgate/wsgate/internal/config":  {"github.com/pelletier/go-toml/v2"},
	"github.com/wsgate/wsgate/internal/fanout": {"github.com/wsgate/wsgate/frame", "github.com/wsgate/wsgate/poller",
		"github.com/wsgate/wsgate/internal/hub", "github.com/wsgate/wsgate/internal/metrics"},
	"github.com/wsgate/wsgate/internal/protocol": {"github.com/wsgate/wsgate/frame", "github.com/wsgate/wsgate/poller",
		"github.com/wsgate/wsgate/internal/auth", "github.com/wsgate/wsgate/internal/fanout"},
	"github.com/wsgate/wsgate/internal/history": {"github.com/wsgate/wsgate/frame", "github.com/wsgate/wsgate/poller",
		"github.com/wsgate/wsgate/internal/auth", "github.com/wsgate/wsgate/internal/fanout"},
	"github.com/wsgate/wsgate/internal/jsonmux": {"github.com/wsgate/wsgate/frame", "github.com/wsgate/wsgate/poller",
		"github.com/wsgate/wsgate/internal/hub", "github.com/wsgate/wsgate/internal/metrics",
		"github.com/wsgate/wsgate/internal/fanout", "github.com/wsgate/wsgate/internal/protocol",
		"github.com/wsgate/wsgate/internal/history"},
	"github.com/wsgate/wsgate/internal/stompproto": {"github.com/wsgate/wsgate/frame", "github.com/wsgate/wsgate/poller",
		"github.com/wsgate/wsgate/internal/auth", "github.com/wsgate/wsgate/internal/hub", "github.com/wsgate/wsgate/internal/metrics",
		"github.com/wsgate/wsgate/internal/fanout", "github.com/wsgate/wsgate/internal/protocol", "github.com/wsgate/wsgate/internal/stomp",
		"github.com/wsgate/wsgate/internal/history"},
	"github.com/wsgate/wsgate/internal/admin":     {"github.com/wsgate/wsgate/frame", "github.com/wsgate/wsgate/internal/hub"},
	"github.com/wsgate/wsgate/internal/admission": {"github.com/wsgate/wsgate/internal/auth", "github.com/wsgate/wsgate/internal/limits"},
	"github.com/wsgate/wsgate/internal/upgrade": {"github.com/gobwas/ws", "github.com/gobwas/httphead", "github.com/wsgate/wsgate/internal/reqhead", "github.com/wsgate/wsgate/frame/deflate",
		"github.com/wsgate/wsgate/internal/admission", "github.com/wsgate/wsgate/internal/auth", "github.com/wsgate/wsgate/internal/hub",
		"github.com/wsgate/wsgate/internal/limits"},
	"github.com/wsgate/wsgate/internal/sockjs/gateway": {"github.com/wsgate/wsgate/frame", "github.com/wsgate/wsgate/poller", "github.com/wsgate/wsgate/internal/reqhead",
		"github.com/wsgate/wsgate/internal/admission", "github.com/wsgate/wsgate/internal/auth", "github.com/wsgate/wsgate/internal/limits",
		"github.com/wsgate/wsgate/internal/hub", "github.com/wsgate/wsgate/internal/metrics", "github.com/wsgate/wsgate/internal/fanout",
		"github.com/wsgate/wsgate/internal/protocol", "github.com/wsgate/wsgate/internal/sockjs"},
	"github.com/wsgate/wsgate/internal/rawproto": {"github.com/wsgate/wsgate/frame", "github.com/wsgate/wsgate/internal/fanout",
		"github.com/wsgate/wsgate/internal/history", "github.com/wsgate/wsgate/internal/metrics", "github.com/wsgate/wsgate/internal/protocol"},
	"github.com/wsgate/wsgate/internal/cluster": {"github.com/wsgate/wsgate/frame", "github.com/wsgate/wsgate/poller",
		"github.com/wsgate/wsgate/internal/admin", "github.com/wsgate/wsgate/internal/broker", "github.com/wsgate/wsgate/internal/config",
		"github.com/wsgate/wsgate/internal/fanout", "github.com/wsgate/wsgate/internal/history", "github.com/wsgate/wsgate/internal/hub",
		"github.com/wsgate/wsgate/internal/limits", "github.com/wsgate/wsgate/internal/metrics", "github.com/wsgate/wsgate/internal/stompproto",
		"github.com/prometheus/client_golang"},
	"github.com/wsgate/wsgate/web": {"github.com/wsgate/wsgate/internal/reqhead"},
	"github.com/wsgate/wsgate/loadtest": {"github.com/lesismal/nbio", "github.com/wsgate/wsgate/frame",
		"github.com/wsgate/wsgate/loadtest/stats", "github.com/wsgate/wsgate/loadtest/report", "github.com/wsgate/wsgate/loadtest/wsclient"},
	"github.com/wsgate/wsgate/loadtest/wsclient": {"github.com/lesismal/nbio", "github.com/wsgate/wsgate/frame",
		"github.com/wsgate/wsgate/loadtest/stats"},
	"github.com/wsgate/wsgate/loadtest/stats":  {"github.com/HdrHistogram"},
	"github.com/wsgate/wsgate/loadtest/report": {"github.com/wsgate/wsgate/loadtest/stats"},
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
