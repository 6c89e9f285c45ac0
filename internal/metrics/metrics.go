// Package metrics defines wsgate's Prometheus metrics on
// github.com/prometheus/client_golang. Every series is created once, when
// the server is built, so recording on the hot path is an atomic add (a
// Counter) or a bucket search and atomic adds (a Histogram) and never
// allocates. Names follow Prometheus conventions: a wsgate_ prefix, base
// units (seconds, bytes) and _total for counters; every family has its
// HELP text, and the library writes the exposition.
package metrics

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Metrics holds one server's series. Fields indexed by an enum hold one
// series per label value, in the order of the names given to New.
type Metrics struct {
	reg      *prometheus.Registry
	overload // overload.go

	// ConnsOpened counts accepted TCP connections.
	ConnsOpened *Counter
	// ConnsClosed counts closed connections by close reason.
	ConnsClosed []*Counter
	// Handshakes counts handshakes by result ("ok" or a rejection kind).
	Handshakes []*Counter
	// HandshakeSeconds is the time from accept to the 101 response.
	HandshakeSeconds *Histogram

	// MessagesIn and BytesIn count client messages by opcode (text, binary).
	MessagesIn, BytesIn [2]*Counter
	// MessagesOut and BytesOut count messages queued to clients by opcode.
	MessagesOut, BytesOut [2]*Counter
	// Broadcasts counts messages fanned out to a room or user.
	Broadcasts *Counter
	// SlowConsumer counts slow-consumer actions by policy (close, drop-oldest).
	SlowConsumer [2]*Counter
	// Dropped counts messages discarded from slow consumers' queues: by
	// the drop-oldest policy, or before a slow-consumer close frame.
	Dropped *Counter
	// RateLimited counts rate-limit hits by kind.
	RateLimited []*Counter
	// Undelivered counts deliveries skipped because the member was
	// already closing when its room's message was fanned out.
	Undelivered *Counter
	// Overloaded counts publishes (and /ws joins and leaves) refused
	// because their room's fan-out queue was full.
	Overloaded *Counter
	// ForbiddenJoin and ForbiddenPublish count joins and publishes a
	// token's permissions refused (the connection stays up).
	ForbiddenJoin, ForbiddenPublish *Counter
	// WorkerSeconds is the time a worker spends on one job.
	WorkerSeconds *Histogram
	// LoopSeconds is the time spent handling one read, per poller.
	LoopSeconds []*Histogram
	// DeflateRaw and DeflateWire count payload bytes before and after
	// compression, for the compression ratio.
	DeflateRaw, DeflateWire *Counter
}

// latencyBuckets are the upper bounds (seconds) of the latency histograms:
// standard Prometheus buckets, so histogram_quantile works on them, from
// 10 µs (a loop iteration) to 10 s (a stuck handshake).
var latencyBuckets = []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Opcode indexes for MessagesIn/Out and BytesIn/Out.
const (
	OpText = iota
	OpBinary
)

// Policy indexes for SlowConsumer.
const (
	PolicyClose = iota
	PolicyDropOldest
)

// Gauges are read when /metrics is scraped. A nil function leaves its
// series out.
type Gauges struct {
	// Open returns the number of open connections.
	Open func() float64
	// Queued returns the bytes waiting in outbound queues.
	Queued func() float64
	// WorkerQueue returns the jobs waiting for workers.
	WorkerQueue func() float64
	// Rooms and Users return the sizes of the hub's indexes.
	Rooms, Users func() float64
	// Draining is 1 while the server drains.
	Draining func() float64
	// IOUringLoops returns the event loops that send through io_uring.
	IOUringLoops func() float64
	// WriteSyscalls and WrittenBytes return the socket writes made and the
	// bytes they carried.
	WriteSyscalls, WrittenBytes func() float64
	// TLSHandshakes returns the TLS handshakes completed and failed (nil
	// without TLS).
	TLSHandshakes func() (ok, failed uint64)
	// JWKS returns the state of the identity provider's key set (nil
	// without one).
	JWKS func() JWKSState
	OverloadGauges
}

