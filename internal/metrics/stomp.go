package metrics

// Stomp holds the STOMP endpoint's series.
type Stomp struct {
	// Sessions counts CONNECTED answers.
	Sessions *Counter
	// Errors counts ERROR frames sent (each closes its session), by
	// reason, in the order of the names given to NewStomp.
	Errors []*Counter
	// HeartBeatTimeouts counts sessions closed because the client's
	// heart-beats stopped.
	HeartBeatTimeouts *Counter
	// QueueDropped counts /queue messages dropped: backlog full with no
	// consumer with room, or redelivered too often.
	QueueDropped *Counter
	// QueueRedelivered counts /queue messages sent again after a NACK or
	// after their consumer left without acknowledging them.
	QueueRedelivered *Counter
	// AppForwards counts SENDs to /app by outcome: ok, failed (the
	// backend's error or timeout), overloaded (the forward queue was full).
	AppForwards [3]*Counter
}

// Indexes of Stomp.AppForwards.
const (
	AppOK = iota
	AppFailed
	AppOverloaded
)

// NewStomp creates the STOMP series on m's registry; reasons name the
// label values of Errors, in enum order. Call it once per server.
func (m *Metrics) NewStomp(reasons []string) *Stomp {
	c := &collector{}
	st := &Stomp{
		Sessions:          c.counter("wsgate_stomp_sessions_total", "STOMP sessions connected (CONNECTED frames sent)."),
		HeartBeatTimeouts: c.counter("wsgate_stomp_heartbeat_timeouts_total", "STOMP sessions closed because the client's heart-beats stopped."),
		QueueDropped:      c.counter("wsgate_stomp_queue_dropped_total", "STOMP /queue messages dropped: the backlog was full, or a message was redelivered too often."),
		QueueRedelivered:  c.counter("wsgate_stomp_queue_redelivered_total", "STOMP /queue messages sent again after a NACK or after their consumer left unacknowledged."),
	}
	st.Errors = c.counters("wsgate_stomp_errors_total", "STOMP ERROR frames sent (each ends its session), by reason.", "reason", reasons...)
	app := c.counters("wsgate_stomp_app_forwards_total", "STOMP SENDs to /app forwarded to the application backend, by result.", "result", "ok", "failed", "overloaded")
	copy(st.AppForwards[:], app)
	m.reg.MustRegister(c)
	return st
}
