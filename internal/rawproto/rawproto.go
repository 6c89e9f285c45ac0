// Package rawproto holds the endpoints whose messages travel as they
// are, with no envelope of their own: Echo sends each message back, and
// Room (/room/NAME) hands it to the other members of the room the path
// names.
package rawproto

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/protocol"
)

// Echo sends every message back with its opcode. Its connections keep no
// state.
type Echo struct {
	// Metrics, if set, counts the messages sent back.
	Metrics *metrics.Metrics
}

// Format implements protocol.Protocol: echo connections are not room
// members, so the format is never asked for.
func (Echo) Format() fanout.Format { return fanout.FormatFrame }

// Open implements protocol.Protocol.
func (Echo) Open(protocol.Conn) any { return nil }

// Refuse implements protocol.Protocol: an echo client has no form for a
// refusal; the message is dropped.
func (Echo) Refuse(protocol.Conn, string, string, string) {}

// Close implements protocol.Protocol.
func (Echo) Close(protocol.Conn) {}

// Message implements protocol.Protocol.
func (p Echo) Message(c protocol.Conn, op frame.Opcode, payload []byte) error {
	c.Reply(op, payload)
	if p.Metrics != nil {
		i := metrics.OpText
		if op == frame.OpBinary {
			i = metrics.OpBinary
		}
		p.Metrics.MessagesOut[i].Inc()
		p.Metrics.BytesOut[i].Add(len(payload))
	}
	return nil
}

// Room is /room/NAME: the connection is a member of one room, named by
// the path, and every message it sends goes to the room's other members
// as it is. Refusals have no form of their own on this raw endpoint: a
// message the token may not publish is dropped and counted; one that
// meets a full fan-out queue closes the connection with 1013 (try again
// later), since the publisher could not otherwise learn that its message
// was dropped.
type Room struct {
	pool *fanout.Pool
	m    *metrics.Metrics
	hist history.Store // nil: no room keeps history
}

// NewRoom returns the room endpoint's protocol: it publishes through
// pool, counts refusals in m, and marks the messages of rooms that hist
// keeps (hist may be nil: no room keeps history).
func NewRoom(pool *fanout.Pool, m *metrics.Metrics, hist history.Store) Room {
	return Room{pool: pool, m: m, hist: hist}
}

// roomState is a /room connection's state: whether it may publish, and
// whether its room keeps history (decided once, at the upgrade).
type roomState struct{ readOnly, keeps bool }

// roomStates are the four states, shared by every connection.
var roomStates = [2][2]roomState{{{}, {keeps: true}}, {{readOnly: true}, {readOnly: true, keeps: true}}}

// Format implements protocol.Protocol: members get the message's own
// frame.
func (Room) Format() fanout.Format { return fanout.FormatFrame }

// Refuse implements protocol.Protocol: nothing to tell a raw client.
func (Room) Refuse(protocol.Conn, string, string, string) {}

// Open implements protocol.Protocol: the connection joins its room.
func (p Room) Open(c protocol.Conn) any {
	p.pool.Hub().Join(c.Room(), c)
	ro, keeps := 0, 0
	if !protocol.MayPublish(c, c.Room()) {
		ro = 1
	}
	if p.hist != nil && p.hist.Keeps(c.Room()) {
		keeps = 1
	}
	return &roomStates[ro][keeps]
}

// Close implements protocol.Protocol: the connection leaves its room.
func (p Room) Close(c protocol.Conn) { p.pool.Hub().Leave(c.Room(), c) }

// Message implements protocol.Protocol: the message is framed once and
// handed to the room's worker.
func (p Room) Message(c protocol.Conn, op frame.Opcode, payload []byte) error {
	st := c.State().(*roomState)
	if st.readOnly {
		p.m.ForbiddenPublish.Inc()
		return nil
	}
	fb, hdr := fanout.FrameBuf(0, op, payload)
	if !p.pool.TrySubmit(fanout.Job{Buf: fb, Hdr: hdr, Room: c.Room(), From: c, FromUser: c.User(), History: st.keeps}) {
		fb.Release()
		p.m.Overloaded.Inc()
		c.Fail(frame.CloseTryAgainLater, "room overloaded: message dropped, try again later")
	}
	return nil
}