// JWKSState is what the token verifier reports about its JSON Web Key Set.
type JWKSState struct {
	// Keys is the number of usable keys in the set in service.
	Keys int
	// Fetches and Failures count fetches that succeeded and failed.
	Fetches, Failures uint64
	// LastSuccess is when the set in service was fetched; zero before the
	// first success.
	LastSuccess time.Time
}

// New creates the series. reasons, results and limits name the label values
// of ConnsClosed, Handshakes and RateLimited, in enum order.
func New(reasons, results, limits []string, pollers int, g Gauges) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	c := &collector{}
	m.ConnsOpened = c.counter("wsgate_connections_opened_total",
		"TCP connections accepted, including those whose WebSocket handshake is then rejected.")
	m.ConnsClosed = c.counters("wsgate_connections_closed_total",
		"Connections closed, by why: the close reasons are listed in the operations guide.", "reason", reasons...)
	m.Handshakes = c.counters("wsgate_handshakes_total",
		"WebSocket handshakes, by result: ok, or the kind of rejection.", "result", results...)
	m.HandshakeSeconds = m.histogram("wsgate_handshake_duration_seconds",
		"Time from accept to the 101 response, for successful handshakes.")
	c.family("wsgate_messages_total", "Data messages received from clients (in) and queued to clients (out, once per receiver), by opcode.",
		prometheus.CounterValue, []string{"direction", "opcode"})
	c.family("wsgate_message_bytes_total", "Payload bytes (uncompressed) of the data messages in wsgate_messages_total.",
		prometheus.CounterValue, []string{"direction", "opcode"})
	for i, op := range []string{"text", "binary"} {
		m.MessagesIn[i] = c.add("wsgate_messages_total", "in", op)
		m.BytesIn[i] = c.add("wsgate_message_bytes_total", "in", op)
		m.MessagesOut[i] = c.add("wsgate_messages_total", "out", op)
		m.BytesOut[i] = c.add("wsgate_message_bytes_total", "out", op)
	}
	m.Broadcasts = c.counter("wsgate_broadcasts_total", "Messages fanned out to a room or a user (one per published message).")
	sc := c.counters("wsgate_slow_consumer_actions_total",
		"Slow-consumer policy actions on connections whose queue or socket fell behind, by policy.", "policy", "close", "drop-oldest")
	m.SlowConsumer[PolicyClose], m.SlowConsumer[PolicyDropOldest] = sc[0], sc[1]
	m.Dropped = c.counter("wsgate_dropped_messages_total", "Queued messages discarded from slow consumers: by the drop-oldest policy, or before a slow-consumer close.")
	m.RateLimited = c.counters("wsgate_rate_limited_total",
		"Messages dropped and handshakes refused by a rate limit or a connection maximum, by kind.", "kind", limits...)
	m.Overloaded = c.counter("wsgate_overloaded_total",
		"Publishes (and /ws joins and leaves) refused because their room's fan-out queue was full; the publisher was told.")
	m.Undelivered = c.counter("wsgate_undelivered_total",
		"Deliveries of room and user messages skipped because the receiving connection was already closing.")
	fb := c.counters("wsgate_forbidden_total", "Joins and publishes refused by the token's room patterns, by action.", "action", "join", "publish")
	m.ForbiddenJoin, m.ForbiddenPublish = fb[0], fb[1]
	m.WorkerSeconds = m.histogram("wsgate_worker_job_duration_seconds", "Time a worker spends on one fan-out job.")
	loop := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "wsgate_loop_read_duration_seconds", Buckets: latencyBuckets,
		Help: "Time to handle one read on an event-loop goroutine, sampled one read in 64, by poller.",
	}, []string{"poller"})
	m.reg.MustRegister(loop)
	for i := 0; i < pollers; i++ {
		m.LoopSeconds = append(m.LoopSeconds, &Histogram{loop.WithLabelValues(strconv.Itoa(i))})
	}
	m.DeflateRaw = c.counter("wsgate_deflate_raw_bytes_total", "Payload bytes given to permessage-deflate compression.")
	m.DeflateWire = c.counter("wsgate_deflate_wire_bytes_total", "Payload bytes permessage-deflate compression produced from them.")
	m.gauge("wsgate_deflate_compression_ratio", "Raw over wire bytes of permessage-deflate compression since start; 0 before any.", func() float64 {
		w := m.DeflateWire.Get()
		if w == 0 {
			return 0
		}
		return float64(m.DeflateRaw.Get()) / float64(w)
	})
	m.gauges(c, g)
	m.newOverload(c, g.OverloadGauges)
	m.reg.MustRegister(c, processCollector{}, collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
		// GC CPU time and scheduling latency, beside the default memstats.
		collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/(cpu/classes/gc/total:cpu-seconds|sched/latencies:seconds)$`)},
	)))
	return m
}

// gauges registers the series read from the server at scrape time.
func (m *Metrics) gauges(c *collector, g Gauges) {
	m.gauge("wsgate_connections_open", "TCP connections open now, handshaking or upgraded.", g.Open)
	m.gauge("wsgate_queued_bytes", "Bytes waiting in wsgate's outbound queues (not the kernel's socket buffers).", g.Queued)
	m.gauge("wsgate_worker_queue_jobs", "Fan-out jobs waiting for a worker.", g.WorkerQueue)
	m.gauge("wsgate_rooms", "Rooms with at least one member.", g.Rooms)
	m.gauge("wsgate_users", "Distinct user ids connected.", g.Users)
	m.gauge("wsgate_draining", "1 once a graceful shutdown began, else 0.", g.Draining)
	m.gauge("wsgate_io_uring_loops", "Event loops that send each readiness batch's replies with one io_uring_enter (-io-uring); 0 when off or unavailable.", g.IOUringLoops)
	if g.WriteSyscalls != nil && g.WrittenBytes != nil {
		c.counterFunc("wsgate_write_syscalls_total", "Socket writes (write, writev) made; written bytes over these is the batching achieved.", g.WriteSyscalls)
		c.counterFunc("wsgate_written_bytes_total", "Bytes written to sockets, frames and TLS records included.", g.WrittenBytes)
	}
	if g.TLSHandshakes != nil {
		c.family("wsgate_tls_handshakes_total", "TLS handshakes on the wss listener, by result (ok, failed).", prometheus.CounterValue, []string{"result"})
		c.addFunc("wsgate_tls_handshakes_total", func() float64 { ok, _ := g.TLSHandshakes(); return float64(ok) }, "ok")
		c.addFunc("wsgate_tls_handshakes_total", func() float64 { _, f := g.TLSHandshakes(); return float64(f) }, "failed")
	}
	if g.JWKS != nil {
		c.family("wsgate_jwks_fetches_total", "Fetches of the identity provider's JWKS, by result (ok, failed).", prometheus.CounterValue, []string{"result"})
		c.addFunc("wsgate_jwks_fetches_total", func() float64 { return float64(g.JWKS().Fetches) }, "ok")
		c.addFunc("wsgate_jwks_fetches_total", func() float64 { return float64(g.JWKS().Failures) }, "failed")
		m.gauge("wsgate_jwks_keys", "Usable keys in the JWKS in service.", func() float64 { return float64(g.JWKS().Keys) })
		m.gauge("wsgate_jwks_last_success_timestamp_seconds", "Unix time of the fetch that gave the JWKS in service; 0 before the first.", func() float64 {
			if t := g.JWKS().LastSuccess; !t.IsZero() {
				return float64(t.UnixNano()) / 1e9
			}
			return 0
		})
	}
}

func (m *Metrics) histogram(name, help string) *Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets})
	m.reg.MustRegister(h)
	return &Histogram{h}
}

func (m *Metrics) gauge(name, help string, f func() float64) {
	if f != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
}

// Handler serves the metrics in the Prometheus text format (or another
// format the scraper asks for).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// WritePrometheus writes every series, then the process and Go runtime
// metrics (RSS, CPU, heap, goroutines, GC), in the Prometheus text format.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	mfs, err := m.reg.Gather()
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if e := enc.Encode(mf); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// Label turns a name into a label value: lower case, spaces to underscores.
func Label(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "_") }
