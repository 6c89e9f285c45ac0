package main

import (
	"fmt"
	"strconv"
	"time"
)

// kind is what a scenario measures; it decides the wsload scenario and the
// figures taken from its JSON.
type kind int

const (
	kindIdle kind = iota
	kindEcho
	kindFanout
	kindHandshake
)

// scenario is one measured setting, run against every server.
type scenario struct {
	// ID names the scenario in file names and RESULTS.md anchors.
	ID string
	// Title is the table heading.
	Title string
	Kind  kind
	// Deflate runs the servers with -deflate and wsload with --deflate;
	// servers without permessage-deflate are skipped.
	Deflate bool
	// Conns is the number of connections (fan-out: room members).
	Conns int
	// Args are wsload's scenario and flags, without target, --json and
	// --server-pid.
	Args []string
	// Bound is the longest the wsload run may take before it is killed.
	Bound time.Duration
}

// metric describes one column of a scenario's table.
type metric struct {
	Key   string
	Label string
	// Higher is true when bigger is better (throughput), false for
	// latency, memory and CPU.
	Higher bool
}

// metrics returns the columns for k; the first is the headline that the
// ratio column and the chart use.
func (k kind) metrics() []metric {
	switch k {
	case kindIdle:
		return []metric{{"rss_per_conn", "RSS B/conn", false}, {"connected", "conns", true}, {"rss_peak_mib", "peak RSS MiB", false}}
	case kindEcho:
		return []metric{{"msgs_s", "msgs/s", true}, {"p50_ms", "p50 ms", false}, {"p99_ms", "p99 ms", false}, {"cpu_s", "server CPU s", false}, {"per_cpu", "msgs per server CPU s", true}, {"lost", "lost", false}}
	case kindFanout:
		return []metric{{"deliveries_s", "deliveries/s", true}, {"p99_ms", "p99 ms", false}, {"lost", "lost", false}, {"closed", "server closes", false}, {"cpu_s", "server CPU s", false}, {"per_cpu", "deliveries per server CPU s", true}}
	default:
		return []metric{{"hs_s", "handshakes/s", true}, {"hs_p99_ms", "handshake p99 ms", false}, {"failed", "failed", false}, {"cpu_s", "server CPU s", false}}
	}
}

// plan is a named set of scenarios and servers.
type plan struct {
	Scenarios []scenario
	Servers   []string
	Rounds    int
}

// srcIPs spreads large connection counts over loopback addresses.
const srcIPs = "127.0.0.2-127.0.0.40"

func idle(conns int, hold time.Duration) scenario {
	// A gentler ramp and a longer handshake timeout than the other
	// scenarios: every server should get every connection (coder/websocket
	// timed out on a third of 10,000 at 5,000/s on a loaded machine).
	args := []string{"connect", "--conns", itoa(conns), "--rate", "2000", "--handshake-timeout", "15s",
		"--duration", hold.String(), "--source-ips", srcIPs}
	if conns > 15000 {
		args = append(args, "--procs", "2")
	}
	return scenario{ID: "idle-" + kilo(conns), Title: "Idle memory, " + thousands(conns) + " connections",
		Kind: kindIdle, Conns: conns, Args: args, Bound: 3*ramp(conns) + hold + 40*time.Second}
}

func echo(conns, size int, d time.Duration, deflate bool) scenario {
	args := []string{"echo", "--conns", itoa(conns), "--rate", "5000", "--size", itoa(size), "--duration", d.String(),
		"--source-ips", srcIPs, "--drain", "2s"}
	id, title := fmt.Sprintf("echo-%s-%s", sizeName(size), kilo(conns)), fmt.Sprintf("Echo %s, %s connections", sizeName(size), thousands(conns))
	if deflate {
		args = append(args, "--deflate")
		id, title = id+"-deflate", title+", permessage-deflate"
	}
	return scenario{ID: id, Title: title, Kind: kindEcho, Deflate: deflate, Conns: conns, Args: args,
		Bound: ramp(conns) + d + 40*time.Second}
}

func fanout(members int, rate float64, label string, d time.Duration, deflate bool) scenario {
	args := []string{"broadcast", "--conns", itoa(members), "--rate", "5000", "--publishers", "1",
		"--pub-rate", strconv.FormatFloat(rate, 'f', -1, 64), "--room", "bench", "--duration", d.String(),
		"--source-ips", srcIPs, "--drain", "3s"}
	id := fmt.Sprintf("fanout-%s-%s", kilo(members), label)
	title := fmt.Sprintf("Fan-out, one room of %s, %s msgs/s published (%s)", thousands(members), strconv.FormatFloat(rate, 'f', -1, 64), label)
	if deflate {
		args = append(args, "--deflate")
		id, title = id+"-deflate", title+", permessage-deflate"
	}
	return scenario{ID: id, Title: title, Kind: kindFanout, Deflate: deflate, Conns: members, Args: args,
		Bound: ramp(members) + d + 45*time.Second}
}

func handshakes(conns int) scenario {
	return scenario{ID: "handshakes-" + kilo(conns), Title: "Handshakes per second, " + thousands(conns) + " connections opened at up to 20,000/s",
		Kind: kindHandshake, Conns: conns,
		Args:  []string{"connect", "--conns", itoa(conns), "--rate", "20000", "--duration", "1s", "--source-ips", srcIPs},
		Bound: 60 * time.Second}
}

// fullPlan is `make bench`: the whole set, 2 rounds, every server.
func fullPlan() plan {
	const d = 10 * time.Second
	return plan{Rounds: 2, Servers: []string{"wsgate", "nbio", "gws", "gorilla", "gobwas", "coder", "node"}, Scenarios: []scenario{
		idle(10000, 5*time.Second), idle(19000, 5*time.Second),
		echo(1000, 64, d, false), echo(1000, 1024, d, false), echo(10000, 64, d, false), echo(10000, 1024, d, false),
		fanout(10000, 10, "fixed", d, false), fanout(10000, 100, "max", d, false),
		handshakes(10000),
		echo(1000, 1024, d, true), fanout(10000, 10, "fixed", d, true),
	}}
}

// quickPlan is `make bench-quick`: 1,000 connections, 5 s runs, one round,
// four servers; under 5 minutes.
func quickPlan() plan {
	const d = 5 * time.Second
	return plan{Rounds: 1, Servers: []string{"wsgate", "nbio", "gws", "gorilla"}, Scenarios: []scenario{
		idle(1000, 3*time.Second),
		echo(1000, 64, d, false), echo(1000, 1024, d, false),
		fanout(1000, 20, "fixed", d, false),
		handshakes(2000),
		echo(1000, 1024, d, true),
	}}
}

// ramp is how long wsload takes to open conns at 5,000/s, with slack.
func ramp(conns int) time.Duration { return time.Duration(conns/5000+2) * time.Second }

func itoa(n int) string { return strconv.Itoa(n) }

func kilo(n int) string {
	if n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

func sizeName(n int) string {
	if n%1024 == 0 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
