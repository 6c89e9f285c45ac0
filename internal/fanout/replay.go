package fanout

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/metrics"
)

// DeliverTo delivers the message j to s alone, as a fan-out of j would
// deliver it to that one member: in s's format, compressed as s wants,
// with encodings built for this delivery only. s is flushed with the rest
// of the current batch. A Control uses it to replay stored messages to a
// member in the same step as the member's join, so that the replay and
// the room's live messages meet with no gap and no duplicate.
//
// The caller keeps its own reference to j.Buf. DeliverTo reports whether
// s took the message (false: s is closing).
func (d *Delivery) DeliverTo(s Subscriber, j Job) bool {
	one := d.nested()
	j.Ctl = nil
	j.Buf.Retain() // one.reset releases it
	one.job = j
	one.comp = d.comp // share the worker's scratch
	flush, ok := s.Deliver(one)
	d.comp = one.comp[:0]
	one.comp = nil
	if m := d.p.m; m != nil && ok {
		op := metrics.OpText
		if j.Op() == frame.OpBinary {
			op = metrics.OpBinary
		}
		m.MessagesOut[op].Inc()
		m.BytesOut[op].Add(len(j.Buf.B) - j.Hdr)
	}
	one.reset()
	if ok && flush {
		d.dirty = append(d.dirty, s)
	}
	return ok
}

// nested returns the Delivery that DeliverTo, Fanout and Run use for a
// job other than the current one, made on first use.
func (d *Delivery) nested() *Delivery {
	if d.one == nil {
		d.one = &Delivery{p: d.p, q: d.q, worker: d.worker}
	}
	return d.one
}

// Fanout delivers the message j to the members of its room (or the
// connections of its user) now, from a Control, as the worker delivers a
// queued message: each encoding built once, every member touched flushed
// with the current batch. The recorder is not consulted and nothing is
// forwarded: a store that held messages back (while it caught up with a
// replicated log) releases them with it, in their order. The caller keeps
// its own reference to j.Buf.
func (d *Delivery) Fanout(j Job) {
	one := d.nested()
	j.Ctl = nil
	j.Buf.Retain() // one.reset releases it
	one.job = j
	one.comp = d.comp
	d.p.deliver(one)
	d.comp = one.comp[:0]
	one.comp = nil
	d.adopt(one)
	one.reset()
}

// Run applies the control job j now, on this worker, as if it had been
// queued to it: a store that made a join wait (until the room's history
// was ready on this node) runs the join with it. Run takes over j's
// reference to j.Buf.
func (d *Delivery) Run(j Job) {
	one := d.nested()
	one.job = j
	one.comp = d.comp
	if j.Ctl.Apply(one) && j.From != nil {
		d.dirty = append(d.dirty, j.From)
	}
	d.comp = one.comp[:0]
	one.comp = nil
	d.adopt(one)
	one.reset()
}

// adopt takes over the subscribers a nested delivery touched, so they
// are flushed with the current batch.
func (d *Delivery) adopt(one *Delivery) {
	d.dirty = append(d.dirty, one.dirty...)
	clear(one.dirty)
	one.dirty = one.dirty[:0]
}

// Broadcast queues ctl on every worker without waiting; a worker whose
// queue is full (or a stopped pool) skips it. It returns how many workers
// took it. Periodic housekeeping of per-worker state (expiring history)
// uses it: the Control learns its worker from Delivery.Worker.
func (p *Pool) Broadcast(ctl Control) int {
	n := 0
	for _, q := range p.qs {
		if q.tryPush(Job{Ctl: ctl}) {
			n++
		}
	}
	return n
}
