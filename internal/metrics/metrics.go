// Package metrics defines wsgate's Prometheus metrics on
// github.com/VictoriaMetrics/metrics. Every series is created once, when the
// server is built, so recording on the hot path is an atomic add and never
// allocates. Names follow Prometheus conventions: a wsgate_ prefix, base
// units (seconds, bytes) and _total for counters.
package metrics

import (
	"fmt"
	"io"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"
)

// Metrics holds one server's series. Fields indexed by an enum hold one
// series per label value, in the order of the names given to New.
type Metrics struct {
	set      *vm.Set
	overload // overload.go

	// ConnsOpened counts accepted TCP connections.
	ConnsOpened *vm.Counter
	// ConnsClosed counts closed connections by close reason.
	ConnsClosed []*vm.Counter
	// Handshakes counts handshakes by result ("ok" or a rejection kind).
	Handshakes []*vm.Counter
	// HandshakeSeconds is the time from accept to the 101 response.
	HandshakeSeconds *vm.PrometheusHistogram

	// MessagesIn and BytesIn count client messages by opcode (text, binary).
	MessagesIn, BytesIn [2]*vm.Counter
	// MessagesOut and BytesOut count messages queued to clients by opcode.
	MessagesOut, BytesOut [2]*vm.Counter
	// Broadcasts counts messages fanned out to a room or user.
	Broadcasts *vm.Counter
	// SlowConsumer counts slow-consumer actions by policy (close, drop-oldest).
	SlowConsumer [2]*vm.Counter
	// Dropped counts messages discarded from slow consumers' queues: by
	// the drop-oldest policy, or before a slow-consumer close frame.
	Dropped *vm.Counter
	// RateLimited counts rate-limit hits by kind.
	RateLimited []*vm.Counter
	// Undelivered counts deliveries skipped because the member was
	// already closing when its room's message was fanned out.
	Undelivered *vm.Counter
	// Overloaded counts publishes (and /ws joins and leaves) refused
	// because their room's fan-out queue was full.
	Overloaded *vm.Counter
	// ForbiddenJoin and ForbiddenPublish count joins and publishes a
	// token's permissions refused (the connection stays up).
	ForbiddenJoin, ForbiddenPublish *vm.Counter
	// WorkerSeconds is the time a worker spends on one job.
	WorkerSeconds *vm.PrometheusHistogram
	// LoopSeconds is the time spent handling one read, per poller.
	LoopSeconds []*vm.PrometheusHistogram
	// CompressedIn/Out count payload bytes before and after compression,
	// for the compression ratio.
	DeflateRaw, DeflateWire *vm.Counter

	writeSyscalls, writtenBytes func() float64
	tlsHandshakes               func() (ok, failed uint64)
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

// Gauges are read when /metrics is scraped.
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
	// WriteSyscalls and WrittenBytes return the socket writes made and the
	// bytes they carried.
	WriteSyscalls, WrittenBytes func() float64
	// TLSHandshakes returns the TLS handshakes completed and failed (nil
	// without TLS).
	TLSHandshakes func() (ok, failed uint64)
}

