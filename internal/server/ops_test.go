package server_test

// Operations tests: /metrics is well-formed Prometheus text
// whose counters move by the right amounts when traffic flows, and
// readiness turns false while a graceful drain runs. The process-level
// parts (signals, exit codes, SO_REUSEPORT, flags, logs) are tested against
// the built binary in cmd/wsgate.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
	"github.com/wsgate/wsgate/internal/wstest"
)

// promSample is one sample line of a scrape.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// promScrape is a parsed scrape: samples by series key (name plus sorted
// labels, as written by promKey) and the declared TYPE of each family.
type promScrape struct {
	samples map[string]promSample
	types   map[string]string
}

var (
	promNameRE  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseProm parses the Prometheus text exposition format (version 0.0.4)
// strictly: every line is a # HELP, # TYPE or other comment, or a sample
// "name{label="value",...} value [timestamp]" with valid metric and label
// names, correctly escaped label values, a float value, no duplicate
// series, no duplicate label in a series, and at most one TYPE per family
// that comes before the family's samples.
func parseProm(text string) (*promScrape, error) {
	p := &promScrape{samples: map[string]promSample{}, types: map[string]string{}}
	seenFamily := map[string]bool{}
	if text != "" && !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("scrape does not end with a newline")
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		ln := i + 1
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if err := p.comment(line, seenFamily); err != nil {
				return nil, fmt.Errorf("line %d %q: %v", ln, line, err)
			}
			continue
		}
		s, err := parsePromSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %v", ln, line, err)
		}
		key := promKey(s.name, s.labels)
		if _, dup := p.samples[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate series %s", ln, key)
		}
		p.samples[key] = s
		seenFamily[promFamily(s.name)] = true
		seenFamily[s.name] = true
	}
	return p, nil
}

func (p *promScrape) comment(line string, seen map[string]bool) error {
	f := strings.Fields(line)
	if len(f) < 2 || (f[1] != "HELP" && f[1] != "TYPE") {
		return nil // a plain comment
	}
	if len(f) < 3 || !promNameRE.MatchString(f[2]) {
		return fmt.Errorf("%s without a valid metric name", f[1])
	}
	if f[1] == "HELP" {
		return nil
	}
	if len(f) != 4 {
		return fmt.Errorf("TYPE needs exactly a name and a type")
	}
	switch f[3] {
	case "counter", "gauge", "histogram", "summary", "untyped":
	default:
		return fmt.Errorf("unknown type %q", f[3])
	}
	if _, dup := p.types[f[2]]; dup {
		return fmt.Errorf("second TYPE for %s", f[2])
	}
	if seen[f[2]] {
		return fmt.Errorf("TYPE for %s after its samples", f[2])
	}
	p.types[f[2]] = f[3]
	return nil
}

// promFamily strips the suffixes histogram and summary series add.
func promFamily(name string) string {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, suf); ok {
			return b
		}
	}
	return name
}

func parsePromSample(line string) (promSample, error) {
	s := promSample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, fmt.Errorf("no metric name")
	}
	s.name = line[:i]
	if !promNameRE.MatchString(s.name) {
		return s, fmt.Errorf("bad metric name %q", s.name)
	}
	rest := strings.TrimLeft(line[i:], " \t")
	if strings.HasPrefix(rest, "{") {
		var err error
		if rest, err = parsePromLabels(rest[1:], s.labels); err != nil {
			return s, err
		}
		if !strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "\t") {
			return s, fmt.Errorf("no blank before the value")
		}
	}
	f := strings.Fields(rest)
	if len(f) < 1 || len(f) > 2 {
		return s, fmt.Errorf("want a value and an optional timestamp, got %q", rest)
	}
	v, err := parsePromFloat(f[0])
	if err != nil {
		return s, err
	}
	s.value = v
	if len(f) == 2 {
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			return s, fmt.Errorf("bad timestamp %q", f[1])
		}
	}
	return s, nil
}

