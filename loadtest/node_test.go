package loadtest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// These tests drive every scenario against a third-party server: npm ws,
// in loadtest/testdata/wsserver.js.

func echoCfg(url string) *Config {
	return &Config{
		Scenario: "echo", Targets: []string{url + "/echo"}, Conns: 20, ConnRate: 2000,
		Duration: 700 * time.Millisecond, Drain: 3 * time.Second,
	}
}

// checkExactEcho asserts that every message sent came back once, intact.
func checkExactEcho(t *testing.T, s *stats.Snapshot, conns int64) {
	t.Helper()
	c := s.Counters
	if c.Connected != conns || c.ConnectFailed != 0 {
		t.Errorf("connected %d failed %d, want %d, 0 (%v)", c.Connected, c.ConnectFailed, conns, s.Failures)
	}
	if c.MsgsOut == 0 || c.MsgsIn != c.MsgsOut || c.Delivered != c.MsgsOut {
		t.Errorf("out %d in %d delivered %d: want equal and > 0", c.MsgsOut, c.MsgsIn, c.Delivered)
	}
	if c.Lost != 0 || c.Corrupt != 0 || c.Errors != 0 || c.Expected != c.MsgsOut {
		t.Errorf("lost %d corrupt %d errors %d expected %d", c.Lost, c.Corrupt, c.Errors, c.Expected)
	}
	if n := s.Latency["message"].Count(); n != c.Delivered {
		t.Errorf("latency samples %d, delivered %d", n, c.Delivered)
	}
	if n := s.Latency["handshake"].Count(); n != conns {
		t.Errorf("handshake samples %d, want %d", n, conns)
	}
}

func TestNodeEchoClosedLoopExact(t *testing.T) {
	srv := startNode(t)
	cfg := echoCfg(srv.URL)
	cfg.InFlight = 4
	s := run(t, cfg)
	checkExactEcho(t, s, 20)
	if s.Counters.DeflateConns != 0 {
		t.Errorf("deflate negotiated without an offer")
	}
}

func TestNodeEchoOpenLoopDeflateBinaryExact(t *testing.T) {
	srv := startNode(t)
	cfg := echoCfg(srv.URL)
	cfg.MsgRate, cfg.Deflate, cfg.Binary, cfg.Size = 2000, true, true, 1000
	s := run(t, cfg)
	checkExactEcho(t, s, 20)
	if s.Counters.DeflateConns != 20 {
		t.Errorf("deflate conns %d, want 20", s.Counters.DeflateConns)
	}
	// 2000/s for 0.7 s: the open loop never sends more than its schedule
	// (a slow machine sends fewer and counts them late).
	if got := s.Counters.MsgsOut; got > 1401 {
		t.Errorf("open loop sent %d, schedule has 1400", got)
	}
}

func TestNodeEchoLossDetected(t *testing.T) {
	const k = 10
	srv := startNode(t, "--drop-every", strconv.Itoa(k))
	cfg := echoCfg(srv.URL)
	cfg.MsgRate = 1000
	cfg.Drain = 2 * time.Second // with drops the drain always runs to its end
	s := run(t, cfg)
	c := s.Counters
	if want := c.MsgsOut / k; c.Lost != want || c.Delivered != c.MsgsOut-want {
		t.Errorf("out %d lost %d delivered %d, want lost %d", c.MsgsOut, c.Lost, c.Delivered, want)
	}
}

func TestNodeEchoInjectedDelay(t *testing.T) {
	const d = 40 * time.Millisecond
	srv := startNode(t, "--delay-ms", "40")
	cfg := echoCfg(srv.URL)
	cfg.Conns = 5
	s := run(t, cfg)
	checkExactEcho(t, s, 5)
	h := s.Latency["message"]
	if h.Min() < d-time.Millisecond || h.Quantile(50) < d {
		t.Errorf("min %v p50 %v, want >= %v", h.Min(), h.Quantile(50), d)
	}
	// Closed loop with one in flight: each connection completes at most
	// duration/d round trips.
	if max := int64(5 * (cfg.Duration/d + 1)); s.Counters.Delivered > max {
		t.Errorf("delivered %d > %d possible with a %v delay", s.Counters.Delivered, max, d)
	}
}

func bcastCfg(url string) *Config {
	return &Config{
		Scenario: "broadcast", Targets: []string{url}, Conns: 30, ConnRate: 2000,
		Publishers: 3, PubRate: 150, Duration: 700 * time.Millisecond, Drain: 3 * time.Second,
	}
}

func TestNodeBroadcastWebSocketExact(t *testing.T) {
	srv := startNode(t)
	s := run(t, bcastCfg(srv.URL))
	c := s.Counters
	if c.Subscribers != 30 || c.Published == 0 || c.PublishFailed != 0 {
		t.Fatalf("subscribers %d published %d failed %d", c.Subscribers, c.Published, c.PublishFailed)
	}
	if c.Expected != c.Published*30 || c.Delivered != c.Expected || c.Lost != 0 {
		t.Errorf("published %d delivered %d expected %d lost %d", c.Published, c.Delivered, c.Expected, c.Lost)
	}
	if c.Duplicates != 0 || c.Reordered != 0 || c.Corrupt != 0 {
		t.Errorf("dup %d reorder %d corrupt %d", c.Duplicates, c.Reordered, c.Corrupt)
	}
	if s.Latency["message"].Count() != c.Delivered {
		t.Errorf("latency samples %d, delivered %d", s.Latency["message"].Count(), c.Delivered)
	}
}

