package stompproto

import (
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/poller"
)

// Queue bounds: messages a consumer may hold unacknowledged (beyond them
// it gets no more until it acknowledges), and deliveries of one message
// (past them a message NACKed again is dropped, counted).
const (
	maxUnacked    = 1000
	maxDeliveries = 10
)

// queueMsg is one /queue message: its shared MESSAGE tail and opcode.
type queueMsg struct {
	tail  *poller.Buf
	op    frame.Opcode
	tries uint8 // deliveries so far
}

// pending is a queue message a consumer has not acknowledged yet, under
// the message-id it was delivered with.
type pending struct {
	id  uint64
	msg *queueMsg
}

// queue is one /queue destination: its consumers in round-robin order and
// the messages waiting for one.
type queue struct {
	consumers []*sub
	next      int
	waiting   []*queueMsg // FIFO, at most the backlog
}

// localQueues holds this node's /queue destinations: competing consumers
// within one process. It is the seam where a cluster's queue groups (a
// broker that hands each message to one member of a group) plug in; the
// session calls only subscribe, unsubscribe, send and ack.
//
// One mutex guards every queue and every consumer's unacked list: queue
// traffic is point to point, one delivery per message, and delivering is
// a non-blocking queue operation on the consumer's connection.
type localQueues struct {
	mu      sync.Mutex
	qs      map[string]*queue
	backlog int
	sm      *metrics.Stomp
	group   QueueGroup     // nil: this process only (see cluster.go)
	ids     *atomic.Uint64 // the protocol's message ids
	// unacked are, by consumer, the messages delivered and not yet
	// acknowledged, oldest first (ack client and client-individual).
	unacked map[*sub][]pending
}

func newLocalQueues(backlog int, sm *metrics.Stomp, ids *atomic.Uint64) *localQueues {
	return &localQueues{qs: make(map[string]*queue), backlog: backlog, sm: sm, ids: ids, unacked: make(map[*sub][]pending)}
}

// subscribe adds a consumer; waiting messages go to it at once.
func (l *localQueues) subscribe(sb *sub) {
	name := sb.k().name
	l.mu.Lock()
	q := l.qs[name]
	if q == nil {
		q = &queue{}
		l.qs[name] = q
	}
	q.consumers = append(q.consumers, sb)
	if l.group != nil && len(q.consumers) == 1 {
		l.group.Join(name, l.fromGroup(name))
	}
	l.drain(q)
	l.mu.Unlock()
}

// unsubscribe removes a consumer; the messages it had not acknowledged go
// to the other consumers (or wait, ahead of newer ones).
func (l *localQueues) unsubscribe(sb *sub) {
	name := sb.k().name
	l.mu.Lock()
	defer l.mu.Unlock()
	unacked := l.unacked[sb]
	delete(l.unacked, sb)
	q := l.qs[name]
	if q == nil {
		return
	}
	removed := false
	for i, c := range q.consumers {
		if c == sb {
			q.consumers = append(q.consumers[:i], q.consumers[i+1:]...)
			removed = true
			break
		}
	}
	if l.group != nil && removed && len(q.consumers) == 0 {
		l.group.Leave(name)
	}
	for i := len(unacked) - 1; i >= 0; i-- {
		l.requeue(q, unacked[i].msg)
	}
	l.drain(q)
	if len(q.consumers) == 0 && len(q.waiting) == 0 {
		delete(l.qs, name)
	}
}

// send hands a message (its tail; the queue takes the reference) to one
// consumer, or keeps it waiting.
func (l *localQueues) send(name string, op frame.Opcode, tail *poller.Buf) {
	m := &queueMsg{tail: tail, op: op}
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.qs[name]
	if q == nil {
		q = &queue{}
		l.qs[name] = q
	}
	if len(q.waiting) > 0 || !l.offer(q, m, nil) {
		l.wait(q, m)
	}
}

