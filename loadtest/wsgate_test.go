package loadtest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// gate is a running wsgate.
type gate struct {
	URL   string // ws://127.0.0.1:PORT
	Admin string // http://127.0.0.1:PORT of the admin API
	PID   int
}

var wsgateBuild struct {
	sync.Mutex
	dir, bin string
}

// buildWsgate builds cmd/wsgate once per test binary; TestMain removes it.
func buildWsgate(t *testing.T) string {
	wsgateBuild.Lock()
	defer wsgateBuild.Unlock()
	if wsgateBuild.bin != "" {
		return wsgateBuild.bin
	}
	dir, err := os.MkdirTemp("", "wsload-test-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "wsgate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/wsgate")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("go build ./cmd/wsgate: %v\n%s", err, out)
	}
	wsgateBuild.dir, wsgateBuild.bin = dir, bin
	return bin
}

// startWsgate builds cmd/wsgate and runs it on free loopback ports with
// flags, by default "-anonymous -no-limits" (the flags of make run-bench).
func startWsgate(t *testing.T, flags ...string) gate {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs cmd/wsgate")
	}
	bin := buildWsgate(t)
	if len(flags) == 0 {
		flags = []string{"-anonymous", "-no-limits"}
	}
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0"}, flags...)...)
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	addr := make(chan gate, 1)
	go func() {
		re := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
		adm := regexp.MustCompile(`admin=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				g := gate{URL: "ws://" + m[1], PID: cmd.Process.Pid}
				if a := adm.FindStringSubmatch(sc.Text()); a != nil {
					g.Admin = "http://" + a[1]
				}
				addr <- g
			}
		}
	}()
	select {
	case g := <-addr:
		return g
	case <-time.After(15 * time.Second):
		t.Fatal("wsgate did not report its address")
	}
	return gate{}
}

func TestWsgateConnectEchoDeflate(t *testing.T) {
	g := startWsgate(t)
	url, pid := g.URL, g.PID

	s := run(t, &Config{Scenario: "connect", Targets: []string{url + "/echo"}, Conns: 200,
		ConnRate: 2000, Duration: 200 * time.Millisecond, ServerPID: pid})
	if s.Counters.Connected != 200 || s.Counters.ConnectFailed != 0 || s.Counters.ServerCloses != 0 {
		t.Errorf("connect: %+v failures %v closes %v", s.Counters, s.Failures, s.Closes)
	}

	cfg := echoCfg(url)
	cfg.InFlight = 4
	checkExactEcho(t, run(t, cfg), 20)

	cfg = echoCfg(url)
	cfg.Deflate, cfg.MsgRate, cfg.Size = true, 1000, 2000
	s = run(t, cfg)
	checkExactEcho(t, s, 20)
	t.Logf("wsgate deflate conns: %d of 20", s.Counters.DeflateConns)

	s = run(t, &Config{Scenario: "churn", Targets: []string{url + "/echo"}, Conns: 20, Duration: time.Second,
		Lifetime: 150 * time.Millisecond, BackoffBase: 20 * time.Millisecond, AbruptFraction: 0.5})
	c := s.Counters
	if c.Reconnects == 0 || c.Connected+c.ConnectFailed+c.Cancelled != c.ConnectAttempts {
		t.Errorf("churn: %+v failures %v %v closes %v", c, s.Failures, s.Examples, s.Closes)
	}
	if c.ConnectFailed != 0 { // seen once under -race on an overloaded machine
		t.Logf("churn: %d of %d connects failed: %v %v", c.ConnectFailed, c.ConnectAttempts, s.Failures, s.Examples)
	}

	cfg = &Config{Scenario: "connect", Targets: []string{url + "/nope"}, Conns: 3, Duration: 100 * time.Millisecond}
	if s := run(t, cfg); s.Counters.Connected != 0 || s.Counters.ConnectFailed != 3 {
		t.Errorf("unknown path: connected %d failures %v", s.Counters.Connected, s.Failures)
	}
}

// TestWsgateBroadcast publishes over WebSocket and over the admin API to
// wsgate's rooms; it skips while wsgate serves no /room/{name}.
func TestWsgateBroadcast(t *testing.T) {
	g := startWsgate(t)
	probe := run(t, &Config{Scenario: "connect", Targets: []string{g.URL + "/room/probe"}, Conns: 1, Duration: 50 * time.Millisecond})
	if probe.Counters.Connected == 0 {
		t.Skipf("wsgate does not serve /room/{name} yet (%v)", probe.Failures)
	}
	check := func(name string, s *stats.Snapshot) {
		c := s.Counters
		if c.Subscribers != 30 || c.Published == 0 || c.PublishFailed != 0 || c.Delivered != c.Published*30 ||
			c.Duplicates+c.Reordered+c.Corrupt != 0 {
			t.Errorf("%s: %+v", name, c)
		}
	}
	check("websocket publishers", run(t, bcastCfg(g.URL)))
	if g.Admin == "" {
		t.Skip("wsgate reported no admin listener")
	}
	cfg := bcastCfg(g.URL)
	cfg.PublishURL = g.Admin + "/api/publish"
	check("admin API publishers", run(t, cfg))

	// Slow and stalled readers mixed in: the other subscribers still get
	// every message.
	cfg = bcastCfg(g.URL)
	cfg.Conns, cfg.SlowFraction, cfg.StalledFraction, cfg.Size = 40, 0.125, 0.125, 2000
	s := run(t, cfg)
	c := s.Counters
	if c.SlowConns != 5 || c.StalledConns != 5 || c.Subscribers != 30 || c.Delivered != c.Published*30 {
		t.Errorf("slow/stalled mix: %+v", c)
	}
	t.Logf("wsgate disconnected %d of 5 stalled and %d of 5 slow readers", c.StalledClosed, c.SlowClosed)
}

// Fast churn against wsgate: every close is wsload's own, so no close may
// be reported as the server's and no handshake may fail. (Closing a
// descriptor outside the event loop once let a new dial inherit a stale
// hang-up: a phantom server close or failed handshake every few thousand
// closes.)
func TestWsgateChurnNoPhantomCloses(t *testing.T) {
	g := startWsgate(t)
	s := run(t, &Config{Scenario: "churn", Targets: []string{g.URL + "/echo"}, Conns: 100, ConnRate: 5000,
		Duration: 3 * time.Second, Lifetime: 40 * time.Millisecond, BackoffBase: 5 * time.Millisecond, AbruptFraction: 0.3})
	c := s.Counters
	t.Logf("churn: %d closed, %d reconnects", c.Closed, c.Reconnects)
	if c.Closed < 1000 || c.ServerCloses != 0 || c.ConnectFailed != 0 {
		t.Errorf("closed %d server_closes %d %v %v connect_failed %d %v %v", c.Closed, c.ServerCloses, s.Closes,
			s.CloseExamples, c.ConnectFailed, s.Failures, s.Examples)
	}
}