// parsePromLabels parses `name="value",...}` and returns what follows the
// closing brace. Blanks around label names are allowed, as the reference
// parser (prometheus/common/expfmt) allows them.
func parsePromLabels(s string, into map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", fmt.Errorf("label without =")
		}
		name := strings.TrimRight(s[:eq], " \t")
		if !promLabelRE.MatchString(name) || strings.HasPrefix(name, "__") {
			return "", fmt.Errorf("bad label name %q", name)
		}
		if _, dup := into[name]; dup {
			return "", fmt.Errorf("label %q twice", name)
		}
		s = strings.TrimLeft(s[eq+1:], " \t")
		if !strings.HasPrefix(s, `"`) {
			return "", fmt.Errorf("label %q value not quoted", name)
		}
		val, n, err := parsePromLabelValue(s, name)
		if err != nil {
			return "", err
		}
		into[name] = val
		s = strings.TrimLeft(s[n:], " \t")
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		} else if !strings.HasPrefix(s, "}") {
			return "", fmt.Errorf("want , or } after label %q", name)
		}
	}
}

// parsePromLabelValue unquotes the value at the start of s (which begins
// with a quote) and returns it with the number of bytes it took.
func parsePromLabelValue(s, name string) (string, int, error) {
	var val strings.Builder
	for j := 1; j < len(s); j++ {
		switch s[j] {
		case '"':
			return val.String(), j + 1, nil
		case '\\':
			if j++; j == len(s) {
				break
			}
			switch s[j] {
			case '\\', '"':
				val.WriteByte(s[j])
			case 'n':
				val.WriteByte('\n')
			default:
				return "", 0, fmt.Errorf("bad escape \\%c in label %q", s[j], name)
			}
		case '\n':
			return "", 0, fmt.Errorf("raw newline in label %q", name)
		default:
			val.WriteByte(s[j])
		}
	}
	return "", 0, fmt.Errorf("unterminated value of label %q", name)
}

func parsePromFloat(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "_xXpP") || strings.EqualFold(s, "nan") || strings.Contains(strings.ToLower(s), "inf") {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return v, nil
}

// promKey names a series: name{a="1",b="2"} with labels sorted.
func promKey(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ { // insertion sort: a handful of labels
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// get returns the value of the series written as key (labels in sorted
// order, as promKey writes them).
func (p *promScrape) get(key string) (float64, bool) {
	s, ok := p.samples[key]
	return s.value, ok
}

// family reports whether any series named name, or its _bucket/_sum/_count
// series, exists.
func (p *promScrape) family(name string) bool {
	for _, s := range p.samples {
		if s.name == name || promFamily(s.name) == name {
			return true
		}
	}
	return false
}

// sum adds the values of every series named name whose labels include
// every label in want.
func (p *promScrape) sum(name string, want map[string]string) float64 {
	var t float64
	for _, s := range p.samples {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
			}
		}
		if match {
			t += s.value
		}
	}
	return t
}

func TestPromParserRejects(t *testing.T) {
	good := "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\\\\\\n\"} 3\nb 1.5e3 1700000000000\nc +Inf\nd{ A=\"1\", b_2 = \"x\" } -2\n"
	if _, err := parseProm(good); err != nil {
		t.Fatalf("good input rejected: %v", err)
	}
	for _, bad := range []string{
		"1abc 1\n", "a-b 1\n", "a{1x=\"v\"} 1\n", "a{x=v} 1\n", "a{x=\"v\" 1\n", "a{x=\"v\",x=\"w\"} 1\n",
		"a 1\na 2\n", "a one\n", "a\n", "a 1 2 3\n", "a 1", "# TYPE a countr\n", "a 1\n# TYPE a gauge\n",
		"# TYPE a gauge\n# TYPE a gauge\n", "a{x=\"\\t\"} 1\n", "a{x=\"1\"}1\n", "a 0x10\n", "a{__x=\"1\"} 1\n",
	} {
		if _, err := parseProm(bad); err == nil {
			t.Errorf("parseProm(%q) accepted bad input", bad)
		}
	}
}

