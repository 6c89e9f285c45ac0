package jsonmux

import (
	"strconv"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/protocol"
)

// Rooms with history (see package history): their messages carry
// "offset" and "epoch", a join may resume, and "joined" reports the
// room's position.
//
//	-> {"type":"join","room":"chat.a","id":1,"since":{"offset":41,"epoch":"k3x9-2"}}
//	<- {"type":"message","room":"chat.a","data":...,"offset":42,"epoch":"k3x9-2"}   (the ones missed)
//	<- {"type":"joined","room":"chat.a","id":1,"recovered":true,"offset":42,"epoch":"k3x9-2"}
//	<- {"type":"message","room":"chat.a","data":...,"offset":43,"epoch":"k3x9-2"}   (live)
//
// "since" says the client has every message up to and including offset
// in epoch; the replay starts after it. The worker that owns the room
// replays, adds the connection to the room and queues "joined" in one
// step, so the live messages follow the replay with no gap and no
// duplicate. "recovered":false (offset too old, another epoch, or more to
// replay than the connection's send queue allows) replays nothing and
// gives the room's current position: the client has missed messages and
// must reload what it shows. "since":"last" delivers the room's latest
// message before "joined" (a last-value cache for rooms that hold a
// state), "recovered" telling whether there was one to give (or none was
// ever published). A join without "since" gets "recovered":false and the
// position. Rooms without history ignore "since" and answer "joined" as
// always.

// Option configures a Protocol.
type Option func(*Protocol)

// WithHistory gives the protocol the store that keeps the history of
// rooms (the one the fan-out pool records into); replayBytes bounds what
// one join may replay (keep it under the connection send queue: a replay
// past it is refused with "recovered":false instead).
func WithHistory(h history.Store, replayBytes int) Option {
	return func(p *Protocol) { p.hist, p.replayBytes = h, replayBytes }
}

// keeps reports whether room keeps history.
func (p *Protocol) keeps(room string) bool { return p.hist != nil && p.hist.Keeps(room) }

// submitJoin queues a join on the room's worker: the plain one, or for a
// room with history the one that resumes.
func (p *Protocol) submitJoin(c protocol.Conn, room string, keeps bool, cmd *command) bool {
	if !keeps {
		return p.submitControl(c, joinControl{}, room, cmd.id)
	}
	rj := &resumeJoin{p: p, id: append([]byte(nil), cmd.id...)}
	switch cmd.since.kind {
	case sinceOffset:
		rj.since = history.Since{Kind: history.SinceOffset, Offset: cmd.since.offset, Epoch: string(cmd.sinceEpoch)}
	case sinceLast:
		rj.since = history.Since{Kind: history.SinceLast}
	}
	if !p.pool.TrySubmit(fanout.Job{Room: room, From: c, Ctl: rj}) {
		if p.m != nil {
			p.m.Overloaded.Inc()
		}
		sendError(c, "overloaded", room, cmd.id, "the room's fan-out queue is full; try again later")
		return false
	}
	return true
}

// resumeJoin is the join of a room with history, applied on the room's
// worker: replay, membership and reply in one step.
type resumeJoin struct {
	p     *Protocol
	since history.Since
	id    []byte // the command's id as JSON text; nil when absent
}

// Apply implements fanout.Control.
func (rj *resumeJoin) Apply(d *fanout.Delivery) bool {
	j := d.Job()
	if df, ok := rj.p.hist.(history.Deferrer); ok && df.Defer(d.Worker(), j.Room, rj.since, *j) {
		return false // the store runs this join again once it can answer
	}
	c := j.From.(protocol.Conn)
	st := c.State().(*connState)
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return false
	}
	d.Hub().Join(j.Room, c)
	st.mu.Unlock()
	pos, recovered := rj.p.hist.Replay(d.Worker(), j.Room, rj.since, rj.p.replayBytes, func(m fanout.Job) {
		d.DeliverTo(c, m)
	})
	var buf [512]byte
	reply := appendReply(buf[:0], "joined", j.Room, rj.id)
	reply = reply[:len(reply)-1] // reopen the object
	reply = append(reply, `,"recovered":`...)
	reply = strconv.AppendBool(reply, recovered)
	reply = appendPosition(reply, pos.Offset, pos.Epoch)
	reply = append(reply, '}')
	rb, _ := fanout.FrameBuf(0, frame.OpText, reply)
	first, ok := c.Queue(rb)
	rb.Release()
	return first && ok
}

// positionLen returns len(appendPosition(nil, offset, epoch)).
func positionLen(offset uint64, epoch string) int {
	n := len(`,"offset":,"epoch":`) + jsonStringLen(epoch)
	for ; offset >= 10; offset /= 10 {
		n++
	}
	return n + 1
}

// appendPosition appends ,"offset":N,"epoch":"E".
func appendPosition(p []byte, offset uint64, epoch string) []byte {
	p = append(p, `,"offset":`...)
	p = strconv.AppendUint(p, offset, 10)
	p = append(p, `,"epoch":`...)
	return appendJSONString(p, epoch)
}
