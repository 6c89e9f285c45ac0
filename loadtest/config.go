package loadtest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
	"github.com/wsgate/wsgate/loadtest/wsclient"
)

// Hard limits: every run is bounded in time and count whatever the flags say.
const (
	MaxDuration   = time.Hour
	MaxConns      = 1_000_000
	MaxPublishers = 1000
	MaxMsgRate    = 10_000_000
	MaxSize       = 16 << 20
	MaxProcs      = 64
	MaxInFlight   = 1024
)

// Config is one run's settings. The zero value of each field is replaced by
// the default documented on it (see Defaults).
type Config struct {
	Scenario string   // connect, echo, broadcast or churn
	Targets  []string // ws:// URLs; connection i uses Targets[i % len]
	Path     string   // request path overriding the URL's (broadcast: /room/<Room>)

	Conns            int           // connections (broadcast: subscribers); default 100
	ConnRate         float64       // new connections per second during the ramp; default 1000
	Duration         time.Duration // hold / measurement time after the ramp; default 10s
	Drain            time.Duration // wait for replies in flight after sending stops; default 2s
	DialTimeout      time.Duration // default 5s
	HandshakeTimeout time.Duration // default 5s
	SourceIPs        []net.IP      // local addresses used round robin
	Deflate          bool          // offer permessage-deflate
	CAFile           string        // wss: PEM file of roots to trust (default: the system's)
	Insecure         bool          // wss: do not verify the server certificate

	SlowFraction    float64 // share of connections that read slowly (plain goroutine reader)
	StalledFraction float64 // share of connections that never read after the handshake
	SlowRate        int     // bytes per second a slow reader reads; default 1024

	// echo
	InFlight int     // closed loop: messages in flight per connection; default 1
	MsgRate  float64 // open loop: total messages per second (0 = closed loop)
	Size     int     // payload bytes (at least the 42-byte stamp); default 64
	Binary   bool    // binary messages (default text)

	// Transport is websocket (default), or a SockJS transport
	// (xhr-streaming, xhr-polling) for the connections (broadcast: the
	// subscribers; publishers stay WebSocket).
	Transport string

	// broadcast
	Room       string  // room name; default "load"
	Publishers int     // default 1
	PubRate    float64 // total published messages per second; default 100
	PublishURL string  // when set, publish by HTTP POST here instead of WebSocket

	// STOMP: OwnSubIDs gives each connection's subscription an id of its
	// own instead of 0 (the id every stompjs client's first subscription
	// shares, as sub-0).
	OwnSubIDs bool

	// churn
	Lifetime       time.Duration // mean connection lifetime; default 2s (jittered +-50%)
	BackoffBase    time.Duration // first reconnect delay; default 100ms
	BackoffMax     time.Duration // reconnect delay cap; default 5s
	AbruptFraction float64       // share of churn closes without a close frame

	ServerPID int // when set, sample this process's RSS and CPU each second

	// Worker partitioning, set by the --procs parent.
	WorkerIndex int
	Workers     int
}

