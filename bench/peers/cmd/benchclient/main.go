// Command benchclient is a closed-loop WebSocket echo and connect
// benchmark client, written apart from wsgate and its load generator so
// that one client that favours no server drives every server in a run.
// Run it with -h for what it does and how it measures.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

const usageText = `benchclient: a closed-loop WebSocket echo and connect benchmark client.

Usage:
  benchclient [flags] ws://HOST:PORT/PATH

It shares no code with wsgate or wsload, so the same client measures every
server alike. Modes:

  -mode echo     open -conns connections, then every connection sends one
                 binary message of -size bytes and sends the next only when
                 the server's echo of it has arrived (closed loop: at most
                 one message in flight per connection). After -warmup the
                 messages echoed during -duration are counted: msgs/s is
                 that count divided by the measured wall time, and the
                 round-trip times of those messages give the percentiles.
  -mode connect  open -conns connections with at most -dial-concurrency
                 handshakes in flight; handshakes/s is the number opened
                 divided by the time from the first dial to the last 101.
                 The connections stay open for -hold, then close.

Engines (-engine):
  epoll    (default) a raw socket loop: non-blocking sockets, one epoll
           instance per loop goroutine (-loops), the handshake and the
           framing written by hand. Every message is one pre-built masked
           frame (random payload, random mask key fixed for the run), so
           the client spends a read and a write per message and no more.
           Every echo is compared byte for byte with what the server must
           send; a difference, a close or a reset counts as an error and
           drops that connection.
  gorilla  one goroutine per connection on github.com/gorilla/websocket
           (WriteMessage, then NextReader and a full read), checked the
           same way; slower per message, kept for comparison.

Phases are announced on standard output, one line each, as they begin:
  phase connect | phase warmup | phase measure | phase done
so a harness can read the server's CPU time and memory exactly around the
measured window (echo: warm-up excluded; connect: the connect phase). In
connect mode "phase measure" comes before the first dial and "phase done"
after the last handshake, while every connection is still open.

The report (a summary on standard error, and -json FILE) holds: connected,
connect_failed, connect_s, handshakes_per_s, handshake latency, measured_s,
msgs, msgs_per_s, rtt percentiles (ms), errors by kind, and client_cpu_s,
the client's own CPU time over the measured window (if it nears the
window's length times the cores it can use, the client is the bottleneck).

Only ws:// to an IPv4 address is supported; permessage-deflate is never
offered. -source-ips spreads connections over local addresses (e.g.
127.0.0.2-127.0.0.40) with IP_BIND_ADDRESS_NO_PORT, for more than one
address's worth of ephemeral ports.

Flags:
`

// config is the parsed command line.
type config struct {
	Mode, Engine     string
	Conns, Size      int
	DialConc, Loops  int
	Warmup, Duration time.Duration
	Hold, Drain      time.Duration
	HandshakeTimeout time.Duration
	Sources          []netip.Addr
	Addr             netip.AddrPort
	Host, Path       string
	Target           string
	JSON             string
	Quiet            bool
}

func main() { os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr)) }

func mainErr(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	rep, err := run(cfg, stdout)
	if cfg.JSON != "" {
		if werr := writeJSON(cfg.JSON, rep); werr != nil && err == nil {
			err = werr
		}
	}
	if !cfg.Quiet {
		rep.print(stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("benchclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Mode, "mode", "echo", "echo or connect")
	fs.StringVar(&cfg.Engine, "engine", "epoll", "epoll (raw socket loop) or gorilla (goroutine per connection)")
	fs.IntVar(&cfg.Conns, "conns", 1000, "connections")
	fs.IntVar(&cfg.Size, "size", 64, "echo: message payload in bytes")
	fs.IntVar(&cfg.DialConc, "dial-concurrency", 1000, "handshakes in flight at most")
	fs.IntVar(&cfg.Loops, "loops", runtime.GOMAXPROCS(0), "epoll: event loops (goroutines, one epoll instance each)")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "echo: unmeasured time after connecting")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "echo: measured time")
	fs.DurationVar(&cfg.Hold, "hold", time.Second, "connect: how long the connections stay open after the last handshake")
	fs.DurationVar(&cfg.Drain, "drain", 2*time.Second, "echo: how long to wait for echoes in flight when the time is up")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", 15*time.Second, "a connection not open after this has failed")
	src := fs.String("source-ips", "", "local IPv4 addresses to dial from: A-B (a range) or A,B,C")
	fs.StringVar(&cfg.JSON, "json", "", "write the report as JSON to this file")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "no summary on standard error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return nil, errors.New("benchclient: one target URL expected")
	}
	if err := cfg.setTarget(fs.Arg(0)); err != nil {
		return nil, err
	}
	var err error
	if cfg.Sources, err = parseSources(*src); err != nil {
		return nil, err
	}
	switch {
	case cfg.Mode != "echo" && cfg.Mode != "connect":
		return nil, fmt.Errorf("benchclient: unknown -mode %q", cfg.Mode)
	case cfg.Engine != "epoll" && cfg.Engine != "gorilla":
		return nil, fmt.Errorf("benchclient: unknown -engine %q", cfg.Engine)
	case cfg.Conns < 1 || cfg.DialConc < 1 || cfg.Loops < 1 || cfg.Size < 0:
		return nil, errors.New("benchclient: -conns, -dial-concurrency and -loops must be positive, -size not negative")
	}
	cfg.Loops = min(cfg.Loops, cfg.Conns)
	return cfg, nil
}

