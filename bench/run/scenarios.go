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
	// kindStompFanout and kindStompIdle run wsgate alone, once per
	// variant (raw /room, STOMP), and compare the variants.
	kindStompFanout
	kindStompIdle
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
	// Variants, when set, replace the servers: the scenario runs against
	// wsgate once per variant (its rows), each with its own wsload
	// arguments; the first variant is the reference of the ratio column.
	Variants []variant
}

// variant is one row of a scenario that compares two ways of using
// wsgate (STOMP against raw /room).
type variant struct {
	// Name is the row's name; File names its files.
	Name, File string
	// Path is the target's request path.
	Path string
	// Args are wsload's scenario and flags, as in scenario.Args.
	Args []string
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
	case kindStompFanout:
		return []metric{{"per_cpu", "deliveries per server CPU s", true}, {"cpu_us", "server CPU µs per delivery", false},
			{"deliveries_s", "deliveries/s", true}, {"p50_ms", "p50 ms", false}, {"p99_ms", "p99 ms", false}, {"lost", "lost", false},
			{"cpu_s", "server CPU s", false}, {"client_cpu_pct", "wsload CPU % of a core", false}}
	case kindStompIdle:
		return []metric{{"heap_per_conn", "live heap B/conn", false}, {"rss_per_conn", "RSS B/conn", false},
			{"connected", "conns", true}, {"heap_mib", "live heap MiB", false}}
	default:
		return []metric{{"hs_s", "handshakes/s", true}, {"hs_p99_ms", "handshake p99 ms", false}, {"failed", "failed", false}, {"cpu_s", "server CPU s", false}}
	}
}

// target is what the ratio column of a variant kind should reach: the
// bound, and whether the ratio must be at least (true) or at most it.
func (k kind) target() (bound float64, atLeast bool, ok bool) {
	switch k {
	case kindStompFanout:
		return 0.8, true, true
	case kindStompIdle:
		return 1.3, false, true
	}
	return 0, false, false
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

// stompRoom is the room (and STOMP topic) of the STOMP scenarios.
const stompRoom = "bench"

// stompFanout compares fan-out to members STOMP subscribers of
// /topic/bench with fan-out to as many raw /room/bench members, at rate
// messages per second from two publishers; the harness reads the
// server's CPU time over the measured window alone (plus half a second
// for the last deliveries).
func stompFanout(members int, rate float64, label string, d time.Duration) scenario {
	common := []string{"--conns", itoa(members), "--rate", "5000", "--publishers", "2",
		"--pub-rate", strconv.FormatFloat(rate, 'f', -1, 64), "--room", stompRoom, "--duration", d.String(),
		"--source-ips", srcIPs, "--drain", "3s", "--handshake-timeout", "15s"}
	if members > 15000 {
		common = append(common, "--procs", "2")
	}
	return scenario{ID: fmt.Sprintf("stomp-fanout-%s-%s", kilo(members), label),
		Title: fmt.Sprintf("STOMP fan-out against raw /room: %s subscribers, %s msgs/s published (%s)",
			thousands(members), strconv.FormatFloat(rate, 'f', -1, 64), label),
		Kind: kindStompFanout, Conns: members, Bound: 2*ramp(members) + d + 45*time.Second,
		Variants: []variant{
			{Name: "wsgate /room", File: "room", Path: "/room/" + stompRoom, Args: append([]string{"broadcast"}, common...)},
			{Name: "wsgate /stomp", File: "stomp", Path: "/stomp", Args: append([]string{"stomp-broadcast"}, common...)},
			{Name: "wsgate /stomp, own ids", File: "stomp-own-ids", Path: "/stomp", Args: append([]string{"stomp-broadcast", "--own-sub-ids"}, common...)},
		}}
}

// stompIdle compares conns idle STOMP sessions (CONNECT, one SUBSCRIBE
// to /topic/bench) with as many idle /room/bench members.
func stompIdle(conns int, hold time.Duration) scenario {
	common := []string{"--conns", itoa(conns), "--rate", "2000", "--handshake-timeout", "15s", "--room", stompRoom,
		"--duration", hold.String(), "--source-ips", srcIPs}
	if conns > 15000 {
		common = append(common, "--procs", "2")
	}
	return scenario{ID: "stomp-idle-" + kilo(conns),
		Title: fmt.Sprintf("STOMP idle memory against raw /room: %s sessions, each subscribed to one topic", thousands(conns)),
		Kind:  kindStompIdle, Conns: conns, Bound: 3*ramp(conns) + hold + 40*time.Second,
		Variants: []variant{
			{Name: "wsgate /room", File: "room", Path: "/room/" + stompRoom, Args: append([]string{"connect"}, common...)},
			{Name: "wsgate /stomp", File: "stomp", Path: "/stomp", Args: append([]string{"stomp-connect"}, common...)},
			{Name: "wsgate /stomp, own ids", File: "stomp-own-ids", Path: "/stomp", Args: append([]string{"stomp-connect", "--own-sub-ids"}, common...)},
		}}
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
		stompFanout(10000, 10, "fixed", d), stompFanout(10000, 30, "high", d), stompIdle(10000, 8*time.Second),
	}}
}

// quickPlan is `make bench-quick`: 1,000 connections (10,000 for the
// neutral client's connect phase), 5 s runs, one round, six servers and the two floors;
// about 6 minutes.
func quickPlan() plan {
	const d = 5 * time.Second
	return plan{Rounds: 1, Servers: []string{"wsgate", "nbio", "nbio-mixed", "quickws", "gws", "gorilla", "floor-rw", "floor-ring"}, Scenarios: []scenario{
		idle(1000, 3*time.Second),
		echo(1000, 64, d, false), neutralEcho(1000, 64, d),
		echo(1000, 1024, d, false), neutralEcho(1000, 1024, d),
		fanout(1000, 20, "fixed", d, false),
		handshakes(2000), neutralConnect(10000),
		echo(1000, 1024, d, true),
		stompFanout(1000, 100, "fixed", d), stompIdle(1000, 5*time.Second),
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
