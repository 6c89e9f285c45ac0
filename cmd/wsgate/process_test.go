package main

// Tests that run the built wsgate binary as a child process: what only a
// real process shows (signals, exit status, SO_REUSEPORT between
// processes, the log stream). The child is built without the race detector:
// it is the program under test, and the race-enabled packages are tested
// in-process elsewhere.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/wstest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// testBinaryVersion is stamped into the test build with -ldflags.
const testBinaryVersion = "ops-test-1"

// wsgateBin builds cmd/wsgate once per test run.
func wsgateBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "wsgate-ops-"); binErr != nil {
			return
		}
		binPath, binErr = wstest.BuildWsgate(binDir, "-X main.version="+testBinaryVersion)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// child is a running wsgate process.
type child struct {
	cmd    *exec.Cmd
	stderr *wstest.SyncBuffer
	exited chan struct{}
	addr   string // WebSocket listener, host:port
	admin  string // admin base URL
}

var (
	addrRE  = regexp.MustCompile(`"?addr"?[=:]"?([0-9.]+:[0-9]+)`)
	adminRE = regexp.MustCompile(`"?admin"?[=:]"?([0-9.]+:[0-9]+)`)
)

// startWsgate runs the binary with args (plus -listen and -admin on free
// loopback ports unless args set them) and waits for its "listening" line.
// The process is killed when the test ends if it is still running.
func startWsgate(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	joined := " " + strings.Join(args, " ")
	if !strings.Contains(joined, " -listen ") {
		args = append(args, "-listen", "127.0.0.1:0")
	}
	if !strings.Contains(joined, " -admin ") {
		args = append(args, "-admin", "127.0.0.1:0")
	}
	if !strings.Contains(joined, " -auth-") {
		args = append(args, "-anonymous", "-no-limits") // load from one address, no tokens
	}
	c := &child{cmd: exec.Command(wsgateBin(t), args...), stderr: &wstest.SyncBuffer{}, exited: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			t.Logf("wsgate %v stderr (last 4 KiB):\n%s", args, tail(c.stderr.String(), 4096))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, line := range strings.Split(c.stderr.String(), "\n") {
			if !strings.Contains(line, "wsgate listening") {
				continue
			}
			if m := addrRE.FindStringSubmatch(line); m != nil {
				c.addr = m[1]
			}
			if m := adminRE.FindStringSubmatch(line); m != nil {
				c.admin = "http://" + m[1]
			}
			return c
		}
		select {
		case <-c.exited:
			t.Fatalf("wsgate exited before listening: %v\n%s", c.cmd.ProcessState, c.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("wsgate not listening after 60s:\n%s", c.stderr.String())
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// wait waits for the process to exit and returns its exit status.
func (c *child) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-c.exited:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("wsgate still running %v after it was told to stop", d)
		return -1
	}
}

func (c *child) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// get returns the status and body of an admin GET, or status 0 when the
// request fails (the listener is gone).
func (c *child) get(path string) (int, string) {
	resp, err := httpClient.Get(c.admin + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *child) post(t *testing.T, path, body string) {
	t.Helper()
	resp, err := httpClient.Post(c.admin+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
}

// stats is the part of GET /api/stats these tests read.
type stats struct {
	Open     int64 `json:"open"`
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
	Users    int   `json:"users"`
}

func (c *child) stats(t *testing.T) stats {
	t.Helper()
	status, body := c.get("/api/stats")
	var st stats
	if err := json.Unmarshal([]byte(body), &st); status != 200 || err != nil {
		t.Fatalf("GET /api/stats: %d %s %v", status, body, err)
	}
	return st
}

// metric returns the value of the series written exactly as key in
// /metrics, or -1 if it is absent.
func (c *child) metric(t *testing.T, key string) float64 {
	t.Helper()
	status, body := c.get("/metrics")
	if status != 200 {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", key, line)
			}
			return f
		}
	}
	return -1
}

// TestBadFlagsProcess runs the binary with several bad values and checks
// the exit status and the report, as an operator would see them.
func TestBadFlagsProcess(t *testing.T) {
	cmd := exec.Command(wsgateBin(t), "-max-message", "0", "-listen", "foo", "-slow-policy", "bogus", "-log-level", "loud")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want status 2\n%s", err, out)
	}
	for _, want := range []string{"max-message 0", `listen "foo"`, `slow-policy "bogus"`, `log-level "loud"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("report does not mention %q:\n%s", want, out)
		}
	}
	vout, err := exec.Command(wsgateBin(t), "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(vout), "wsgate "+testBinaryVersion+" (go") {
		t.Errorf("-version: %v %q, want %q and the Go version", err, vout, "wsgate "+testBinaryVersion)
	}
}

// TestMissingKeyFileProcess: a key file that is not there is a
// configuration problem like any other, exit status 2, which the example
// systemd unit does not restart on (it used to be 1: restarted forever).
func TestMissingKeyFileProcess(t *testing.T) {
	for _, args := range [][]string{
		{"-auth-key-file", "/nonexistent/jwt.pub.pem", "-listen", "127.0.0.1:0", "-admin", ""},
		{"check", "-auth-key-file", "/nonexistent/jwt.pub.pem"},
	} {
		out, err := exec.Command(wsgateBin(t), args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("%v: exit %v, want status 2\n%s", args, err, out)
		}
		if !bytes.Contains(out, []byte("/nonexistent/jwt.pub.pem")) {
			t.Errorf("%v: the report does not name the file:\n%s", args, out)
		}
	}
}

// TestEnvTwinProcess checks that an environment twin reaches the running
// server (its startup line reports the effective max-message).
func TestEnvTwinProcess(t *testing.T) {
	c := startWsgate(t, []string{"WSGATE_MAX_MESSAGE=1MiB", "WSGATE_LOG_FORMAT=json"})
	var line map[string]any
	for _, l := range strings.Split(c.stderr.String(), "\n") {
		if strings.Contains(l, "wsgate listening") {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("WSGATE_LOG_FORMAT=json: startup line is not JSON: %v\n%s", err, l)
			}
		}
	}
	if line["max_message"] != float64(1<<20) {
		t.Errorf("startup line max_message = %v, want 1048576 from WSGATE_MAX_MESSAGE", line["max_message"])
	}
	c.signal(t, syscall.SIGTERM)
	if code := c.wait(t, 60*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM with no connections, want 0", code)
	}
}

// TestReusePortProcesses starts two -reuseport processes on one port and
// connects until both have accepted a connection.
func TestReusePortProcesses(t *testing.T) {
	a := startWsgate(t, nil, "-reuseport")
	b := startWsgate(t, nil, "-reuseport", "-listen", a.addr)
	if b.addr != a.addr {
		t.Fatalf("second process listens on %s, want %s", b.addr, a.addr)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	const tries = 200
	for i := 0; ; i++ {
		if i == tries {
			t.Fatalf("after %d connections: open %d and %d; want both > 0", tries, a.stats(t).Open, b.stats(t).Open)
		}
		c := dialUpgrade(t, a.addr, "/echo", 0)
		conns = append(conns, c.NC)
		if i%10 != 9 {
			continue
		}
		sa, sb := a.stats(t), b.stats(t)
		if sa.Open+sb.Open != int64(len(conns)) {
			// A just-dialled connection may not be counted yet; ask again.
			continue
		}
		if sa.Open > 0 && sb.Open > 0 {
			t.Logf("%d connections: %d on the first process, %d on the second", len(conns), sa.Open, sb.Open)
			break
		}
	}
	// Without -reuseport a third process cannot bind the port.
	cmd := exec.Command(wsgateBin(t), "-listen", a.addr, "-admin", "127.0.0.1:0", "-anonymous")
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("address already in use")) {
		t.Errorf("third process without -reuseport: %v\n%s\nwant a bind error", err, out)
	}
}

// TestRejectLogRateLimited floods the server with bad handshakes and
// checks that at info level the log stays small and every line is JSON,
// and that at debug level every rejection gets its line.
func TestRejectLogRateLimited(t *testing.T) {
	for _, tc := range []struct {
		level string
		n     int
	}{{"info", 1000}, {"debug", 60}} {
		t.Run(tc.level, func(t *testing.T) {
			c := startWsgate(t, nil, "-log-format", "json", "-log-level", tc.level)
			start := time.Now()
			floodRejections(t, c.addr, tc.n)
			wstest.WaitFor(t, 60*time.Second, "every rejection counted", func() bool {
				return c.metric(t, `wsgate_handshakes_total{result="not_found"}`) == float64(tc.n)
			})
			elapsed := time.Since(start)
			c.signal(t, syscall.SIGTERM)
			if code := c.wait(t, 60*time.Second); code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
			rejected, suppressed := 0, 0.0
			for i, l := range strings.Split(strings.TrimSpace(c.stderr.String()), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatalf("log line %d is not JSON: %v\n%s", i+1, err, l)
				}
				if rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
					t.Errorf("log line %d lacks time, level or msg: %s", i+1, l)
				}
				if rec["msg"] == "handshake rejected" {
					rejected++
					if rec["status"] != float64(404) || rec["remote"] == nil || rec["reason"] == nil {
						t.Errorf("rejection line lacks status 404, remote or reason: %s", l)
					}
					if s, ok := rec["suppressed_since_last"].(float64); ok {
						suppressed += s
					}
				}
			}
			if tc.level == "debug" {
				if rejected != tc.n {
					t.Errorf("debug level: %d rejection lines for %d rejections, want one each", rejected, tc.n)
				}
				return
			}
			// The limiter lets 10 lines a second through: the bound follows
			// the flood's duration, not the number of rejections.
			bound := 10 * (int(elapsed.Seconds()) + 2)
			t.Logf("%d rejections in %v: %d log lines, %v reported as suppressed", tc.n, elapsed.Round(time.Millisecond), rejected, suppressed)
			if rejected == 0 || rejected > bound || rejected > tc.n/4 {
				t.Errorf("info level: %d rejection lines for %d rejections in %v, want 1..%d", rejected, tc.n, elapsed, min(bound, tc.n/4))
			}
			if float64(rejected)+suppressed > float64(tc.n) {
				t.Errorf("%d lines + %v suppressed > %d rejections", rejected, suppressed, tc.n)
			}
		})
	}
}

// floodRejections sends n upgrade requests for a path that does not
// exist, from 8 goroutines, and reads each 404.
func floodRejections(t *testing.T, addr string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	req := "GET /no-such-endpoint HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for range next {
				nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					errs <- err
					return
				}
				_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
				_, err = io.WriteString(nc, req)
				var m int
				if err == nil {
					m, err = io.ReadAtLeast(nc, buf, 12)
				}
				nc.Close()
				if err == nil && !bytes.HasPrefix(buf[:m], []byte("HTTP/1.1 404")) {
					err = fmt.Errorf("want 404, got %q", buf[:m])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
