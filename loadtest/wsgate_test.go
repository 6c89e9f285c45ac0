package loadtest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// startWsgate builds cmd/wsgate and runs it on a free loopback port. It
// returns the ws:// base URL and the process id.
func startWsgate(t *testing.T) (string, int) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs cmd/wsgate")
	}
	bin := filepath.Join(t.TempDir(), "wsgate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/wsgate")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wsgate: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0")
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
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return "ws://" + a, cmd.Process.Pid
	case <-time.After(15 * time.Second):
		t.Fatal("wsgate did not report its address")
	}
	return "", 0
}

func TestWsgateConnectEchoDeflate(t *testing.T) {
	url, pid := startWsgate(t)

	s := run(t, &Config{Scenario: "connect", Targets: []string{url + "/echo"}, Conns: 200,
		ConnRate: 2000, Duration: 200 * time.Millisecond, ServerPID: pid})
	if s.Counters.Connected != 200 || s.Counters.ConnectFailed != 0 || s.Counters.Disconnects != 0 {
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

	cfg = &Config{Scenario: "connect", Targets: []string{url + "/nope"}, Conns: 3, Duration: 100 * time.Millisecond}
	if s := run(t, cfg); s.Counters.Connected != 0 || s.Counters.ConnectFailed != 3 {
		t.Errorf("unknown path: connected %d failures %v", s.Counters.Connected, s.Failures)
	}
}

// TestWsgateBroadcast runs once wsgate serves /room/{name}; until then it
// skips with the reason.
func TestWsgateBroadcast(t *testing.T) {
	url, _ := startWsgate(t)
	probe := run(t, &Config{Scenario: "connect", Targets: []string{url + "/room/probe"}, Conns: 1, Duration: 50 * time.Millisecond})
	if probe.Counters.Connected == 0 {
		t.Skipf("wsgate does not serve /room/{name} yet (%v)", probe.Failures)
	}
	s := run(t, bcastCfg(url))
	c := s.Counters
	if c.Subscribers != 30 || c.Published == 0 || c.Delivered != c.Published*30 || c.Duplicates+c.Reordered != 0 {
		t.Errorf("broadcast: %+v", c)
	}
}
