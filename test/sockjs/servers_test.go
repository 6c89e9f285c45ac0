package sockjsconf

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
)

// startReference starts the sockjs-node reference server
// (reference_server.js) and returns its base URL, or skips (fails with
// WSGATE_REQUIRE_INTEROP) when node or npm sockjs is missing.
func startReference(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		requireDep(t, "node")
	}
	if _, err := os.Stat("../node/node_modules/sockjs/package.json"); err != nil {
		requireDep(t, "npm sockjs in test/node")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "reference_server.js")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				lines <- u
			}
		}
	}()
	select {
	case u := <-lines:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("reference server did not start")
	}
	return ""
}

// wsgateConfig is the gateway set up as the reference is: the SockJS
// test endpoints, a 4096-byte response limit, no rate limits (the
// checks open many sessions from one address).
func wsgateConfig() config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin = ""
	cfg.DevMode = true
	cfg.NoLimits = true
	cfg.Pollers = 2
	cfg.Workers = 2
	cfg.SockJS.TestEndpoints = true
	cfg.SockJS.ResponseLimit = 4096
	return cfg
}

// startWsgate starts a gateway with cfg and returns its base URL and the
// server.
func startWsgate(t testing.TB, cfg config.Config) (string, *server.Server) {
	t.Helper()
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "http://" + srv.Addr().String(), srv
}

// check is one conformance requirement, run against a server's base URL.
type check struct {
	name string
	run  func(c *C, base string)
}

// C is a check's view of its run: failures are recorded, not reported,
// so the same check can run against the reference (whose failures are
// only logged) and against wsgate.
type C struct {
	mu     sync.Mutex
	failed []string
}

// Errorf records a failure.
func (c *C) Errorf(format string, args ...any) {
	c.mu.Lock()
	c.failed = append(c.failed, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// Fatalf records a failure and ends the check.
func (c *C) Fatalf(format string, args ...any) {
	c.Errorf(format, args...)
	panic(fatal{})
}

type fatal struct{}

// run runs ck against base and returns its failures.
func (ck check) runOn(base string) (failed []string) {
	c := &C{}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatal); !ok {
					c.Errorf("panic: %v", r)
				}
			}
		}()
		ck.run(c, base)
	}()
	return c.failed
}
