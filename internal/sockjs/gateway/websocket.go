package gateway

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/poller"
)

// wsProtocol is the twin endpoint that serves an endpoint's SockJS
// websocket transport (/{server}/{session}/websocket): the upgraded
// connection carries one SockJS session, which lives exactly as long as
// the connection. The session, not the connection, is the endpoint's
// protocol.Conn and room member; the connection's own protocol only
// relays text messages to it. The server's handshake admitted the
// connection (its token, room permission and connection slot), so the
// session takes the connection's identity and holds no slot of its own.
type wsProtocol struct{ se *endpoint }

// wsStream is the state of a connection carrying a SockJS session: the
// Stream the session writes to, and its receiver.
type wsStream struct {
	gw   *Gateway
	c    Conn
	recv sockjs.Receiver
	sc   *session
}

// Format implements protocol.Protocol: the connection itself receives no
// room messages (its session does).
func (wsProtocol) Format() fanout.Format { return fanout.FormatFrame }

// Open implements protocol.Protocol: the connection's session opens.
func (p wsProtocol) Open(pc protocol.Conn) any {
	wc, ok := pc.(WebSocketConn)
	if !ok {
		pc.Fail(frame.CloseInternalError, "no SockJS stream")
		return nil
	}
	st := &wsStream{gw: p.se.gw, c: wc.SockJSConn()}
	st.sc = &session{se: p.se, room: pc.Room(), user: pc.User(), id: pc.Identity()}
	st.recv.Open = st.sc
	p.se.ep.AttachWebSocket(st, &st.recv)
	return st
}

// Message implements protocol.Protocol: a text message carries the
// session's messages.
func (wsProtocol) Message(pc protocol.Conn, op frame.Opcode, payload []byte) error {
	if op != frame.OpText {
		return nil // SockJS carries text; sockjs-client never sends binary
	}
	if st, ok := pc.State().(*wsStream); ok {
		_ = st.recv.ReceiveWebSocket(payload) // broken JSON ends the session and the connection
	}
	return nil
}

// Refuse implements protocol.Protocol: the endpoint's refusal, to the
// session.
func (wsProtocol) Refuse(pc protocol.Conn, code, room, text string) {
	if st, ok := pc.State().(*wsStream); ok {
		st.sc.se.Proto.Refuse(st.sc, code, room, text)
	}
}

// Close implements protocol.Protocol: the session ends with the
// connection.
func (wsProtocol) Close(pc protocol.Conn) {
	if st, ok := pc.State().(*wsStream); ok {
		st.recv.Abort()
	}
}

// The sockjs.Stream methods, called with the session's lock held; the
// connection never closes synchronously from them, only by a close frame
// queued.

// Send implements sockjs.Stream.
func (st *wsStream) Send(b *poller.Buf) {
	if queued, ok := st.c.Send(b); ok && int64(queued) > st.gw.cfg.SendQueue {
		st.slowConsumer()
	}
}

// slowConsumer applies the policy to a SockJS WebSocket whose queue
// passed the send queue. Unlike a plain connection's, the close cannot
// drop the queue here (the session's lock is held, and the close must not
// run the server's close path under it): the close frame goes after what
// is queued and the write timeout bounds the rest.
func (st *wsStream) slowConsumer() {
	if !st.gw.dropOldest(st.c) && st.c.CloseSlow() {
		st.gw.cfg.Metrics.SlowConsumer[metrics.PolicyClose].Inc()
	}
}

// Write implements sockjs.Stream.
func (st *wsStream) Write(p []byte) {
	b := poller.NewBuf(len(p))
	b.B = append(b.B, p...)
	st.Send(b)
}

// Flush implements sockjs.Stream.
func (st *wsStream) Flush() { st.c.Flush() }

// End implements sockjs.Stream: the session is over, so is the
// connection (a normal close after the session's close frame).
func (st *wsStream) End(bool) { st.c.CloseWhenFlushed() }

// PeerGone implements sockjs.PeerProber.
func (st *wsStream) PeerGone() bool { return st.c.PeerClosed() }
