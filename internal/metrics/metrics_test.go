package metrics

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/wstest"
)

// full builds Metrics with every optional series present and some counts.
func full() *Metrics {
	one := func() float64 { return 1 }
	m := New([]string{"peer_close", "idle_timeout"}, []string{"ok", "not_found"}, []string{"messages", "bytes"}, 2, Gauges{
		Open: one, Queued: one, WorkerQueue: one, Rooms: one, Users: one, Draining: one,
		WriteSyscalls: one, WrittenBytes: one,
		TLSHandshakes: func() (uint64, uint64) { return 7, 2 },
		JWKS: func() JWKSState {
			return JWKSState{Keys: 2, Fetches: 3, Failures: 1, LastSuccess: time.Unix(1700000000, 0)}
		},
	})
	m.ConnsOpened.Inc()
	m.MessagesIn[OpText].Add(5)
	m.HandshakeSeconds.Update(0.002)
	m.LoopSeconds[1].UpdateDuration(time.Now())
	m.DeflateRaw.Add(300)
	m.DeflateWire.Add(100)
	return m
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	var b bytes.Buffer
	if err := m.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestEveryFamilyHasHelp: each family in the exposition has a TYPE and a
// HELP line with real text.
func TestEveryFamilyHasHelp(t *testing.T) {
	m := full()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	text := scrape(t, m)
	for _, mf := range mfs {
		if len(strings.TrimSpace(mf.GetHelp())) < 10 {
			t.Errorf("%s: HELP %q is no explanation", mf.GetName(), mf.GetHelp())
		}
		if !strings.Contains(text, "# HELP "+mf.GetName()+" ") || !strings.Contains(text, "# TYPE "+mf.GetName()+" ") {
			t.Errorf("%s: no HELP or TYPE line in the exposition", mf.GetName())
		}
	}
	for _, want := range []string{
		`wsgate_messages_total{direction="in",opcode="text"} 5`,
		`wsgate_tls_handshakes_total{result="failed"} 2`,
		`wsgate_jwks_fetches_total{result="ok"} 3`,
		"wsgate_jwks_keys 2",
		"wsgate_jwks_last_success_timestamp_seconds 1.7e+09",
		"wsgate_deflate_compression_ratio 3",
		`wsgate_loop_read_duration_seconds_count{poller="1"} 1`,
		"wsgate_handshake_duration_seconds_count 1",
		"process_resident_memory_bytes ",
		"go_goroutines ",
		"go_cpu_classes_gc_total_cpu_seconds_total ",
		"go_sched_latencies_seconds_bucket",
		"go_gc_gomemlimit_bytes ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(text, "process_open_fds") {
		t.Error("the exposition counts open descriptors; that reads all of /proc/self/fd on each scrape")
	}
}

// TestPromtoolCheckMetrics runs Prometheus's own linter over a scrape.
// promtool comes from Debian's prometheus package
// (scripts/setup-test-deps.sh installs it).
func TestPromtoolCheckMetrics(t *testing.T) {
	wstest.PromtoolCheck(t, scrape(t, full()))
}

// TestHandler: the HTTP handler serves the text format.
func TestHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	full().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") ||
		!strings.Contains(rec.Body.String(), "# HELP wsgate_connections_opened_total ") {
		t.Errorf("GET /metrics: %d %q\n%.300s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}

func TestRecordingAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := full()
	start := time.Now()
	if n := testing.AllocsPerRun(1000, func() {
		m.MessagesIn[OpBinary].Inc()
		m.BytesIn[OpBinary].Add(64)
		m.RateLimited[1].Inc()
		m.HandshakeSeconds.Update(0.001)
		m.WorkerSeconds.UpdateDuration(start)
		m.LoopSeconds[0].UpdateDuration(start)
	}); n != 0 {
		t.Errorf("recording allocates %v times per round, want 0", n)
	}
}