// New creates the series. reasons, results and limits name the label values
// of ConnsClosed, Handshakes and RateLimited, in enum order.
func New(reasons, results, limits []string, pollers int, g Gauges) *Metrics {
	// # HELP/# TYPE lines, so Prometheus types the series (counter, gauge,
	// histogram) instead of storing them untyped. This is a process-wide
	// switch of the metrics package.
	vm.ExposeMetadata(true)
	s := vm.NewSet()
	m := &Metrics{set: s}
	m.ConnsOpened = s.NewCounter("wsgate_connections_opened_total")
	for _, r := range reasons {
		m.ConnsClosed = append(m.ConnsClosed, s.NewCounter(`wsgate_connections_closed_total{reason="`+r+`"}`))
	}
	for _, r := range results {
		m.Handshakes = append(m.Handshakes, s.NewCounter(`wsgate_handshakes_total{result="`+r+`"}`))
	}
	m.HandshakeSeconds = s.NewPrometheusHistogramExt("wsgate_handshake_duration_seconds", latencyBuckets)
	for i, op := range []string{"text", "binary"} {
		m.MessagesIn[i] = s.NewCounter(`wsgate_messages_total{direction="in",opcode="` + op + `"}`)
		m.BytesIn[i] = s.NewCounter(`wsgate_message_bytes_total{direction="in",opcode="` + op + `"}`)
		m.MessagesOut[i] = s.NewCounter(`wsgate_messages_total{direction="out",opcode="` + op + `"}`)
		m.BytesOut[i] = s.NewCounter(`wsgate_message_bytes_total{direction="out",opcode="` + op + `"}`)
	}
	m.Broadcasts = s.NewCounter("wsgate_broadcasts_total")
	m.SlowConsumer[PolicyClose] = s.NewCounter(`wsgate_slow_consumer_actions_total{policy="close"}`)
	m.SlowConsumer[PolicyDropOldest] = s.NewCounter(`wsgate_slow_consumer_actions_total{policy="drop-oldest"}`)
	m.Dropped = s.NewCounter("wsgate_dropped_messages_total")
	for _, l := range limits {
		m.RateLimited = append(m.RateLimited, s.NewCounter(`wsgate_rate_limited_total{kind="`+l+`"}`))
	}
	m.Overloaded = s.NewCounter("wsgate_overloaded_total")
	m.Undelivered = s.NewCounter("wsgate_undelivered_total")
	m.ForbiddenJoin = s.NewCounter(`wsgate_forbidden_total{action="join"}`)
	m.ForbiddenPublish = s.NewCounter(`wsgate_forbidden_total{action="publish"}`)
	m.WorkerSeconds = s.NewPrometheusHistogramExt("wsgate_worker_job_duration_seconds", latencyBuckets)
	for i := 0; i < pollers; i++ {
		m.LoopSeconds = append(m.LoopSeconds, s.NewPrometheusHistogramExt(`wsgate_loop_read_duration_seconds{poller="`+itoa(i)+`"}`, latencyBuckets))
	}
	m.DeflateRaw = s.NewCounter("wsgate_deflate_raw_bytes_total")
	m.DeflateWire = s.NewCounter("wsgate_deflate_wire_bytes_total")
	m.newOverload()
	gauge := func(name string, f func() float64) {
		if f != nil {
			s.NewGauge(name, f)
		}
	}
	gauge("wsgate_connections_open", g.Open)
	gauge("wsgate_queued_bytes", g.Queued)
	gauge("wsgate_worker_queue_jobs", g.WorkerQueue)
	gauge("wsgate_rooms", g.Rooms)
	gauge("wsgate_users", g.Users)
	gauge("wsgate_draining", g.Draining)
	m.writeSyscalls, m.writtenBytes = g.WriteSyscalls, g.WrittenBytes
	m.tlsHandshakes = g.TLSHandshakes
	gauge("wsgate_deflate_compression_ratio", func() float64 {
		w := m.DeflateWire.Get()
		if w == 0 {
			return 0
		}
		return float64(m.DeflateRaw.Get()) / float64(w)
	})
	return m
}

// WritePrometheus writes every series, then the process and Go runtime
// metrics (RSS, heap, goroutines, GC), in Prometheus text format.
func (m *Metrics) WritePrometheus(w io.Writer) {
	m.set.WritePrometheus(w)
	m.writeOverload(w)
	if m.writeSyscalls != nil {
		vm.WriteCounterUint64(w, "wsgate_write_syscalls_total", uint64(m.writeSyscalls()))
		vm.WriteCounterUint64(w, "wsgate_written_bytes_total", uint64(m.writtenBytes()))
	}
	if m.tlsHandshakes != nil {
		// One family, two series: one TYPE line (WriteCounterUint64 would
		// write one per series).
		ok, failed := m.tlsHandshakes()
		fmt.Fprintf(w, "# TYPE wsgate_tls_handshakes_total counter\n"+
			"wsgate_tls_handshakes_total{result=\"ok\"} %d\nwsgate_tls_handshakes_total{result=\"failed\"} %d\n", ok, failed)
	}
	vm.WriteProcessMetrics(w)
}

// Label turns a name into a label value: lower case, spaces to underscores.
func Label(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "_") }

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