func TestNodeBroadcastHTTPLossDetected(t *testing.T) {
	const k = 7
	srv := startNode(t, "--drop-every", strconv.Itoa(k))
	cfg := bcastCfg(srv.URL)
	cfg.PublishURL = srv.HTTP + "/api/publish"
	cfg.Drain = 2 * time.Second
	s := run(t, cfg)
	c := s.Counters
	// Without publisher connections every server send is a subscriber
	// delivery, so exactly every k-th one is missing.
	if c.Published == 0 || c.Expected != c.Published*30 {
		t.Fatalf("published %d expected %d", c.Published, c.Expected)
	}
	if want := c.Expected / k; c.Lost != want || c.Duplicates != 0 {
		t.Errorf("expected %d delivered %d lost %d dup %d, want lost %d", c.Expected, c.Delivered, c.Lost, c.Duplicates, want)
	}
}

func TestNodeConnectFailureKinds(t *testing.T) {
	srv := startNode(t)
	cfg := &Config{
		Scenario: "connect", Conns: 9, Duration: 200 * time.Millisecond,
		Targets: []string{srv.URL + "/echo", srv.URL + "/status/503", "ws://127.0.0.1:1/echo"},
	}
	s := run(t, cfg)
	if s.Counters.Connected != 3 || s.Failures["http_503_service_unavailable"] != 3 || s.Failures["refused"] != 3 {
		t.Errorf("connected %d failures %v", s.Counters.Connected, s.Failures)
	}
}

func TestNodeConnectSourceIPs(t *testing.T) {
	srv := startNode(t)
	ips, err := ParseIPRange("127.0.0.2-127.0.0.4")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Scenario: "connect", Conns: 30, Duration: 100 * time.Millisecond,
		Targets: []string{srv.URL + "/echo"}, SourceIPs: ips}
	s := run(t, cfg)
	if s.Counters.Connected != 30 {
		t.Errorf("connected %d, failures %v", s.Counters.Connected, s.Failures)
	}
}

func TestNodeChurnReconnects(t *testing.T) {
	srv := startNode(t)
	cfg := &Config{
		Scenario: "churn", Targets: []string{srv.URL + "/echo"}, Conns: 20,
		Duration: time.Second, Lifetime: 150 * time.Millisecond, BackoffBase: 20 * time.Millisecond,
		AbruptFraction: 0.5,
	}
	s := run(t, cfg)
	c := s.Counters
	cancelled := c.Cancelled // redials cut off by the end of the run
	if c.Reconnects == 0 || c.ConnectFailed != 0 || c.Connected+cancelled != c.ConnectAttempts {
		t.Errorf("reconnects %d failed %d connected %d cancelled %d attempts %d", c.Reconnects,
			c.ConnectFailed, c.Connected, cancelled, c.ConnectAttempts)
	}
	if c.ConnectAttempts != 20+c.Reconnects {
		t.Errorf("attempts %d != 20 + reconnects %d", c.ConnectAttempts, c.Reconnects)
	}
}

func TestNodeBroadcastStalledAndSlowReaders(t *testing.T) {
	srv := startNode(t)
	cfg := bcastCfg(srv.URL)
	cfg.Conns, cfg.StalledFraction, cfg.SlowFraction = 20, 0.25, 0.25
	s := run(t, cfg)
	c := s.Counters
	if c.StalledConns != 5 || c.SlowConns != 5 || c.Subscribers != 10 {
		t.Fatalf("stalled %d slow %d subscribers %d", c.StalledConns, c.SlowConns, c.Subscribers)
	}
	// The event-loop subscribers still get everything.
	if c.Delivered != c.Published*10 {
		t.Errorf("delivered %d, want %d", c.Delivered, c.Published*10)
	}
}

func TestNodeServerPIDSampled(t *testing.T) {
	srv := startNode(t)
	cfg := echoCfg(srv.URL)
	cfg.Duration, cfg.ServerPID = 1500*time.Millisecond, srv.PID
	s := run(t, cfg)
	if len(s.Server) == 0 || s.Server[0].RSSBytes <= 0 {
		t.Fatalf("server samples %+v", s.Server)
	}
}

func TestNodeCancelReturnsPartial(t *testing.T) {
	srv := startNode(t)
	cfg := echoCfg(srv.URL)
	cfg.Duration = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	s, err := Run(ctx, cfg, nil, nil)
	if s == nil {
		t.Fatalf("no snapshot after cancel: %v", err)
	}
	// Whatever ran is reported; the minute-long run ended at the cancel.
	if s.Counters.ConnectAttempts != 20 || s.Elapsed > 15 {
		t.Errorf("attempts %d elapsed %.1f", s.Counters.ConnectAttempts, s.Elapsed)
	}
}
