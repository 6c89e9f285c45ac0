package metrics

import "github.com/prometheus/client_golang/prometheus"

// MustRegister adds collectors of series that belong to other parts of
// the server (room history, say) to the registry /metrics serves. It
// panics, as prometheus.Registry.MustRegister does, on a name registered
// twice.
func (m *Metrics) MustRegister(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }
