package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lesismal/nbio/logging"

	"github.com/wsgate/wsgate/loadtest/report"
	"github.com/wsgate/wsgate/loadtest/stats"
)

// Exit codes of Main.
const (
	ExitOK         = 0
	ExitThreshold  = 1 // the run completed but a --threshold failed
	ExitUsage      = 2 // bad flags or the run could not start
	ExitIncomplete = 3 // the run could not do what it was asked (stats.Snapshot.Incomplete), without --allow-incomplete
)

const usageHead = `wsload: WebSocket load generator

usage: wsload SCENARIO [flags] ws://host:port/path [more targets...]
       wsload -version

scenarios:
  connect    ramp to --conns connections at --rate per second, hold --duration
  echo       send and time echoed messages (closed loop --inflight K, or open loop --msg-rate R)
  broadcast  --conns subscribers on /room/NAME, --publishers P sending --pub-rate msgs/s in total
  churn      connections live --lifetime, close and reconnect with jittered exponential backoff
  stomp-connect    connect over STOMP (/stomp): CONNECT, SUBSCRIBE to /topic/ROOM, hold idle --duration
  stomp-broadcast  broadcast over STOMP (/stomp): subscribers on /topic/ROOM, publishers SEND to it
  stomp-echo       echo over STOMP: each connection SENDs to its own /topic/ROOM.eID and times the MESSAGE

run "wsload SCENARIO -h" for the flags. Exit codes: 0 done, 1 a --threshold failed,
2 usage, 3 incomplete (under half the connections opened or messages answered;
--allow-incomplete makes that 0).
`

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// cliOptions are the flags that are not part of Config.
type cliOptions struct {
	jsonPath    string
	reportPath  string
	thresholds  multiFlag
	procs       int
	quiet       bool
	allowPart   bool
	worker      bool
	sourceIPs   string
	targetFlags multiFlag
}

// parseArgs turns command-line arguments into a Config and CLI options.
func parseArgs(args []string, stderr io.Writer) (*Config, *cliOptions, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, usageHead)
		return nil, nil, flag.ErrHelp
	}
	cfg := &Config{Scenario: args[0]}
	o := &cliOptions{}
	fs := flag.NewFlagSet("wsload "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.targetFlags, "target", "target URL (repeatable; positional arguments work too)")
	fs.StringVar(&cfg.Path, "path", "", "request path overriding the URL's")
	fs.IntVar(&cfg.Conns, "conns", 100, "connections (broadcast: subscribers)")
	fs.Float64Var(&cfg.ConnRate, "rate", 1000, "new connections per second during the ramp")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "hold/measure time after the ramp (max 1h)")
	fs.DurationVar(&cfg.Drain, "drain", 2*time.Second, "wait for messages in flight after sending stops")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", 5*time.Second, "TCP connect timeout")
	fs.DurationVar(&cfg.HandshakeTimeout, "handshake-timeout", 5*time.Second, "upgrade response timeout")
	fs.StringVar(&o.sourceIPs, "source-ips", "", "local source addresses, e.g. 127.0.0.2-127.0.0.40 (round robin)")
	fs.BoolVar(&cfg.Deflate, "deflate", false, "offer permessage-deflate")
	fs.StringVar(&cfg.CAFile, "ca-file", "", "wss: PEM roots to verify the server with (default: system roots)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "wss: skip certificate verification")
	fs.Float64Var(&cfg.SlowFraction, "slow-fraction", 0, "share of connections that read slowly")
	fs.Float64Var(&cfg.StalledFraction, "stalled-fraction", 0, "share of connections that never read")
	fs.IntVar(&cfg.SlowRate, "slow-rate", 1024, "bytes per second a slow reader reads")
	fs.IntVar(&cfg.InFlight, "inflight", 1, "echo closed loop: messages in flight per connection")
	fs.Float64Var(&cfg.MsgRate, "msg-rate", 0, "echo open loop: total messages per second (0 = closed loop)")
	fs.IntVar(&cfg.Size, "size", 64, "payload bytes (minimum 42)")
	fs.BoolVar(&cfg.Binary, "binary", false, "binary messages instead of text")
	fs.StringVar(&cfg.Transport, "transport", "websocket", "websocket, or SockJS xhr-streaming or xhr-polling (broadcast: the subscribers')")
	fs.StringVar(&cfg.Room, "room", "load", "broadcast room name (path /room/NAME)")
	fs.IntVar(&cfg.Publishers, "publishers", 1, "broadcast publishers")
	fs.Float64Var(&cfg.PubRate, "pub-rate", 100, "broadcast: total published messages per second")
	fs.StringVar(&cfg.PublishURL, "publish-url", "", "broadcast: publish by POST to this admin URL (e.g. http://host:port/api/publish)")
	fs.BoolVar(&cfg.OwnSubIDs, "own-sub-ids", false, "STOMP: each connection's subscription gets an id of its own (default: all id 0)")
	fs.DurationVar(&cfg.Lifetime, "lifetime", 2*time.Second, "churn: mean connection lifetime (+-50%)")
	fs.DurationVar(&cfg.BackoffBase, "backoff-base", 100*time.Millisecond, "churn: first reconnect delay")
	fs.DurationVar(&cfg.BackoffMax, "backoff-max", 5*time.Second, "churn: reconnect delay cap")
	fs.Float64Var(&cfg.AbruptFraction, "abrupt-fraction", 0, "churn: share of closes without a close frame")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "sample this process's RSS and CPU from /proc each second")
	fs.StringVar(&o.jsonPath, "json", "", "write every figure as JSON to this file")
	fs.StringVar(&o.reportPath, "report", "", "write a self-contained HTML report to this file")
	fs.Var(&o.thresholds, "threshold", "pass/fail check such as p99<50ms (repeatable; exit 1 when violated)")
	fs.IntVar(&o.procs, "procs", 1, "worker processes (each gets a share of connections and source IPs)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	fs.BoolVar(&o.allowPart, "allow-incomplete", false, "exit 0 even when the run could not do what it was asked (under half the connections opened, ...)")
	fs.IntVar(&cfg.WorkerIndex, "worker-index", 0, "internal: this worker's index")
	fs.IntVar(&cfg.Workers, "workers", 1, "internal: number of workers")
	fs.BoolVar(&o.worker, "worker", false, "internal: run as a worker streaming JSON to stdout")
	if err := fs.Parse(reorder(args[1:])); err != nil {
		return nil, nil, err
	}
	cfg.Targets = append(append([]string{}, o.targetFlags...), fs.Args()...)
	if o.sourceIPs != "" {
		ips, err := ParseIPRange(o.sourceIPs)
		if err != nil {
			return nil, nil, err
		}
		cfg.SourceIPs = ips
	}
	if o.procs < 1 || o.procs > MaxProcs {
		return nil, nil, fmt.Errorf("loadtest: --procs must be 1..%d", MaxProcs)
	}
	cfg.Defaults()
	return cfg, o, cfg.Validate()
}

