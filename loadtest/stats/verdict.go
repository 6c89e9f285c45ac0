package stats

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// minDone is the share of what a run was asked to do under which it is
// incomplete: fewer connections opened, messages answered or published.
const minDone = 0.5

// Plan is what a run was asked to do, as far as Assess judges it.
type Plan struct {
	Scenario   string        // connect, echo, broadcast, churn, stomp-...
	Conns      int           // connections (broadcast: subscribers) asked for
	Publishers int           // broadcast publishers
	PublishURL string        // broadcast: publishing over HTTP when not empty (publishers hold no connection)
	MsgRate    float64       // open-loop echo: messages per second in all (0: closed loop)
	Duration   time.Duration // measuring phase
	Deflate    bool          // permessage-deflate asked for
	Size       int           // message payload bytes
}

// Assess fills s.Incomplete with every way the run fell short of what cfg
// asked (under half the connections opened, under half the messages
// answered, ...) and s.Hints with what to change. It is called once, on
// the final (merged) snapshot.
func (s *Snapshot) Assess(cfg Plan) {
	s.Incomplete, s.Hints = nil, nil
	c := &s.Counters
	short := func(done, asked int64) bool { return asked > 0 && float64(done) < minDone*float64(asked) }
	bad := func(format string, a ...any) { s.Incomplete = append(s.Incomplete, fmt.Sprintf(format, a...)) }
	kind := strings.TrimPrefix(cfg.Scenario, "stomp-") // the STOMP scenarios are judged as their plain twins
	switch kind {
	case "connect", "echo", "broadcast":
		asked := int64(cfg.Conns)
		if kind == "broadcast" && cfg.PublishURL == "" {
			asked += int64(cfg.Publishers)
		}
		if short(c.Connected, asked) {
			bad("only %d of %d connections opened (%s)", c.Connected, asked, Percent(c.Connected, asked))
		}
	case "churn":
		if c.ConnectAttempts > 0 && float64(c.ConnectFailed) > minDone*float64(c.ConnectAttempts) {
			bad("%d of %d connection attempts failed (%s)", c.ConnectFailed, c.ConnectAttempts, Percent(c.ConnectFailed, c.ConnectAttempts))
		}
	}
	if float64(c.ServerCloses) > minDone*float64(c.Connected) {
		bad("the server closed %d of the %d connections that opened (%s)", c.ServerCloses, c.Connected, FormatCounts(s.Closes))
	}
	switch kind {
	case "echo":
		switch {
		case c.MsgsOut == 0 && c.Connected > 0:
			bad("no message was sent")
		case short(c.Delivered, c.MsgsOut):
			bad("only %d of %d messages were echoed back (%s)", c.Delivered, c.MsgsOut, Percent(c.Delivered, c.MsgsOut))
		}
		if sched := scheduled(cfg); short(c.MsgsOut, sched) {
			bad("only %d of the %d messages scheduled at --msg-rate %g were sent", c.MsgsOut, sched, cfg.MsgRate)
		}
	case "broadcast":
		if tried := c.Published + c.PublishFailed; short(c.Published, tried) {
			bad("only %d of %d messages were published", c.Published, tried)
		}
		if short(c.Delivered, c.Expected) {
			bad("only %d of %d deliveries arrived (%s)", c.Delivered, c.Expected, Percent(c.Delivered, c.Expected))
		}
	}
	s.hints(cfg)
}

// scheduled is the number of messages an open-loop echo run plans to send.
func scheduled(cfg Plan) int64 {
	if strings.TrimPrefix(cfg.Scenario, "stomp-") != "echo" || cfg.MsgRate <= 0 {
		return 0
	}
	return int64(cfg.MsgRate * cfg.Duration.Seconds())
}

// failuresWith sums the connect failures whose kind starts with one of
// the prefixes, and returns the kinds seen.
func (s *Snapshot) failuresWith(prefixes ...string) (int64, []string) {
	var n int64
	var kinds []string
	for k, v := range s.Failures {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				n += v
				kinds = append(kinds, k)
				break
			}
		}
	}
	sort.Strings(kinds)
	return n, kinds
}

// runBench is the advice for a load test against wsgate's default limits.
const runBench = "against wsgate, start it with `make run-bench` (wsgate -dev -no-limits: no rate limits, no connection maxima)"

func (s *Snapshot) hints(cfg Plan) {
	c := &s.Counters
	hint := func(format string, a ...any) { s.Hints = append(s.Hints, fmt.Sprintf(format, a...)) }
	if n, kinds := s.failuresWith("http_429", "http_503"); n > 0 && (2*n > c.ConnectAttempts || len(s.Incomplete) > 0) {
		hint("the server refused %d of %d handshakes (%s): its connection limits (new connections per second or "+
			"per address, connections per address or in total). For a load test %s; against another server, raise its "+
			"limits, lower --rate, or spread the connections over --source-ips", n, c.ConnectAttempts, strings.Join(kinds, ", "), runBench)
	}
	if n, _ := s.failuresWith("http_401", "http_403"); 2*n > c.ConnectAttempts {
		hint("the server refused %d handshakes for want of a token or permission; for a load test %s, which admits clients without one", n, runBench)
	}
	if n, _ := s.failuresWith("http_404"); 2*n > c.ConnectAttempts {
		hint("the server answered 404 to %d handshakes: check the path (wsgate serves /echo, /room/NAME and /ws)", n)
	}
	if n, _ := s.failuresWith("refused"); 2*n > c.ConnectAttempts {
		hint("nothing accepted connections at %s (%d refused): is the server running? (`make run-bench` starts wsgate on 127.0.0.1:8080)",
			strings.Join(s.Targets, " "), n)
	}
	if rl := s.ErrorCodes["rate_limited"]; rl > 0 {
		hint("the server dropped %d messages as rate_limited (and closes a connection after repeated violations): "+
			"its message limits per connection and per user (wsgate: -rate-msgs, -rate-bytes, -user-rate-*; "+
			"`make run-bench` turns them off)", rl)
	}
	if cfg.Deflate && c.Connected > 0 && c.DeflateConns == 0 {
		hint("--deflate was asked but no connection negotiated permessage-deflate: the server does not offer it (wsgate: -deflate)")
	}
	if c.DeflateConns > 0 && c.MsgsIn > 0 && c.DeflateMsgsIn == 0 {
		hint("the server compressed none of the %d messages it sent: at %d B they are under its compression threshold "+
			"(wsgate: -deflate-threshold, 128 B by default); try --size 1024", c.MsgsIn, cfg.Size)
	}
	if sched := scheduled(cfg); sched > 0 && c.Unsent > sched/20 && 10*c.ServerCloses < c.Connected {
		hint("the open-loop sender fell behind: %d of %d scheduled messages were not sent and %d left late; the delay "+
			"shows as latency. Lower --msg-rate or add --procs", c.Unsent, sched, c.Late)
	}
}
