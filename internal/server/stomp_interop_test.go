package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/stompproto"
)

// The STOMP endpoint against @stomp/stompjs 7 (npm, test/node), in Node
// with npm ws and in headless Chromium (Debian's, driven by
// playwright-core) loading stompjs's browser bundle. Both run
// test/node/stomp_scenarios.js: heart-beats, topics with receipts,
// binary bodies with NULs, queues with ack/nack and redelivery,
// transactions, user destinations (another user, the admin API), /app
// forwarding to the backend below (and its failure), tokens in CONNECT,
// a refused SUBSCRIBE, ERROR on a bad frame.

// stompBackend is the application backend /app SENDs are forwarded to:
// /app/greet answers a greeting on /topic/greetings and "done" on the
// sender's /user/queue/reply; /app/fail answers 500.
func stompBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req stompproto.AppRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if req.Destination != "/app/greet" {
			http.Error(w, "no handler", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(stompproto.AppAnswer{Messages: []stompproto.AppMessage{
			{Destination: "/topic/greetings", Body: "hello " + req.Body + " from " + req.User + " (" + req.Headers["x-trace"] + ")"},
			{Destination: "/user/queue/reply", Body: "done"},
		}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// stompInteropServer starts a server that requires tokens, with fast
// heart-beats and the test backend, and writes the users' tokens to a
// file; it returns the STOMP URL, the admin URL and the tokens file.
func stompInteropServer(t *testing.T, mod func(*config.Config)) (url, admin, tokens string) {
	t.Helper()
	app := stompBackend(t)
	_, addr, adminURL := secServer(t, func(c *config.Config) {
		c.Stomp.HeartBeatSend, c.Stomp.HeartBeatReceive = 500*time.Millisecond, 500*time.Millisecond
		c.Stomp.AppURL = app
		if mod != nil {
			mod(c)
		}
	})
	key := testSecKeys(t).secret
	tok := map[string]string{
		"alice": mint(t, jwt.SigningMethodHS256, key, "", claims("alice", []string{"chat.*", "jobs", "greetings"}, "publish", []string{"chat.*", "jobs", "user.*"})),
		"bob":   mint(t, jwt.SigningMethodHS256, key, "", claims("bob", []string{"chat.*"}, "publish", []string{"chat.*", "user.*"})),
	}
	b, _ := json.Marshal(tok)
	tokens = filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(tokens, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return "ws://" + addr + "/stomp", adminURL, tokens
}

// requireNodePackages returns node and the repository root, or skips
// (fails with WSGATE_REQUIRE_INTEROP) when node or a package is missing.
func requireNodePackages(t *testing.T, pkgs ...string) (node, root string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	for _, p := range pkgs {
		if err == nil {
			_, err = os.Stat(filepath.Join(root, "test", "node", "node_modules", p, "package.json"))
		}
	}
	if err != nil {
		if os.Getenv("WSGATE_REQUIRE_INTEROP") != "" {
			t.Fatalf("node or an npm package (%v) missing and WSGATE_REQUIRE_INTEROP is set: run scripts/setup-test-deps.sh (%v)", pkgs, err)
		}
		t.Skipf("node or an npm package (%v) missing: run scripts/setup-test-deps.sh (%v)", pkgs, err)
	}
	return node, root
}

// runStompScript runs a test/node script and checks its JSON lines: every
// check of stomp_scenarios.js must pass (none may be skipped).
func runStompScript(t *testing.T, node, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", filepath.Base(script), out)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(script), err)
	}
	passed := 0
	for _, line := range strings.Split(string(out), "\n") {
		var r struct {
			Check   string `json:"check"`
			OK      bool   `json:"ok"`
			Skipped bool   `json:"skipped"`
		}
		if json.Unmarshal([]byte(line), &r) != nil || r.Check == "" {
			continue
		}
		if !r.OK || r.Skipped {
			t.Errorf("check %s did not pass", r.Check)
		}
		passed++
	}
	if passed < 11 {
		t.Fatalf("%d checks passed, want all 11", passed)
	}
}

func TestStompjsNode(t *testing.T) {
	node, root := requireNodePackages(t, "ws", "@stomp/stompjs")
	url, admin, tokens := stompInteropServer(t, nil)
	runStompScript(t, node, filepath.Join(root, "test", "node", "stomp_client.js"),
		"--url", url, "--admin", admin, "--tokens", tokens, "--app")
	// npm ws offers permessage-deflate: the large MESSAGEs went compressed.
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "wsgate_deflate_wire_bytes_total "); ok && v == "0" {
			t.Fatal("no MESSAGE went compressed to the deflate clients")
		}
	}
	if !strings.Contains(string(body), `wsgate_stomp_errors_total{reason="forbidden"} 1`) {
		t.Errorf("the refused SUBSCRIBE is not counted:\n%s", body)
	}
}

func TestStompjsChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser test takes a while; skipped with -short")
	}
	node, root := requireNodePackages(t, "@stomp/stompjs", "playwright-core")
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		if os.Getenv("WSGATE_REQUIRE_INTEROP") != "" {
			t.Fatal("chromium missing and WSGATE_REQUIRE_INTEROP is set: run scripts/setup-test-deps.sh")
		}
		t.Skip("chromium missing: run scripts/setup-test-deps.sh")
	}
	url, _, tokens := stompInteropServer(t, func(c *config.Config) {
		c.Origins, c.AllowAnyOrigin = []string{"*"}, true // the page is served from another port
	})
	runStompScript(t, node, filepath.Join(root, "test", "node", "stomp_browser.js"),
		"--url", url, "--tokens", tokens, "--app")
}
