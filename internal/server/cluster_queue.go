package server

import (
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/poller"
)

// queueRelay is STOMP's stompproto.QueueGroup on the broker: a /queue
// destination is a NATS queue group, so each message sent to it reaches
// one node among those with consumers of it, and there one consumer.
//
// STOMP calls Join, Leave and Send under its queues' lock, some on an
// event loop, so they only append to a list; one goroutine talks to the
// broker, in the order of the calls. Sends past maxRelaySends waiting are
// dropped and counted (wsgate_broker_dropped_total{where="publish"}).
type queueRelay struct {
	brk  broker.Broker
	mu   sync.Mutex
	ops  []relayOp // guarded by mu
	sent int       // sends in ops; guarded by mu
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	subs map[string]broker.Subscription // owned by run

	dropped atomic.Uint64
}

// maxRelaySends bounds the queue messages waiting for the broker.
const maxRelaySends = 4096

type relayOp struct {
	name    string
	join    bool
	leave   bool
	op      frame.Opcode
	tail    *poller.Buf // a send
	deliver func(frame.Opcode, []byte)
}

func newQueueRelay(brk broker.Broker) *queueRelay {
	r := &queueRelay{brk: brk, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		subs: map[string]broker.Subscription{}}
	go r.run()
	return r
}

func (r *queueRelay) push(o relayOp) {
	r.mu.Lock()
	if o.tail != nil {
		if r.sent >= maxRelaySends {
			r.mu.Unlock()
			o.tail.Release()
			r.dropped.Add(1)
			return
		}
		r.sent++
	}
	r.ops = append(r.ops, o)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Join implements stompproto.QueueGroup.
func (r *queueRelay) Join(name string, deliver func(op frame.Opcode, tail []byte)) {
	r.push(relayOp{name: name, join: true, deliver: deliver})
}

// Leave implements stompproto.QueueGroup.
func (r *queueRelay) Leave(name string) { r.push(relayOp{name: name, leave: true}) }

// Send implements stompproto.QueueGroup.
func (r *queueRelay) Send(name string, op frame.Opcode, tail *poller.Buf) {
	r.push(relayOp{name: name, op: op, tail: tail})
}

func (r *queueRelay) run() {
	defer close(r.done)
	var batch []relayOp
	for {
		select {
		case <-r.wake:
		case <-r.stop:
			r.mu.Lock()
			for _, o := range r.ops {
				if o.tail != nil {
					o.tail.Release()
				}
			}
			r.ops = nil
			r.mu.Unlock()
			return
		}
		r.mu.Lock()
		batch, r.ops = r.ops, batch[:0]
		r.sent = 0
		r.mu.Unlock()
		for i := range batch {
			r.apply(&batch[i])
			batch[i] = relayOp{}
		}
	}
}

func (r *queueRelay) apply(o *relayOp) {
	switch {
	case o.join:
		deliver := o.deliver
		sub, err := r.brk.QueueSubscribe(o.name, func(m broker.Message) {
			op := frame.OpText
			if m.Flags&broker.Binary != 0 {
				op = frame.OpBinary
			}
			deliver(op, m.Payload)
		})
		if err == nil {
			r.subs[o.name] = sub
		}
	case o.leave:
		if sub := r.subs[o.name]; sub != nil {
			_ = sub.Unsubscribe()
			delete(r.subs, o.name)
		}
	default:
		m := broker.Message{Kind: broker.Queue, Target: o.name, Payload: o.tail.B}
		if o.op == frame.OpBinary {
			m.Flags = broker.Binary
		}
		_ = r.brk.Publish(m) // a drop is counted by the broker
		o.tail.Release()
	}
}

// close stops the relay; queue messages not yet sent are dropped.
func (r *queueRelay) close() {
	close(r.stop)
	<-r.done
}
