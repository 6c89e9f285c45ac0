package gateway

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admission"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/limits"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/poller"
)

// session is one SockJS session as the endpoint's Protocol and the
// fan-out see it: a protocol.Conn and a fanout.Subscriber whose messages
// go through the session, whichever request or WebSocket carries them at
// the moment. It lives as long as the session, not as any socket.
//
// Ownership: the fields are set before the session opens and only read
// afterwards, except state (set by Open), rl (the goroutine handling the
// session's messages, under msgMu) and scratch (the same).
type session struct {
	se   *endpoint
	sess *sockjs.Session
	room string
	user string
	id   *auth.Identity
	ip   netip.Addr
	// counted says the session holds a slot of the connection counter
	// (HTTP sessions; a WebSocket session's connection holds its own).
	counted bool
	opened  atomic.Bool // the Protocol's Open ran (so Close must run)
	state   any
	rl      *admission.Rate
	// msgMu serialises the session's messages: SockJS clients send one
	// request at a time, but nothing stops a client from sending two at
	// once on two connections, whose loops would then run the Protocol
	// concurrently for one session.
	msgMu   sync.Mutex
	scratch []byte // Scratch's buffer while a message is handled (pooled)
}

// The protocol.Conn methods.

// Room implements protocol.Conn.
func (sc *session) Room() string { return sc.room }

// User implements protocol.Conn.
func (sc *session) User() string { return sc.user }

// Identity implements protocol.Conn.
func (sc *session) Identity() *auth.Identity { return sc.id }

// State implements protocol.Conn.
func (sc *session) State() any { return sc.state }

// Reply implements protocol.Conn: the message goes to the session now.
func (sc *session) Reply(op frame.Opcode, payload []byte) {
	m := sockjs.NewMessage(payload)
	sc.sess.SendMessage(m)
	m.Release()
}

// Scratch implements protocol.Conn: valid while the Protocol handles a
// message.
func (sc *session) Scratch() []byte {
	if sc.scratch == nil {
		return make([]byte, 0, 1024)
	}
	return sc.scratch[:0]
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Fail implements protocol.Conn: the session closes with c[code,"reason"].
func (sc *session) Fail(code frame.CloseCode, reason string) { sc.sess.Close(int(code), reason) }

// Queue implements protocol.Conn: b is a prepared WebSocket frame (a
// control's reply); its payload goes to the session as one message.
func (sc *session) Queue(b *poller.Buf) (first, ok bool) {
	m := sockjs.NewMessage(framePayload(b.B))
	first, ok = sc.sess.Deliver(m)
	m.Release()
	return first, ok
}

// Deliver implements fanout.Subscriber: the message in the endpoint's
// format, as a SockJS message built once per message and format.
func (sc *session) Deliver(d *fanout.Delivery) (flush, ok bool) {
	return sc.sess.Deliver(sc.se.gw.message(d, sc.se.Proto.Format()))
}

// Flush implements fanout.Subscriber.
func (sc *session) Flush() { sc.sess.Flush() }

// handler is an endpoint's sockjs.Handler: it runs the endpoint's
// Protocol for each session.
type handler struct{ se *endpoint }

// OnOpen runs the Protocol's Open for a new session and indexes its
// user. The session's state was made when its request was admitted.
func (h handler) OnOpen(s *sockjs.Session) {
	sc, _ := s.Data.(*session)
	if sc == nil {
		// Created by a request that found an open session, which closed
		// before the request reached it: nothing was admitted for it.
		s.Close(1011, "session lost, reconnect")
		return
	}
	sc.sess = s
	sc.state = h.se.Proto.Open(sc)
	if sc.user != "" {
		h.se.gw.cfg.Users.AddUser(sc.user, sc)
	}
	sc.opened.Store(true)
}

// OnMessage hands one client message to the Protocol, after the
// session's rate limits.
func (h handler) OnMessage(s *sockjs.Session, msg []byte) {
	sc, _ := s.Data.(*session)
	if sc == nil || !sc.opened.Load() {
		return
	}
	g := h.se.gw
	if g.cfg.CountMessages {
		g.cfg.Metrics.MessagesIn[metrics.OpText].Inc()
		g.cfg.Metrics.BytesIn[metrics.OpText].Add(len(msg))
	}
	if int64(len(msg)) > h.se.MaxMessage {
		s.Close(int(frame.CloseMessageTooBig), "message too big")
		return
	}
	sc.msgMu.Lock()
	defer sc.msgMu.Unlock()
	if !sc.allow(len(msg)) {
		return
	}
	b := scratchPool.Get().(*[]byte)
	sc.scratch = *b
	err := h.se.Proto.Message(sc, frame.OpText, msg)
	sc.scratch = nil
	scratchPool.Put(b)
	var pe *frame.ProtocolError
	if err != nil && errors.As(err, &pe) {
		s.Close(int(pe.Code), pe.Msg)
	} else if err != nil {
		s.Close(int(frame.CloseInternalError), "internal error")
	}
}

// OnClose releases what the session held: the Protocol's state (its
// memberships), its user index entry and its connection slot.
func (h handler) OnClose(s *sockjs.Session) {
	sc, _ := s.Data.(*session)
	if sc == nil {
		return
	}
	if sc.opened.Load() {
		h.se.Proto.Close(sc)
		if sc.user != "" {
			h.se.gw.cfg.Users.RemoveUser(sc.user, sc)
		}
	}
	sc.release()
}

// release gives back the session's connection slot, once.
func (sc *session) release() {
	if sc.counted {
		sc.counted = false
		sc.se.gw.host.Release(sc.user, sc.ip)
	}
}

// allow applies the per-session and per-user rate limits to one message
// of n bytes, as for a WebSocket connection's, and answers a refusal: the
// Protocol's refusal, or close 1008 at the violation that closes.
func (sc *session) allow(n int) bool {
	v := sc.se.gw.host.AllowMessage(&sc.rl, sc.user, n)
	switch v.Action {
	case 0:
		return true
	case limits.Close:
		sc.sess.Close(limits.CloseCode, limits.CloseReason)
		return false
	}
	var msg [96]byte
	sc.se.Proto.Refuse(sc, "rate_limited", "", bytesString(v.AppendText(msg[:0])))
	return false
}