// Defaults fills zero fields with their defaults.
func (c *Config) Defaults() {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Conns == 0 {
		c.Conns = 100
	}
	if c.ConnRate == 0 {
		c.ConnRate = 1000
	}
	setDur(&c.Duration, 10*time.Second)
	setDur(&c.Drain, 2*time.Second)
	setDur(&c.DialTimeout, 5*time.Second)
	setDur(&c.HandshakeTimeout, 5*time.Second)
	setDur(&c.Lifetime, 2*time.Second)
	setDur(&c.BackoffBase, 100*time.Millisecond)
	setDur(&c.BackoffMax, 5*time.Second)
	if c.SlowRate == 0 {
		c.SlowRate = 1024
	}
	if c.InFlight == 0 {
		c.InFlight = 1
	}
	if c.Size == 0 {
		c.Size = 64
	}
	if c.Size < stampLen {
		c.Size = stampLen
	}
	if c.Room == "" {
		c.Room = "load"
	}
	if c.Publishers == 0 {
		c.Publishers = 1
	}
	if c.PubRate == 0 {
		c.PubRate = 100
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("loadtest: "+format, a...)) }
	c.validateTransport(bad)
	switch c.Scenario {
	case "connect", "echo", "broadcast", "churn", "stomp-connect", "stomp-broadcast", "stomp-echo":
	default:
		bad("unknown scenario %q (connect, echo, broadcast, churn, stomp-connect, stomp-broadcast, stomp-echo)", c.Scenario)
	}
	if len(c.Targets) == 0 {
		bad("no target URL")
	}
	for _, t := range c.Targets {
		if _, err := wsclient.ParseTarget(t, ""); err != nil {
			bad("target %q: %v", t, err)
		}
	}
	if c.Conns < 0 || c.Conns > MaxConns {
		bad("--conns must be 0..%d", MaxConns)
	}
	if c.ConnRate < 0 {
		bad("--rate must be positive")
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		bad("--duration must be in (0, %s]", MaxDuration)
	}
	if c.Drain < 0 || c.Drain > time.Minute {
		bad("--drain must be in [0, 1m]")
	}
	if c.SlowFraction < 0 || c.StalledFraction < 0 || c.SlowFraction+c.StalledFraction > 1 {
		bad("--slow-fraction and --stalled-fraction must be >= 0 and sum to at most 1")
	}
	if c.InFlight < 1 || c.InFlight > MaxInFlight {
		bad("--inflight must be 1..%d", MaxInFlight)
	}
	if c.MsgRate < 0 || c.MsgRate > MaxMsgRate || c.PubRate < 0 || c.PubRate > MaxMsgRate {
		bad("message rates must be 0..%d", MaxMsgRate)
	}
	if c.Size > MaxSize {
		bad("--size must be at most %d", MaxSize)
	}
	if c.Publishers < 1 || c.Publishers > MaxPublishers {
		bad("--publishers must be 1..%d", MaxPublishers)
	}
	if c.PublishURL != "" && !strings.HasPrefix(c.PublishURL, "http://") {
		bad("--publish-url must be http://")
	}
	if c.AbruptFraction < 0 || c.AbruptFraction > 1 {
		bad("--abrupt-fraction must be 0..1")
	}
	if c.Workers < 1 || c.Workers > MaxProcs || c.WorkerIndex < 0 || c.WorkerIndex >= c.Workers {
		bad("bad worker partition %d/%d", c.WorkerIndex, c.Workers)
	}
	return errors.Join(errs...)
}

// ParseIPRange parses "127.0.0.2-127.0.0.40" (an IPv4 range), a single
// address, or a comma-separated list of either.
func ParseIPRange(s string) ([]net.IP, error) {
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a := net.ParseIP(strings.TrimSpace(lo)).To4()
		if a == nil {
			return nil, fmt.Errorf("loadtest: bad IPv4 address %q", lo)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b := net.ParseIP(strings.TrimSpace(hi)).To4()
		if b == nil {
			return nil, fmt.Errorf("loadtest: bad IPv4 address %q", hi)
		}
		x, y := ipToU32(a), ipToU32(b)
		if y < x || y-x > 1<<16 {
			return nil, fmt.Errorf("loadtest: bad address range %q", part)
		}
		for v := x; v <= y; v++ {
			out = append(out, net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4())
		}
	}
	return out, nil
}

func ipToU32(ip net.IP) uint32 {
	return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
}

// share returns this worker's part of n split over c.Workers (the first
// n % Workers workers get one more).
func (c *Config) share(n int) int {
	s := n / c.Workers
	if c.WorkerIndex < n%c.Workers {
		s++
	}
	return s
}

// ipShare returns this worker's source addresses: every Workers-th one, or
// all of them when there are fewer addresses than workers.
func (c *Config) ipShare() []net.IP {
	if len(c.SourceIPs) < c.Workers {
		return c.SourceIPs
	}
	var out []net.IP
	for i := c.WorkerIndex; i < len(c.SourceIPs); i += c.Workers {
		out = append(out, c.SourceIPs[i])
	}
	return out
}

// plan is what the run was asked to do, for judging its results.
func (c *Config) plan() stats.Plan {
	return stats.Plan{Scenario: c.Scenario, Conns: c.Conns, Publishers: c.Publishers, PublishURL: c.PublishURL,
		MsgRate: c.MsgRate, Duration: c.Duration, Deflate: c.Deflate, Size: c.Size}
}