// opsServer starts an in-process server with an admin listener.
func opsServer(tb testing.TB, mod func(*config.Config)) (*server.Server, string, string) {
	tb.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin = "127.0.0.1:0"
	cfg.DevMode = true
	cfg.Anonymous, cfg.NoLimits = true, true // core tests: no token, no rate limits
	cfg.PingInterval = 0                     // no pings to skip in the reads below
	if mod != nil {
		mod(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() { srv.Close() })
	admin := ""
	if a := srv.AdminAddr(); a != nil {
		admin = "http://" + a.String()
	}
	return srv, srv.Addr().String(), admin
}

func opsGet(tb testing.TB, url string) (int, string) {
	tb.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func opsScrape(tb testing.TB, admin string) *promScrape {
	tb.Helper()
	status, body := opsGet(tb, admin+"/metrics")
	if status != 200 {
		tb.Fatalf("GET /metrics: %d %s", status, body)
	}
	p, err := parseProm(body)
	if err != nil {
		tb.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	return p
}

func opsPublish(tb testing.TB, admin, room, payload string) {
	tb.Helper()
	body := fmt.Sprintf(`{"room":%q,"payload":%q}`, room, payload)
	resp, err := http.Post(admin+"/api/publish", "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatalf("publish: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("publish: %d %s", resp.StatusCode, b)
	}
}

// opsWaitMetric scrapes until cond holds for the scrape, for at most 20 s.
func opsWaitMetric(tb testing.TB, admin, what string, cond func(*promScrape) bool) *promScrape {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p := opsScrape(tb, admin)
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after 20s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsExposition checks that /metrics parses strictly, that the
// series operators rely on exist, and that counters move by exactly the
// traffic sent.
func TestMetricsExposition(t *testing.T) {
	_, addr, admin := opsServer(t, func(c *config.Config) { c.Pollers = 2 })
	before := opsScrape(t, admin)
	for _, name := range []string{
		"wsgate_connections_open", "wsgate_connections_opened_total", "wsgate_connections_closed_total",
		"wsgate_handshakes_total", "wsgate_messages_total", "wsgate_message_bytes_total",
		"wsgate_deflate_compression_ratio", "wsgate_queued_bytes", "wsgate_slow_consumer_actions_total",
		"wsgate_rate_limited_total", "wsgate_worker_queue_jobs", "wsgate_draining",
		"process_resident_memory_bytes", "go_goroutines", "go_memstats_heap_inuse_bytes", "go_gc_duration_seconds",
	} {
		if !before.family(name) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	for _, key := range []string{
		`wsgate_connections_closed_total{reason="peer_close"}`, `wsgate_connections_closed_total{reason="shutdown"}`,
		`wsgate_connections_closed_total{reason="slow_consumer"}`, `wsgate_handshakes_total{result="ok"}`,
		`wsgate_handshakes_total{result="not_found"}`, `wsgate_handshakes_total{result="forbidden"}`,
		`wsgate_messages_total{direction="in",opcode="text"}`, `wsgate_messages_total{direction="out",opcode="binary"}`,
		`wsgate_slow_consumer_actions_total{policy="close"}`, `wsgate_slow_consumer_actions_total{policy="drop-oldest"}`,
	} {
		if _, ok := before.get(key); !ok {
			t.Errorf("/metrics has no series %s", key)
		}
	}
	if v, _ := before.get("process_resident_memory_bytes"); v <= 0 {
		t.Errorf("process_resident_memory_bytes = %v, want > 0", v)
	}
	for name, typ := range before.types {
		if strings.HasPrefix(name, "wsgate_") && strings.HasSuffix(name, "_total") && typ != "counter" {
			t.Errorf("%s has TYPE %s, want counter", name, typ)
		}
	}

	const echoes, echoLen = 200, 100
	ec := wstest.Dial(t, addr, "/echo")
	msg := bytes.Repeat([]byte("e"), echoLen)
	for i := 0; i < echoes; i++ {
		ec.Echo(frame.OpText, msg) // one read per round trip feeds the sampled loop histogram
	}
	const members, pubLen = 3, 50
	room := make([]*wstest.Conn, members)
	for i := range room {
		room[i] = wstest.Dial(t, addr, fmt.Sprintf("/room/ops?user=u%d", i))
	}
	opsWaitMetric(t, admin, "3 room members", func(p *promScrape) bool { v, _ := p.get("wsgate_users"); return v == members })
	pub := strings.Repeat("p", pubLen)
	opsPublish(t, admin, "ops", pub)
	for _, c := range room {
		c.ExpectMessage(frame.OpText, []byte(pub))
	}
	if _, err := wstest.Connect(addr, "/nope"); err == nil {
		t.Fatal("upgrade of /nope succeeded")
	} else if se := (*wstest.StatusError)(nil); !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("upgrade of /nope: %v, want 404", err)
	}
	if err := ec.WriteClose(1000, "bye"); err != nil {
		t.Fatal(err)
	}
	ec.ExpectClose(1000)

	conns := float64(1 + members)
	// The refused /nope connection ends when its client hangs up, which
	// the server may see a little after the echo client's close.
	after := opsWaitMetric(t, admin, "peer_close counted and only the room members open", func(p *promScrape) bool {
		v, _ := p.get(`wsgate_connections_closed_total{reason="peer_close"}`)
		open, _ := p.get("wsgate_connections_open")
		return v >= 1 && open == members
	})
	delta := func(key string) float64 {
		a, _ := after.get(key)
		b, _ := before.get(key)
		return a - b
	}
	for key, want := range map[string]float64{
		`wsgate_messages_total{direction="in",opcode="text"}`:       echoes,
		`wsgate_message_bytes_total{direction="in",opcode="text"}`:  echoes * echoLen,
		`wsgate_messages_total{direction="out",opcode="text"}`:      echoes + members,
		`wsgate_message_bytes_total{direction="out",opcode="text"}`: echoes*echoLen + members*pubLen,
		`wsgate_messages_total{direction="in",opcode="binary"}`:     0,
		`wsgate_handshakes_total{result="ok"}`:                      conns,
		`wsgate_handshakes_total{result="not_found"}`:               1,
		`wsgate_handshakes_total{result="forbidden"}`:               0,
		`wsgate_connections_opened_total`:                           conns + 1,
		`wsgate_connections_closed_total{reason="peer_close"}`:      1,
		`wsgate_connections_closed_total{reason="shutdown"}`:        0,
		`wsgate_broadcasts_total`:                                   1,
		`wsgate_handshake_duration_seconds_count`:                   conns,
		`wsgate_worker_job_duration_seconds_count`:                  1,
	} {
		if got := delta(key); got != want {
			t.Errorf("%s moved by %v, want %v", key, got, want)
		}
	}
	if v, _ := after.get("wsgate_connections_open"); v != members {
		t.Errorf("wsgate_connections_open = %v, want %d (the room members)", v, members)
	}
	if after.sum("wsgate_loop_read_duration_seconds_count", nil) < 1 {
		t.Errorf("no wsgate_loop_read_duration_seconds sample after %d reads", echoes)
	}
	if v := after.sum("wsgate_handshake_duration_seconds_sum", nil); v <= 0 {
		t.Errorf("wsgate_handshake_duration_seconds_sum = %v, want > 0", v)
	}
}

// TestMetricsOffKeepsConnectionMetrics checks that -metrics=false stops
// the per-message series but not the connection and handshake ones.
func TestMetricsOffKeepsConnectionMetrics(t *testing.T) {
	_, addr, admin := opsServer(t, func(c *config.Config) { c.Metrics = false })
	c := wstest.Dial(t, addr, "/echo")
	for i := 0; i < 10; i++ {
		c.Echo(frame.OpBinary, []byte("12345678"))
	}
	p := opsScrape(t, admin)
	if v, _ := p.get(`wsgate_messages_total{direction="in",opcode="binary"}`); v != 0 {
		t.Errorf("messages in = %v with metrics off, want 0", v)
	}
	if v, _ := p.get(`wsgate_handshakes_total{result="ok"}`); v != 1 {
		t.Errorf("handshakes ok = %v with metrics off, want 1", v)
	}
	if v, _ := p.get("wsgate_connections_open"); v != 1 {
		t.Errorf("connections open = %v, want 1", v)
	}
}

// TestReadinessDuringDrain holds a drain open with a client that does not
// answer the close frame, and checks: /readyz turns 503, /healthz stays
// 200, new WebSocket connections are refused, the held client gets its
// queued message before a 1001 close frame, and Shutdown completes once it
// answers.
func TestReadinessDuringDrain(t *testing.T) {
	srv, addr, admin := opsServer(t, func(c *config.Config) {
		c.CloseTimeout = time.Minute // the drain waits for the client, not the timer
		c.DrainTimeout = 2 * time.Minute
	})
	if status, body := opsGet(t, admin+"/readyz"); status != 200 {
		t.Fatalf("/readyz before drain: %d %s", status, body)
	}
	held := wstest.Dial(t, addr, "/room/drain?user=held")
	held.Timeout = 30 * time.Second
	opsWaitMetric(t, admin, "held member joined", func(p *promScrape) bool { v, _ := p.get("wsgate_users"); return v == 1 })
	opsPublish(t, admin, "drain", "before the close frame")

	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, _ := opsGet(t, admin+"/readyz")
		if status == http.StatusServiceUnavailable {
			break
		}
		if status != 200 {
			t.Fatalf("/readyz during drain: %d, want 200 or 503", status)
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz still 200 20s after Shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !srv.Draining() {
		t.Error("Draining() = false while /readyz says 503")
	}
	if status, body := opsGet(t, admin+"/healthz"); status != 200 {
		t.Errorf("/healthz during drain: %d %s, want 200", status, body)
	}
	p := opsScrape(t, admin)
	if v, _ := p.get("wsgate_draining"); v != 1 {
		t.Errorf("wsgate_draining = %v during drain, want 1", v)
	}
	if c, err := wstest.Connect(addr, "/echo"); err == nil {
		c.Close()
		t.Error("a new WebSocket connection was upgraded during the drain")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) before the held client answered its close frame", err)
	default:
	}

	held.ExpectMessage(frame.OpText, []byte("before the close frame"))
	if reason := held.ExpectCloseFrame(frame.CloseGoingAway); reason == "" {
		t.Error("the shutdown close frame has no reason")
	}
	if err := held.WriteClose(uint16(frame.CloseGoingAway), ""); err != nil {
		t.Fatal(err)
	}
	held.ExpectEOF()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown did not return 30s after the last client closed")
	}
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(admin + "/healthz"); err == nil {
		t.Error("/healthz still answers after Shutdown returned")
	}
}

// TestCloseRightAfterStart stops servers the instant they start, with one
// P so the listener's accept goroutine has not run yet: Close (and so a
// SIGTERM right after start) must still return. The probe runs in a child
// process so that a hang, which leaves a goroutine spinning, is contained
// and killed.
func TestCloseRightAfterStart(t *testing.T) {
	if os.Getenv("WSGATE_OPS_CLOSE_PROBE") == "1" {
		runtime.GOMAXPROCS(1)
		for i := 0; i < 5; i++ {
			cfg := config.Default()
			cfg.Listen, cfg.Admin = "127.0.0.1:0", ""
			cfg.Anonymous, cfg.NoLimits = true, true // core tests: no token, no rate limits
			srv, err := server.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			srv.Close()
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCloseRightAfterStart$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WSGATE_OPS_CLOSE_PROBE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("probe: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("Close right after Start did not return within 30s (5 servers, GOMAXPROCS 1)")
	}
}