// reorder moves positional arguments after the flags, so that
// "wsload echo ws://x --conns 5" works as well as the flag-first form.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		if !strings.Contains(a, "=") && i+1 < len(args) && !isBoolFlag(a) {
			i++
			flags = append(flags, args[i])
		}
	}
	return append(flags, pos...)
}

func isBoolFlag(a string) bool {
	switch strings.TrimLeft(a, "-") {
	case "deflate", "binary", "quiet", "worker", "insecure", "allow-incomplete", "own-sub-ids", "h", "help":
		return true
	}
	return false
}

// Main runs wsload with args (without the program name) and returns the
// process exit code. Ctrl-C ends the run early and still prints the summary.
func Main(args []string, stdout, stderr io.Writer) int {
	logging.SetLevel(logging.LevelError) // nbio's start/stop lines would interleave with progress
	if len(args) == 1 && (args[0] == "-version" || args[0] == "--version" || args[0] == "version") {
		fmt.Fprintln(stdout, versionLine())
		return ExitOK
	}
	cfg, o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	var ths []stats.Threshold
	for _, e := range o.thresholds {
		t, err := stats.ParseThreshold(e)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		ths = append(ths, t)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process at once
	}()
	if o.worker {
		return runWorker(ctx, cfg, os.Stdin, stdout, stderr)
	}
	pp := report.NewProgressPrinter(stderr)
	prog := Progress(pp.Print)
	if o.quiet {
		prog = nil
	}
	var snap *stats.Snapshot
	if o.procs > 1 {
		snap, err = RunProcs(ctx, args, o.procs, cfg, prog, stderr)
	} else {
		snap, err = Run(ctx, cfg, prog, nil)
	}
	pp.Done()
	if snap == nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, "wsload:", err)
	}
	snap.Assess(cfg.plan())
	checks, pass := stats.CheckAll(ths, snap)
	report.WriteSummary(stdout, snap, checks)
	if err := writeOutputs(o, snap, checks); err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	switch {
	case len(snap.Incomplete) > 0 && !o.allowPart:
		return ExitIncomplete
	case !pass:
		return ExitThreshold
	}
	return ExitOK
}

// Result is the JSON document written by --json.
type Result struct {
	*stats.Snapshot
	Thresholds []stats.ThresholdResult `json:"thresholds,omitempty"`
}

func writeOutputs(o *cliOptions, s *stats.Snapshot, checks []stats.ThresholdResult) error {
	if o.jsonPath != "" {
		b, err := json.MarshalIndent(Result{Snapshot: s, Thresholds: checks}, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonPath, b, 0o644); err != nil {
			return err
		}
	}
	if o.reportPath != "" {
		f, err := os.Create(o.reportPath)
		if err != nil {
			return err
		}
		if err := report.WriteHTML(f, s, checks); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}
