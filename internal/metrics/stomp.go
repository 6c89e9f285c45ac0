package metrics

import vm "github.com/VictoriaMetrics/metrics"

// Stomp holds the STOMP endpoint's series.
type Stomp struct {
	// Sessions counts CONNECTED answers; Open is set by the caller's gauge.
	Sessions *vm.Counter
	// Errors counts ERROR frames sent (each closes its session), by
	// reason, in the order of the names given to NewStomp.
	Errors []*vm.Counter
	// HeartBeatTimeouts counts sessions closed because the client's
	// heart-beats stopped.
	HeartBeatTimeouts *vm.Counter
	// QueueDropped counts /queue messages dropped: backlog full with no
	// consumer with room, or redelivered too often.
	QueueDropped *vm.Counter
	// QueueRedelivered counts /queue messages sent again after a NACK or
	// after their consumer left without acknowledging them.
	QueueRedelivered *vm.Counter
	// AppForwards counts SENDs to /app by outcome: ok, failed (the
	// backend's error or timeout), overloaded (the forward queue was full).
	AppForwards [3]*vm.Counter
}

// Indexes of Stomp.AppForwards.
const (
	AppOK = iota
	AppFailed
	AppOverloaded
)

// NewStomp creates the STOMP series on m's set; reasons name the label
// values of Errors, in enum order. Call it once per server.
func (m *Metrics) NewStomp(reasons []string) *Stomp {
	s := m.set
	st := &Stomp{
		Sessions:          s.NewCounter("wsgate_stomp_sessions_total"),
		HeartBeatTimeouts: s.NewCounter("wsgate_stomp_heartbeat_timeouts_total"),
		QueueDropped:      s.NewCounter("wsgate_stomp_queue_dropped_total"),
		QueueRedelivered:  s.NewCounter("wsgate_stomp_queue_redelivered_total"),
	}
	for _, r := range reasons {
		st.Errors = append(st.Errors, s.NewCounter(`wsgate_stomp_errors_total{reason="`+r+`"}`))
	}
	for i, o := range []string{"ok", "failed", "overloaded"} {
		st.AppForwards[i] = s.NewCounter(`wsgate_stomp_app_forwards_total{result="` + o + `"}`)
	}
	return st
}
