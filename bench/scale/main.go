// Command scale measures wsgate past one process: many wsgate nodes on
// NATS (Debian's nats-server, a separate process) holding a great many
// connections, and a broadcast to all of them.
//
// Two phases, in one run:
//
//   - compare: the same fan-out (one room, -compare-conns subscribers,
//     -compare-rate messages per second for -compare-duration) served by
//     one node, then spread over three (connection i on node i mod 3, the
//     publisher on the first). CPU per delivery of the nodes and NATS
//     together, against one node, is the cross-node cost.
//   - scale: -nodes wsgate processes sharing one port with -reuseport, and
//     wsload with --procs and --source-ips holding -conns connections in
//     one room; then -msgs broadcasts, -interval apart. It reports the
//     connections held, the connect rate, RSS per process and in total,
//     the kernel's TCP socket memory (/proc/net/sockstat), deliveries per
//     second, delivery latency and messages lost.
//
// Run it from the module root (make bench-scale):
//
//	go run ./bench/scale -conns 200000 -nodes 11 -procs 12 -sources 20
//
// Every process it starts is stopped by its pid when it ends (or dies
// with it); every phase is bounded in time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/bench/internal/procmem"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command-line flags.
type options struct {
	phases      string
	conns       int
	nodes       int
	procs       int
	sources     int
	rate        float64
	msgs        int
	interval    time.Duration
	hsTimeout   time.Duration
	size        int
	cmpConns    int
	cmpRate     float64
	cmpDuration time.Duration
	natsBin     string
	jsonOut     string
	logDir      string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.phases, "phases", "compare,scale", "phases to run: compare, scale")
	fs.IntVar(&o.conns, "conns", 200000, "scale: connections held (every one a member of the broadcast room)")
	fs.IntVar(&o.nodes, "nodes", 11, "scale: wsgate processes sharing one port (-reuseport)")
	fs.IntVar(&o.procs, "procs", 12, "scale: wsload worker processes (each must stay under the descriptor limit)")
	fs.IntVar(&o.sources, "sources", 20, "source addresses 127.0.0.2 .. 127.0.0.(1+sources)")
	fs.Float64Var(&o.rate, "rate", 2500, "scale: new connections per second during the ramp")
	fs.IntVar(&o.msgs, "msgs", 10, "scale: broadcasts")
	fs.DurationVar(&o.interval, "interval", 3*time.Second, "scale: time between broadcasts (long enough for one to reach everyone, so each is timed alone)")
	fs.DurationVar(&o.hsTimeout, "handshake-timeout", 30*time.Second, "every node's -handshake-timeout (a busy shared machine may take seconds to serve a handshake during the ramp)")
	fs.IntVar(&o.size, "size", 64, "payload bytes of every message")
	fs.IntVar(&o.cmpConns, "compare-conns", 10000, "compare: subscribers")
	fs.Float64Var(&o.cmpRate, "compare-rate", 10, "compare: messages per second published")
	fs.DurationVar(&o.cmpDuration, "compare-duration", 10*time.Second, "compare: publishing time")
	fs.StringVar(&o.natsBin, "nats-server", "", "nats-server binary (default: found on PATH or in /usr/sbin)")
	fs.StringVar(&o.jsonOut, "json", "", "write every figure as JSON to this file")
	fs.StringVar(&o.logDir, "logs", "", "keep the processes' logs in this directory (default: a temporary one, removed)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench/scale [flags]\n\nMany wsgate nodes on NATS: connections held, broadcast to all, cross-node cost.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var bad []string
	if o.conns < 1 || o.conns > 1_000_000 || o.nodes < 1 || o.nodes > 64 || o.procs < 1 || o.procs > 64 {
		bad = append(bad, "-conns 1..1,000,000, -nodes and -procs 1..64")
	}
	if o.conns/o.procs > 19500 || o.conns/o.nodes > 19500 {
		bad = append(bad, "each node and each wsload process must hold at most 19,500 connections: raise -nodes or -procs")
	}
	if o.sources < 1 || o.sources > 250 || o.msgs < 1 || o.msgs > 600 || o.rate <= 0 || o.cmpConns < 3 || o.cmpConns > 19000 {
		bad = append(bad, "-sources 1..250, -msgs 1..600, -rate > 0, -compare-conns 3..19000")
	}
	if o.interval < 100*time.Millisecond || o.interval > time.Minute || o.hsTimeout <= 0 {
		bad = append(bad, "-interval 100ms..1m, -handshake-timeout > 0")
	}
	if len(bad) > 0 {
		return nil, errors.New("scale: " + strings.Join(bad, "; "))
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := measure(ctx, o, args, stderr)
	if rep != nil {
		writeReport(stdout, rep)
		if o.jsonOut != "" {
			if werr := writeJSON(o.jsonOut, rep); werr != nil {
				fmt.Fprintln(stderr, werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// measure builds the binaries and runs the phases.
func measure(ctx context.Context, o *options, args []string, log io.Writer) (*report, error) {
	natsBin, err := findNATS(o.natsBin)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "wsgate-scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	logDir := o.logDir
	if logDir == "" {
		logDir = tmp
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	fmt.Fprintln(log, "scale: building wsgate and wsload")
	wsgate, wsload, err := build(tmp)
	if err != nil {
		return nil, err
	}
	rep := &report{Command: "go run ./bench/scale " + strings.Join(args, " "), Start: time.Now().UTC(),
		Machine: procmem.Describe(), Source: gitDescribe(), NATS: natsVersion(natsBin)}
	env := &bench{o: o, natsBin: natsBin, wsgate: wsgate, wsload: wsload, dir: logDir, tmp: tmp, log: log}
	for _, ph := range strings.Split(o.phases, ",") {
		switch strings.TrimSpace(ph) {
		case "compare":
			for _, n := range []int{1, 3} {
				r, err := env.compare(ctx, n)
				if r != nil {
					rep.Compare = append(rep.Compare, *r)
				}
				if err != nil {
					return rep, err
				}
			}
		case "scale":
			r, err := env.scale(ctx)
			rep.Scale = r
			if err != nil {
				return rep, err
			}
		default:
			return rep, fmt.Errorf("scale: unknown phase %q", ph)
		}
	}
	return rep, nil
}

// bench holds what the phases share.
type bench struct {
	o                       *options
	natsBin, wsgate, wsload string
	dir, tmp                string
	log                     io.Writer
}

func gitDescribe() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func natsVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