// wait appends m to q's waiting messages, dropping the oldest past the
// backlog.
func (l *localQueues) wait(q *queue, m *queueMsg) {
	if len(q.waiting) >= l.backlog {
		l.drop(q.waiting[0])
		copy(q.waiting, q.waiting[1:])
		q.waiting[len(q.waiting)-1] = nil
		q.waiting = q.waiting[:len(q.waiting)-1]
	}
	q.waiting = append(q.waiting, m)
}

// requeue puts a message back at the front of the waiting ones.
func (l *localQueues) requeue(q *queue, m *queueMsg) {
	if l.sm != nil {
		l.sm.QueueRedelivered.Inc()
	}
	q.waiting = append(q.waiting, nil)
	copy(q.waiting[1:], q.waiting)
	q.waiting[0] = m
	if len(q.waiting) > l.backlog {
		l.drop(q.waiting[len(q.waiting)-1])
		q.waiting = q.waiting[:len(q.waiting)-1]
	}
}

func (l *localQueues) drop(m *queueMsg) {
	if l.sm != nil {
		l.sm.QueueDropped.Inc()
	}
	m.tail.Release()
}

// drain hands waiting messages to consumers with room, in order.
func (l *localQueues) drain(q *queue) {
	n := 0
	for n < len(q.waiting) && l.offer(q, q.waiting[n], nil) {
		n++
	}
	if n > 0 {
		rest := copy(q.waiting, q.waiting[n:])
		clear(q.waiting[rest:])
		q.waiting = q.waiting[:rest]
	}
}

// offer delivers m to the next consumer in turn that has room, avoiding
// skip unless it is the only one; false when none can take it.
func (l *localQueues) offer(q *queue, m *queueMsg, skip *sub) bool {
	var fallback *sub
	for range q.consumers {
		q.next %= len(q.consumers)
		c := q.consumers[q.next]
		q.next++
		if c.dead.Load() || len(l.unacked[c]) >= maxUnacked {
			continue
		}
		if c == skip {
			fallback = c
			continue
		}
		if l.deliver(c, m) {
			return true
		}
	}
	return fallback != nil && l.deliver(fallback, m)
}

// deliver queues m to consumer c and records it until acknowledged.
func (l *localQueues) deliver(c *sub, m *queueMsg) bool {
	s := c.sess
	id := l.ids.Add(1)
	var ackID uint64
	if c.acks() {
		ackID = id
	}
	head := buildHead(c.prefix(), id, ackID, m.op, len(m.tail.B), false, m.tries > 0)
	if _, ok := queuePair(s.c, head, m.tail); !ok {
		return false
	}
	s.c.Flush()
	m.tries++
	if c.ack == ackAuto {
		m.tail.Release()
		return true
	}
	l.unacked[c] = append(l.unacked[c], pending{id: id, msg: m})
	return true
}

// ack applies an ACK (nack false) or NACK of message id delivered to sb:
// with ack:client it covers every earlier message of sb too. A NACKed
// message goes to another consumer (the same one if it is alone), unless
// it was delivered maxDeliveries times: then it is dropped. It reports
// whether sb held the message.
func (l *localQueues) ack(sb *sub, id uint64, nack bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	unacked := l.unacked[sb]
	i := 0
	for i < len(unacked) && unacked[i].id != id {
		i++
	}
	if i == len(unacked) {
		return false
	}
	from := i
	if sb.ack == ackClient {
		from = 0
	}
	done := append([]pending(nil), unacked[from:i+1]...)
	if unacked = append(unacked[:from], unacked[i+1:]...); len(unacked) > 0 {
		l.unacked[sb] = unacked
	} else {
		delete(l.unacked, sb)
	}
	q := l.qs[sb.k().name]
	for _, p := range done {
		switch {
		case !nack:
			p.msg.tail.Release()
		case p.msg.tries >= maxDeliveries || q == nil:
			l.drop(p.msg)
		default:
			if l.sm != nil {
				l.sm.QueueRedelivered.Inc()
			}
			if !l.offer(q, p.msg, sb) {
				l.wait(q, p.msg)
			}
		}
	}
	if q != nil {
		l.drain(q)
	}
	return true
}
