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
	// kindNeutralEcho and kindNeutralConnect are driven by benchclient
	// (bench/peers/cmd/benchclient) instead of wsload.
	kindNeutralEcho
	kindNeutralConnect
)

// neutral reports whether k is driven by the neutral client.
func (k kind) neutral() bool { return k == kindNeutralEcho || k == kindNeutralConnect }

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
	// --server-pid; for the neutral kinds, benchclient's flags without
	// target and -json.
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
	case kindNeutralEcho:
		return []metric{{"msgs_s", "msgs/s", true}, {"p50_ms", "p50 ms", false}, {"p99_ms", "p99 ms", false},
			{"cpu_s", "server CPU s", false}, {"cpu_per_m", "server CPU s per 1M msgs", false}, {"per_cpu", "msgs per server CPU s", true},
			{"rss_mib", "server RSS MiB", false}, {"client_cpu_s", "client CPU s", false}, {"errors", "errors", false}}
	case kindNeutralConnect:
		return []metric{{"hs_s", "handshakes/s", true}, {"hs_p99_ms", "handshake p99 ms", false}, {"failed", "failed", false},
			{"cpu_s", "server CPU s", false}, {"cpu_us_per_hs", "server CPU µs per handshake", false},
			{"rss_mib", "server RSS MiB", false}, {"client_cpu_s", "client CPU s", false}}
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

// neutralWarmup is the neutral client's unmeasured time before its
// window opens.
const neutralWarmup = 2 * time.Second

// neutralEcho is the closed-loop echo of benchclient, measured over d
// after a warm-up.
func neutralEcho(conns, size int, d time.Duration) scenario {
	args := []string{"-mode", "echo", "-conns", itoa(conns), "-size", itoa(size), "-warmup", neutralWarmup.String(),
		"-duration", d.String(), "-drain", "2s", "-source-ips", srcIPs}
	return scenario{ID: fmt.Sprintf("echo-%s-%s-nc", sizeName(size), kilo(conns)),
		Title: fmt.Sprintf("Echo %s, %s connections, neutral client (closed loop)", sizeName(size), thousands(conns)),
		Kind:  kindNeutralEcho, Conns: conns, Args: args, Bound: ramp(conns) + neutralWarmup + d + 40*time.Second}
}

// neutralDialConcurrency is how many handshakes benchclient keeps in
// flight in the connect phase.
const neutralDialConcurrency = 1000

// neutralConnect is benchclient's connect phase: conns connections with
// at most neutralDialConcurrency handshakes in flight.
func neutralConnect(conns int) scenario {
	args := []string{"-mode", "connect", "-conns", itoa(conns), "-dial-concurrency", itoa(neutralDialConcurrency),
		"-hold", "1s", "-source-ips", srcIPs}
	return scenario{ID: "connect-" + kilo(conns) + "-nc",
		Title: fmt.Sprintf("Connect phase, %s connections, neutral client (%s handshakes in flight)", thousands(conns), thousands(neutralDialConcurrency)),
		Kind:  kindNeutralConnect, Conns: conns, Args: args, Bound: 60 * time.Second}
}

// fullPlan is `make bench`: the whole set, 2 rounds, every server;
// each neutral-client scenario follows the wsload one it mirrors.
func fullPlan() plan {
	const d = 10 * time.Second
	return plan{Rounds: 2, Servers: serverNames(), Scenarios: []scenario{
		idle(10000, 5*time.Second), idle(19000, 5*time.Second),
		echo(1000, 64, d, false), neutralEcho(1000, 64, d),
		echo(1000, 1024, d, false), neutralEcho(1000, 1024, d),
		echo(10000, 64, d, false), neutralEcho(10000, 64, d),
		echo(10000, 1024, d, false), neutralEcho(10000, 1024, d),
		fanout(10000, 10, "fixed", d, false), fanout(10000, 100, "max", d, false),
		handshakes(10000), neutralConnect(10000),
		echo(1000, 1024, d, true), fanout(10000, 10, "fixed", d, true),
	}}
}

// quickPlan is `make bench-quick`: 1,000 connections (10,000 for the
// neutral client's connect phase), 5 s runs, one round, six servers;
// about 6 minutes.
func quickPlan() plan {
	const d = 5 * time.Second
	return plan{Rounds: 1, Servers: []string{"wsgate", "nbio", "nbio-mixed", "quickws", "gws", "gorilla"}, Scenarios: []scenario{
		idle(1000, 3*time.Second),
		echo(1000, 64, d, false), neutralEcho(1000, 64, d),
		echo(1000, 1024, d, false), neutralEcho(1000, 1024, d),
		fanout(1000, 20, "fixed", d, false),
		handshakes(2000), neutralConnect(10000),
		echo(1000, 1024, d, true),
	}}
}

// serverNames lists every server the harness knows, in report order.
func serverNames() []string {
	var out []string
	for _, s := range allServers() {
		out = append(out, s.Name)
	}
	return out
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
