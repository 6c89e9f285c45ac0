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
	one := d.one
	if one == nil {
		one = &Delivery{p: d.p, q: d.q, worker: d.worker}
		d.one = one
	}
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
