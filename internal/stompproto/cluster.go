package stompproto

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/poller"
)

// QueueGroup spreads /queue destinations over the nodes of a cluster:
// each message sent to a queue goes to one node among those with a
// consumer of it (a NATS queue group), where it goes to one of the
// node's consumers, and is acknowledged, NACKed and redelivered there.
// Without one, queues live within this process.
//
// Join, Leave and Send are called with the queues' lock held, some of
// them on an event loop: they must not block or call back into the
// protocol. What they start (a subscription, a publish) happens in the
// order of the calls.
type QueueGroup interface {
	// Join makes this node a consumer of queue name, from its first
	// local consumer on; deliver receives the messages the group hands
	// this node (a MESSAGE tail: content-type, content-length, body),
	// on a goroutine that is not an event loop, one at a time.
	Join(name string, deliver func(op frame.Opcode, tail []byte))
	// Leave undoes Join once the queue's last local consumer has gone.
	Leave(name string)
	// Send hands a message for queue name to the group, taking the
	// reference to tail.
	Send(name string, op frame.Opcode, tail *poller.Buf)
}

// SetQueueGroup makes the protocol's /queue destinations competing
// consumers across the nodes of g. Call it before Start.
func (p *Protocol) SetQueueGroup(g QueueGroup) { p.queues.group = g }

// sendOut sends a message a client sent to a queue: to the group when
// there is one, else to a local consumer.
func (l *localQueues) sendOut(name string, op frame.Opcode, tail *poller.Buf) {
	if g := l.group; g != nil {
		l.mu.Lock() // orders the Send with Join and Leave
		g.Send(name, op, tail)
		l.mu.Unlock()
		return
	}
	l.send(name, op, tail)
}

// fromGroup is the deliver function of a joined queue: a message the
// group handed this node goes to a local consumer (or waits for one).
func (l *localQueues) fromGroup(name string) func(op frame.Opcode, tail []byte) {
	return func(op frame.Opcode, tail []byte) {
		b := poller.NewBuf(len(tail))
		b.B = append(b.B, tail...)
		l.send(name, op, b)
	}
}
