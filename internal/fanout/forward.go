package fanout

// Forwarder takes the messages published on this node to the other nodes
// of a cluster (a broker). The pool calls Forward on the job's worker
// once the job's local members have their copies, for every message job
// not marked Remote, in the order the worker runs them: a room's
// messages leave the node in the order its members got them. Forward
// must not keep j or its buffer after it returns, and should not wait
// long: the room's next messages wait behind it.
type Forwarder interface {
	Forward(j *Job)
}

// SetForwarder makes the pool hand its local messages to f. Call it
// before Start; without it (one node) nothing is forwarded.
func (p *Pool) SetForwarder(f Forwarder) { p.fwd = f }

// Destined is the From of a user message addressed to one destination
// within the user's sessions (a STOMP /user/queue/NAME) rather than to
// all of them: no member, just the address, which travels to other nodes
// with the message. It never takes messages itself.
type Destined interface {
	Subscriber
	Destination() string
}