func (c *config) setTarget(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("benchclient: target: %w", err)
	}
	if u.Scheme != "ws" {
		return fmt.Errorf("benchclient: target %q: only ws:// is supported", s)
	}
	ap, err := netip.ParseAddrPort(u.Host)
	if err != nil || !ap.Addr().Is4() {
		return fmt.Errorf("benchclient: target %q: host must be IPv4:port", s)
	}
	c.Addr, c.Host, c.Path, c.Target = ap, u.Host, u.RequestURI(), s
	return nil
}

// parseSources reads "A-B" (an inclusive range in the last octet's
// direction) or "A,B,C".
func parseSources(s string) ([]netip.Addr, error) {
	if s == "" {
		return nil, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(lo)
		b, err2 := netip.ParseAddr(hi)
		if err1 != nil || err2 != nil || !a.Is4() || !b.Is4() || b.Less(a) {
			return nil, fmt.Errorf("benchclient: bad -source-ips range %q", s)
		}
		var out []netip.Addr
		for x := a; x.Compare(b) <= 0 && len(out) < 1<<16; x = x.Next() {
			out = append(out, x)
		}
		return out, nil
	}
	var out []netip.Addr
	for _, f := range strings.Split(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("benchclient: bad -source-ips address %q", f)
		}
		out = append(out, a)
	}
	return out, nil
}

// engine opens connections and runs the closed loop over them.
type engine interface {
	// connect opens cfg.Conns connections and returns when every one has
	// opened or failed.
	connect()
	// start sends the first message on every open connection.
	start()
	// stop ends the loop: no message is sent after it, echoes in flight
	// are awaited up to cfg.Drain, then every connection is closed.
	stop()
	// shards returns the per-worker statistics to add up.
	shards() []*stats
}

func newEngine(cfg *config) (engine, error) {
	if cfg.Engine == "gorilla" {
		return newGorilla(cfg), nil
	}
	return newEpoll(cfg)
}

// phase announces the start of a phase on out.
func phase(out io.Writer, name string) { fmt.Fprintf(out, "phase %s\n", name) }

// run drives one benchmark and returns its report.
func run(cfg *config, out io.Writer) (*report, error) {
	rep := &report{Client: "benchclient", Engine: cfg.Engine, Mode: cfg.Mode, Target: cfg.Target,
		Conns: cfg.Conns, Loops: cfg.Loops, GoMaxProcs: runtime.GOMAXPROCS(0)}
	if cfg.Mode == "echo" {
		rep.Size = cfg.Size
	}
	if cfg.Engine != "epoll" {
		rep.Loops = 0
	}
	eng, err := newEngine(cfg)
	if err != nil {
		return rep, err
	}
	if cfg.Mode == "connect" {
		phase(out, "measure")
	} else {
		phase(out, "connect")
	}
	cpu0, t0 := cpuTime(), time.Now()
	eng.connect()
	rep.ConnectS = time.Since(t0).Seconds()
	rep.fill(eng.shards())
	if rep.ConnectS > 0 {
		rep.HandshakesPerS = float64(rep.Connected) / rep.ConnectS
	}
	if cfg.Mode == "connect" {
		rep.MeasuredS, rep.ClientCPUS = rep.ConnectS, cpuTime()-cpu0
		phase(out, "done")
		time.Sleep(cfg.Hold)
		eng.stop()
		rep.fill(eng.shards())
		if rep.Connected == 0 {
			return rep, errors.New("benchclient: no connection opened")
		}
		return rep, nil
	}
	if rep.Connected == 0 {
		eng.stop()
		return rep, errors.New("benchclient: no connection opened")
	}
	eng.start()
	phase(out, "warmup")
	time.Sleep(cfg.Warmup)
	sh := eng.shards()
	setMeasuring(sh, true)
	m0, cpu0, t1 := sumMsgs(sh), cpuTime(), time.Now()
	phase(out, "measure")
	time.Sleep(cfg.Duration)
	m1, cpu1, t2 := sumMsgs(sh), cpuTime(), time.Now()
	setMeasuring(sh, false)
	phase(out, "done")
	eng.stop()
	rep.WarmupS, rep.MeasuredS, rep.Msgs, rep.ClientCPUS = cfg.Warmup.Seconds(), t2.Sub(t1).Seconds(), m1-m0, cpu1-cpu0
	rep.MsgsPerS = float64(rep.Msgs) / rep.MeasuredS
	rep.fill(sh)
	if rep.Msgs == 0 {
		return rep, errors.New("benchclient: no echo arrived in the measured window")
	}
	return rep, nil
}

// cpuTime returns the process's user+system CPU seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
