package metrics

import (
	"fmt"
	"io"

	vm "github.com/VictoriaMetrics/metrics"
)

// Errno indexes for AcceptErrors.
const (
	ErrnoEMFILE = iota
	ErrnoENFILE
	ErrnoOther
	numErrnos
)

var errnoNames = [numErrnos]string{"EMFILE", "ENFILE", "other"}

// overload holds the series of what wsgate sheds or cannot deliver under
// overload and at shutdown; Metrics embeds it.
type overload struct {
	// AcceptErrors counts failed accepts by errno (EMFILE, ENFILE, other).
	AcceptErrors [numErrnos]*vm.Counter
	og           OverloadGauges
}

// OverloadGauges are what the event loop counts itself, read when /metrics
// is scraped. Nil fields are not exposed.
type OverloadGauges struct {
	// Unsent returns the bytes that were still queued for connections
	// when they closed, never written.
	Unsent func() uint64
	// Pending returns the connections accepted and not yet upgraded.
	Pending func() float64
	// Shed returns the connections closed in their handshake to make room:
	// refused at accept because their address had too many pending
	// (perIP), the oldest pending one when too many were (oldest), the
	// oldest stalled TLS handshake when every handshake slot was taken
	// (stalled).
	Shed func() (perIP, oldest, stalled uint64)
}

func (m *Metrics) newOverload() {
	for i, n := range errnoNames {
		m.AcceptErrors[i] = m.set.NewCounter(`wsgate_accept_errors_total{errno="` + n + `"}`)
	}
}

// SetOverloadGauges exposes g; call it once, before /metrics is served.
func (m *Metrics) SetOverloadGauges(g OverloadGauges) {
	m.og = g
	if g.Pending != nil {
		m.set.NewGauge("wsgate_pending_handshakes", g.Pending)
	}
}

func (m *Metrics) writeOverload(w io.Writer) {
	if m.og.Unsent != nil {
		vm.WriteCounterUint64(w, "wsgate_unsent_bytes_total", m.og.Unsent())
	}
	if m.og.Shed != nil {
		perIP, oldest, stalled := m.og.Shed()
		fmt.Fprintf(w, "# TYPE wsgate_handshakes_shed_total counter\n"+
			"wsgate_handshakes_shed_total{reason=\"per_ip\"} %d\n"+
			"wsgate_handshakes_shed_total{reason=\"oldest\"} %d\n"+
			"wsgate_handshakes_shed_total{reason=\"tls_stalled\"} %d\n", perIP, oldest, stalled)
	}
}
