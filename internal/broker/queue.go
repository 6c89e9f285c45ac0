package broker

import (
	"github.com/nats-io/nats.go"
	"github.com/wsgate/wsgate/internal/broker/wire"
)

// queueGroup is the NATS queue group of every queue subscription. A
// group is scoped to its subject, so one name serves every destination.
const queueGroup = "consumers"

// natsQueueSub is one queue subscription on the queue connection.
type natsQueueSub struct {
	b   *NATS
	sub *nats.Subscription
}

// QueueSubscribe implements Broker. The subscription lives on the queue
// connection, in the queue group "consumers" of the destination's
// subject, so NATS hands each message to one subscriber among all nodes,
// this one included. h runs on a goroutine of its own for this
// subscription, one message at a time in the order received.
func (b *NATS) QueueSubscribe(name string, h Handler) (Subscription, error) {
	if err := checkName(b.prefix, Queue, name); err != nil {
		return nil, err
	}
	if b.closed.Load() {
		return nil, ErrClosed
	}
	q := &natsQueueSub{b: b}
	sub, err := b.qc.QueueSubscribe(wire.Subject(b.prefix, Queue, name), queueGroup, func(msg *nats.Msg) {
		m, err := wire.Decode(msg.Data)
		if err != nil {
			b.malformed.Add(1)
			return
		}
		b.received.Add(1)
		h(m)
	})
	if err != nil {
		return nil, err
	}
	// Bound the backlog by count like the delivery queues; bytes are
	// bounded by NATS's default of 64 MiB.
	_ = sub.SetPendingLimits(b.opts.DispatchQueue, 64<<20)
	q.sub = sub
	b.qmu.Lock()
	b.qsubs[q] = struct{}{}
	b.qmu.Unlock()
	return q, nil
}

// Unsubscribe implements Subscription.
func (q *natsQueueSub) Unsubscribe() error {
	b := q.b
	b.qmu.Lock()
	_, live := b.qsubs[q]
	delete(b.qsubs, q)
	b.qmu.Unlock()
	if !live {
		return nil
	}
	if n, err := q.sub.Dropped(); err == nil {
		b.retiredDropped.Add(uint64(n))
	}
	return q.sub.Unsubscribe()
}
