package metrics

import "github.com/prometheus/client_golang/prometheus"

// Errno indexes for AcceptErrors.
const (
	ErrnoEMFILE = iota
	ErrnoENFILE
	ErrnoOther
)

// overload holds the series of what wsgate sheds, refuses or cannot
// deliver under overload and at shutdown; Metrics embeds it.
type overload struct {
	// AcceptErrors counts failed accepts by errno (EMFILE, ENFILE, other).
	AcceptErrors []*Counter
}

// OverloadGauges are what the event loop counts itself, read when /metrics
// is scraped; Gauges embeds them. Nil fields are not exposed.
type OverloadGauges struct {
	// Unsent returns the bytes that were still queued for connections
	// when they closed, never written.
	Unsent func() float64
	// Pending returns the connections accepted and not yet upgraded.
	Pending func() float64
	// Shed returns the connections closed in their handshake to make room:
	// refused at accept because their address had too many pending
	// (perIP), the oldest pending one when too many were (oldest), the
	// oldest stalled TLS handshake when every handshake slot was taken
	// (stalled).
	Shed func() (perIP, oldest, stalled uint64)
}

// newOverload declares the overload series.
func (m *Metrics) newOverload(c *collector, g OverloadGauges) {
	m.AcceptErrors = c.counters("wsgate_accept_errors_total",
		"Failed accepts on the WebSocket listener, by errno (EMFILE, ENFILE: out of descriptors; other); clients wait in the listen queue meanwhile.",
		"errno", "EMFILE", "ENFILE", "other")
	if g.Unsent != nil {
		c.counterFunc("wsgate_unsent_bytes_total",
			"Bytes queued for connections that closed before they were written (peer gone, timeouts, a drain that ran out of time).", g.Unsent)
	}
	m.gauge("wsgate_pending_handshakes", "Connections accepted and not yet upgraded (TLS and WebSocket handshakes in progress).", g.Pending)
	if g.Shed != nil {
		c.family("wsgate_handshakes_shed_total",
			"Connections closed during their handshake to make room, by reason: per_ip (refused at accept), oldest (the oldest pending one), tls_stalled (the oldest stalled TLS handshake).",
			prometheus.CounterValue, []string{"reason"})
		c.addFunc("wsgate_handshakes_shed_total", func() float64 { n, _, _ := g.Shed(); return float64(n) }, "per_ip")
		c.addFunc("wsgate_handshakes_shed_total", func() float64 { _, n, _ := g.Shed(); return float64(n) }, "oldest")
		c.addFunc("wsgate_handshakes_shed_total", func() float64 { _, _, n := g.Shed(); return float64(n) }, "tls_stalled")
	}
}
