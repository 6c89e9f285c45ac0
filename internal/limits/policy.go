package limits

// CloseCode and CloseReason are what the server sends when Policy says
// Close: 1008 (policy violation).
const (
	CloseCode   = 1008
	CloseReason = "rate limit exceeded"
)

// Action is what the server does with a message over a rate limit.
type Action uint8

// Actions.
const (
	// Drop: discard the message, tell the client (an error frame), keep
	// the connection.
	Drop Action = iota + 1
	// Close: close the connection with CloseCode and CloseReason.
	Close
)

// String names the action for logs.
func (a Action) String() string {
	switch a {
	case Drop:
		return "drop"
	case Close:
		return "close"
	}
	return "none"
}

// Policy turns rate-limit violations into actions. CloseAfter is the
// violation that closes: the first CloseAfter-1 violations of a
// connection are dropped, the CloseAfter-th closes. 0 or 1 closes on the
// first violation; the proposed default is 10.
type Policy struct {
	CloseAfter uint32
}

// Violations counts one connection's violations over its life. Owned by
// the connection's goroutine; 4 bytes, zero value ready.
type Violations struct {
	n uint32
}

// Count is the number of violations recorded.
func (v *Violations) Count() uint32 { return v.n }

// Violation records one violation in v and returns what to do.
func (p Policy) Violation(v *Violations) Action {
	if v.n < ^uint32(0) {
		v.n++
	}
	if v.n >= p.CloseAfter {
		return Close
	}
	return Drop
}
