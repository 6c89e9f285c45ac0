package loadtest

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/wstest"
	"github.com/wsgate/wsgate/loadtest/stats"
)

// startRefuser runs an HTTP server on 127.0.0.1 that answers every upgrade
// the way a gateway over its limits does: 429 with Retry-After and a
// reason, or 503 on /full.
func startRefuser(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, why := http.StatusTooManyRequests, "limits: connecting too fast"
		if r.URL.Path == "/full" {
			code, why = http.StatusServiceUnavailable, "limits: server full"
		}
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Connection", "close")
		http.Error(w, why, code)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "ws://" + ln.Addr().String()
}

// runMain runs the command line and decodes its --json output.
func runMain(t *testing.T, args ...string) (code int, stdout string, r Result) {
	t.Helper()
	js := filepath.Join(t.TempDir(), "r.json")
	var out, errb bytes.Buffer
	code = Main(append(args, "--quiet", "--json", js), &out, &errb)
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatalf("no JSON (exit %d): %v\nstdout:\n%s\nstderr:\n%s", code, err, out.String(), errb.String())
	}
	r.Snapshot = &stats.Snapshot{}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return code, out.String(), r
}

// When most handshakes are refused the run says so by name, gives one
// hint, and exits non-zero unless told otherwise.
func TestMainRefusedHandshakesExitIncomplete(t *testing.T) {
	url := startRefuser(t)
	code, out, r := runMain(t, "connect", "--conns", "20", "--rate", "2000", "--duration", "100ms", url+"/echo")
	if code != ExitIncomplete {
		t.Errorf("exit %d, want %d\n%s", code, ExitIncomplete, out)
	}
	const kind = "http_429_too_many_requests"
	if r.Failures[kind] != 20 || r.Counters.Connected != 0 || r.Counters.ConnectFailed != 20 {
		t.Errorf("failures %v counters %+v", r.Failures, r.Counters)
	}
	for _, want := range []string{kind + "=20", "Too Many Requests (Retry-After: 1): limits: connecting too fast",
		"INCOMPLETE: only 0 of 20 connections opened", "make run-bench"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "hint: the server refused"); n != 1 || len(r.Hints) != 1 || len(r.Incomplete) != 1 {
		t.Errorf("%d refusal hints in the summary, JSON hints %q incomplete %q; want one of each", n, r.Hints, r.Incomplete)
	}

	code, out, r = runMain(t, "connect", "--conns", "6", "--duration", "100ms", "--allow-incomplete", url+"/full")
	if code != ExitOK || r.Failures["http_503_service_unavailable"] != 6 || len(r.Incomplete) != 1 {
		t.Errorf("--allow-incomplete: exit %d failures %v incomplete %q\n%s", code, r.Failures, r.Incomplete, out)
	}
}

// Against wsgate's own limits: connections over -max-conns-per-ip are
// refused with 429; messages over -rate-msgs are dropped (silently on
// /echo, which has no error messages of its own) and repeated violations
// close with 1008 "rate limit exceeded"; the summary names both, and both
// runs exit incomplete.
func TestWsgateLimitsNamed(t *testing.T) {
	g := startWsgate(t, "-dev", "-max-conns-per-ip", "10", "-rate-msgs", "5", "-rate-msgs-burst", "5", "-rate-close-after", "3")
	code, out, r := runMain(t, "echo", "--conns", "5", "--inflight", "8", "--duration", "1500ms", g.URL+"/echo")
	c := r.Counters
	if code != ExitIncomplete || r.Closes["close_1008_policy_violation"] == 0 || c.ErrorFrames != 0 {
		t.Errorf("echo over the message rate: exit %d codes %v closes %v counters %+v\n%s", code, r.ErrorCodes, r.Closes, c, out)
	}
	for _, want := range []string{"close_1008_policy_violation", "e.g. close_1008_policy_violation: rate limit exceeded", "INCOMPLETE"} {
		if !strings.Contains(out, want) {
			t.Errorf("echo summary lacks %q:\n%s", want, out)
		}
	}

	code, out, r = runMain(t, "connect", "--conns", "40", "--duration", "300ms", g.URL+"/echo")
	if code != ExitIncomplete || r.Counters.Connected > 10 || r.Failures["http_429_too_many_requests"] < 30 {
		t.Errorf("connect over -max-conns-per-ip: exit %d connected %d failures %v\n%s", code, r.Counters.Connected, r.Failures, out)
	}
	if !strings.Contains(out, "hint: the server refused") || !strings.Contains(out, "make run-bench") {
		t.Errorf("no hint:\n%s", out)
	}
}

// A real run: the summary's figures are the JSON's.
func TestCounterNamesAgreeRealRun(t *testing.T) {
	srv := startNode(t)
	code, out, r := runMain(t, "echo", "--conns", "5", "--duration", "300ms", "--deflate", "--size", "300", srv.URL+"/echo")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	rows := wstest.SummaryRows(out)
	b, _ := json.Marshal(r.Counters)
	var js map[string]int64
	_ = json.Unmarshal(b, &js)
	for name, val := range js {
		if got, ok := rows[name]; (val != 0 || ok) && got != val {
			t.Errorf("counter %s: JSON %d, summary %d (row present %v)\n%s", name, val, got, ok, out)
		}
	}
	if rows["deflate_conns"] != 5 || rows["deflate_msgs_out"] == 0 {
		t.Errorf("deflate rows: %v", rows)
	}
}

func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"-version", "--version"} {
		var out, errb bytes.Buffer
		if code := Main([]string{arg}, &out, &errb); code != ExitOK || !strings.HasPrefix(out.String(), "wsload "+Version()+" (go") {
			t.Errorf("%s: exit %d, %q %q", arg, code, out.String(), errb.String())
		}
	}
	if testing.Short() {
		t.Skip("-short: builds cmd/wsload")
	}
	// The Makefile's way of stamping a version.
	bin := filepath.Join(t.TempDir(), "wsload")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/wsgate/wsgate/loadtest.buildVersion=v9.8.7-test", "-o", bin, "./cmd/wsload")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-version").Output()
	if err != nil || !strings.HasPrefix(string(out), "wsload v9.8.7-test (go") {
		t.Errorf("built binary -version: %q %v", out, err)
	}
}

func TestServerErrorCode(t *testing.T) {
	cases := map[string]string{
		`{"type":"error","code":"rate_limited","message":"x"}`: "rate_limited",
		` {"type":"error"} `:                           "unknown",
		`{"type":"message","code":"x","data":"error"}`: "",
		`W0000000000000000000000000000000000000000|`:   "",
		`{"type":"error"`:                              "",
	}
	for in, want := range cases {
		if got := serverErrorCode([]byte(in)); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}
