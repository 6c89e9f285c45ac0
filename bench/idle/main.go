// Command idle measures what one idle connection costs wsgate in resident
// memory, against the floor: a bare nbio TCP echo server (bench/floor) with
// the same pollers and read buffer, i.e. the event loop wsgate builds on.
//
// It builds both servers, then runs them one at a time, alternating
// (floor, wsgate, floor, wsgate, ...) so drift hits both alike. For each run
// it samples the server's memory from /proc after a warm-up connection,
// opens -conns connections from this process (spread over source
// addresses 127.0.0.2...), lets them sit idle, samples again, and reports
// (after - before) / conns. See method below, printed with every report.
//
// Run it from the module root:
//
//	go run ./bench/idle -conns 10000
//
// It exits non-zero only when it cannot measure, never because of a ratio.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command-line flags.
type options struct {
	conns    int
	rounds   int
	sources  int
	workers  int
	echo     bool
	gogc     int
	settle   time.Duration
	idle     time.Duration
	samples  int
	interval time.Duration
	jsonOut  string
	structs  bool
	rev      string
	extra    []string // more wsgate flags
	deflate  bool     // also run wsgate with clients that negotiate permessage-deflate
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.conns, "conns", 10000, "idle connections per run (one process holds them: at most ~19,900 with ulimit -n 20000)")
	fs.IntVar(&o.rounds, "rounds", 2, "runs of each server, alternating floor, wsgate, floor, wsgate, ...")
	fs.IntVar(&o.sources, "sources", 4, "source addresses 127.0.0.2 .. 127.0.0.(1+sources) the connections are spread over")
	fs.IntVar(&o.workers, "workers", 32, "dialling goroutines (they exit once every connection is open)")
	fs.BoolVar(&o.echo, "echo", true, "wsgate: after the handshake send one masked text frame and read its echo (reported, and skipped, if echo does not work)")
	fs.IntVar(&o.gogc, "gogc", 100, "GOGC for both servers")
	fs.DurationVar(&o.settle, "settle", time.Second, "wait after the warm-up connection before the baseline samples")
	fs.DurationVar(&o.idle, "idle", 2*time.Second, "wait after the last connection opens before the samples")
	fs.IntVar(&o.samples, "samples", 3, "memory samples per measurement; the last one counts")
	fs.DurationVar(&o.interval, "interval", time.Second, "time between samples")
	fs.StringVar(&o.jsonOut, "json", "", "also write the figures to this file as JSON")
	fs.StringVar(&o.rev, "rev", "", "source revision to record (default: git describe --always --dirty of the module)")
	wsFlags := fs.String("wsgate-flags", "", "more flags for wsgate, space-separated (e.g. \"-metrics=false -workers 1\")")
	fs.BoolVar(&o.deflate, "deflate", false, "also measure wsgate with every client negotiating permessage-deflate and sending one compressed message (with against without, same run)")
	fs.BoolVar(&o.structs, "structs", true, "also list the sizes of wsgate's per-connection structs (from the binary's DWARF)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench/idle [flags]\n\nIdle memory per connection: wsgate against a bare nbio server.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.extra = strings.Fields(*wsFlags)
	var bad []string
	if o.conns < 1 || o.conns > 19900 {
		bad = append(bad, "-conns must be between 1 and 19900")
	}
	if o.rounds < 1 || o.sources < 1 || o.sources > 250 || o.workers < 1 || o.samples < 1 {
		bad = append(bad, "-rounds, -workers and -samples must be >= 1; -sources between 1 and 250")
	}
	if len(bad) > 0 {
		return nil, errors.New("idle: " + strings.Join(bad, "; "))
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
	rep, err := measureAll(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	rep.Command = "go run ./bench/idle " + strings.Join(args, " ")
	writeReport(stdout, rep)
	if o.jsonOut != "" {
		if err := writeJSON(o.jsonOut, rep); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	return 0
}

// measureAll builds the servers and runs every round.
func measureAll(o *options, log io.Writer) (*report, error) {
	start := time.Now()
	bins, err := build()
	if err != nil {
		return nil, err
	}
	defer bins.remove()
	rep := newReport(o, start)
	rep.Source = bins.rev
	if o.rev != "" {
		rep.Source = o.rev
	}
	if o.structs {
		rep.Structs, rep.StructsErr = structSizes(bins.wsgate)
	}
	echo := echoState{want: o.echo}
	for r := 1; r <= o.rounds; r++ {
		kinds := []string{kindFloor, kindWSGate}
		if o.deflate {
			kinds = append(kinds, kindDeflate)
		}
		for _, kind := range kinds {
			fmt.Fprintf(log, "idle: round %d/%d %s: %d connections\n", r, o.rounds, kind, o.conns)
			res, err := measureOne(o, bins, kind, r, &echo)
			if err != nil {
				return nil, fmt.Errorf("idle: round %d %s: %w", r, kind, err)
			}
			rep.Runs = append(rep.Runs, *res)
		}
	}
	rep.Echo = echo.describe()
	rep.summarize()
	return rep, nil
}

// echoState remembers whether wsgate's echo works, found out once on the
// first wsgate warm-up connection.
type echoState struct {
	want    bool
	checked bool
	works   bool
	reason  string
}

func (e *echoState) describe() string {
	switch {
	case !e.want:
		return "off (-echo=false): handshake only"
	case e.works:
		return "on: each wsgate connection echoed one 4-byte masked text frame"
	default:
		return "NOT WORKING, skipped (handshake only): " + e.reason
	}
}

func gogcString(n int) string {
	if n < 0 {
		return "off"
	}
	return strconv.Itoa(n)
}
