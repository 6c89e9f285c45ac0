package server

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/poller"
)

// sjWSProtocol is the twin endpoint that serves an endpoint's SockJS
// websocket transport (/{server}/{session}/websocket): the upgraded
// connection carries one SockJS session, which lives exactly as long as
// the connection. The session, not the connection, is the endpoint's
// protocol.Conn and room member; the connection's own protocol only
// relays text messages to it. The handshake admitted the connection (its
// token, room permission and connection slot), so the session takes the
// connection's identity and holds no slot of its own.
type sjWSProtocol struct{ se *sjEndpoint }

// sjWS is the state of a connection carrying a SockJS session: the
// Stream the session writes to, and its receiver.
type sjWS struct {
	c    *conn
	recv sockjs.Receiver
	sc   *sjConn
}

func (sjWSProtocol) Format() fanout.Format { return fanout.FormatFrame }

func (p sjWSProtocol) Open(pc protocol.Conn) any {
	c := pc.(*conn)
	st := &sjWS{c: c}
	st.sc = &sjConn{se: p.se, room: c.Room(), user: c.User(), id: c.Identity(), ip: c.RemoteAddrPort().Addr()}
	st.recv.Open = st.sc
	p.se.ep.AttachWebSocket(st, &st.recv)
	return st
}

func (sjWSProtocol) Message(pc protocol.Conn, op frame.Opcode, payload []byte) error {
	if op != frame.OpText {
		return nil // SockJS carries text; sockjs-client never sends binary
	}
	c := pc.(*conn)
	st := c.State().(*sjWS)
	_ = st.recv.ReceiveWebSocket(payload) // broken JSON ends the session and the connection
	return nil
}

func (sjWSProtocol) Refuse(pc protocol.Conn, code, room, text string) {
	st := pc.State().(*sjWS)
	st.sc.proto().proto.Refuse(st.sc, code, room, text)
}

func (sjWSProtocol) Close(pc protocol.Conn) {
	if st, ok := pc.State().(*sjWS); ok {
		st.recv.Abort()
	}
}

// The sockjs.Stream methods, called with the session's lock held; they
// never close the connection synchronously but through the close
// primitive, which only queues a close frame.

// Send implements sockjs.Stream.
func (st *sjWS) Send(b *poller.Buf) {
	c := st.c
	if c.loadState() != stateOpen {
		b.Release()
		return
	}
	queued, err := c.Send(b)
	if err == nil && int64(queued) > c.srv().cfg.SendQueue {
		st.slowConsumer()
	}
}

// slowConsumer applies the policy to a SockJS WebSocket whose queue
// passed -send-queue. Unlike a plain connection's, the close cannot drop
// the queue here (the session's lock is held, and the close must not run
// OnClose under it): the close frame goes after what is queued and the
// write timeout bounds the rest.
func (st *sjWS) slowConsumer() {
	c := st.c
	s := c.srv()
	if s.cfg.SlowPolicy == "drop-oldest" {
		if n := c.DropOldest(int(s.cfg.SendQueue)); n > 0 {
			s.m.SlowConsumer[metrics.PolicyDropOldest].Inc()
			s.m.Dropped.Add(n)
		}
		return
	}
	if c.close(frame.ClosePolicyViolation, "slow consumer", reasonSlowConsumer, closeQueued) {
		s.m.SlowConsumer[metrics.PolicyClose].Inc()
	}
}

// Write implements sockjs.Stream.
func (st *sjWS) Write(p []byte) {
	b := poller.NewBuf(len(p))
	b.B = append(b.B, p...)
	st.Send(b)
}

// Flush implements sockjs.Stream.
func (st *sjWS) Flush() { _ = st.c.Conn.Flush() }

// End implements sockjs.Stream: the session is over, so is the
// connection (a normal close after the session's close frame).
func (st *sjWS) End(bool) {
	st.c.close(frame.CloseNormal, "", reasonPeerClose, closeQueued)
}

// PeerGone implements sockjs.PeerProber.
func (st *sjWS) PeerGone() bool { return st.c.PeerClosed() }
