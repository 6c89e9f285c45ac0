package server

import (
	"errors"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/limits"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/poller"
)

// sjConn is one SockJS session as the endpoint's Protocol and the
// fan-out see it: a protocol.Conn and a fanout.Subscriber whose messages
// go through the session, whichever request or WebSocket carries them at
// the moment. It lives as long as the session, not as any socket.
//
// Ownership: the fields are set before the session opens and only read
// afterwards, except state (set by Open), rl (the goroutine handling the
// session's messages, under msgMu) and scratch (the same).
type sjConn struct {
	se   *sjEndpoint
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
	rl      *connRate
	// msgMu serialises the session's messages: SockJS clients send one
	// request at a time, but nothing stops a client from sending two at
	// once on two connections, whose loops would then run the Protocol
	// concurrently for one session.
	msgMu   sync.Mutex
	scratch []byte // Scratch's buffer while a message is handled (pooled)
}

func (sc *sjConn) srv() *Server { return sc.se.x.s }

func (sc *sjConn) proto() *endpoint { return &sc.srv().endpoints[sc.se.index] }

// The protocol.Conn methods.

// Room implements protocol.Conn.
func (sc *sjConn) Room() string { return sc.room }

// User implements protocol.Conn.
func (sc *sjConn) User() string { return sc.user }

// Identity implements protocol.Conn.
func (sc *sjConn) Identity() *auth.Identity { return sc.id }

// State implements protocol.Conn.
func (sc *sjConn) State() any { return sc.state }

// Reply implements protocol.Conn: the message goes to the session now.
func (sc *sjConn) Reply(op frame.Opcode, payload []byte) {
	m := sockjs.NewMessage(payload)
	sc.sess.SendMessage(m)
	m.Release()
}

// Scratch implements protocol.Conn: valid while the Protocol handles a
// message.
func (sc *sjConn) Scratch() []byte {
	if sc.scratch == nil {
		return make([]byte, 0, 1024)
	}
	return sc.scratch[:0]
}

var sjScratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Fail implements protocol.Conn: the session closes with c[code,"reason"].
func (sc *sjConn) Fail(code frame.CloseCode, reason string) { sc.sess.Close(int(code), reason) }

// Queue implements protocol.Conn: b is a prepared WebSocket frame (a
// control's reply); its payload goes to the session as one message.
func (sc *sjConn) Queue(b *poller.Buf) (first, ok bool) {
	m := sockjs.NewMessage(framePayload(b.B))
	first, ok = sc.sess.Deliver(m)
	m.Release()
	return first, ok
}

// Deliver implements fanout.Subscriber: the message in the endpoint's
// format, as a SockJS message built once per message and format.
func (sc *sjConn) Deliver(d *fanout.Delivery) (flush, ok bool) {
	return sc.sess.Deliver(sc.se.x.message(d, sc.proto().proto.Format()))
}

// Flush implements fanout.Subscriber.
func (sc *sjConn) Flush() { sc.sess.Flush() }

// sjHandler is an endpoint's sockjs.Handler: it runs the endpoint's
// Protocol for each session.
type sjHandler struct{ se *sjEndpoint }

// OnOpen runs the Protocol's Open for a new session and indexes its
// user. The session's sjConn was made when its request was admitted.
func (h sjHandler) OnOpen(s *sockjs.Session) {
	sc, _ := s.Data.(*sjConn)
	if sc == nil {
		// Created by a request that found an open session, which closed
		// before the request reached it: nothing was admitted for it.
		s.Close(1011, "session lost, reconnect")
		return
	}
	sc.sess = s
	srv := h.se.x.s
	sc.state = sc.proto().proto.Open(sc)
	if sc.user != "" {
		srv.hub.AddUser(sc.user, sc)
	}
	sc.opened.Store(true)
}

// OnMessage hands one client message to the Protocol, after the
// session's rate limits.
func (h sjHandler) OnMessage(s *sockjs.Session, msg []byte) {
	sc, _ := s.Data.(*sjConn)
	if sc == nil || !sc.opened.Load() {
		return
	}
	srv := h.se.x.s
	if srv.cfg.Metrics {
		srv.m.MessagesIn[metrics.OpText].Inc()
		srv.m.BytesIn[metrics.OpText].Add(len(msg))
	}
	if int64(len(msg)) > sc.proto().lim.max {
		s.Close(int(frame.CloseMessageTooBig), "message too big")
		return
	}
	sc.msgMu.Lock()
	defer sc.msgMu.Unlock()
	if !sc.allow(len(msg)) {
		return
	}
	b := sjScratchPool.Get().(*[]byte)
	sc.scratch = *b
	err := sc.proto().proto.Message(sc, frame.OpText, msg)
	sc.scratch = nil
	sjScratchPool.Put(b)
	var pe *frame.ProtocolError
	if err != nil && errors.As(err, &pe) {
		s.Close(int(pe.Code), pe.Msg)
	} else if err != nil {
		s.Close(int(frame.CloseInternalError), "internal error")
	}
}

// OnClose releases what the session held: the Protocol's state (its
// memberships), its user index entry and its connection slot.
func (h sjHandler) OnClose(s *sockjs.Session) {
	sc, _ := s.Data.(*sjConn)
	if sc == nil {
		return
	}
	srv := h.se.x.s
	if sc.opened.Load() {
		sc.proto().proto.Close(sc)
		if sc.user != "" {
			srv.hub.RemoveUser(sc.user, sc)
		}
	}
	sc.release()
}

// release gives back the session's connection slot, once.
func (sc *sjConn) release() {
	if sc.counted {
		sc.counted = false
		sc.srv().guard.counter.Release(sc.user, sc.ip)
	}
}

// allow applies the per-session and per-user rate limits to one message
// of n bytes, as a WebSocket connection's allowMessage does.
func (sc *sjConn) allow(n int) bool {
	s := sc.srv()
	g := &s.guard
	if !g.connOn && g.userRate == nil {
		return true
	}
	now := g.clock()
	var saved limits.ConnBuckets
	if g.connOn {
		if sc.rl == nil {
			sc.rl = &connRate{}
		}
		saved = sc.rl.b
		if !sc.rl.b.Allow(&g.conn, now, int64(n)) {
			s.m.RateLimited[limitMsgs].Inc()
			return sc.violation("connection")
		}
	}
	if g.userRate != nil && sc.user != "" && !g.userRate.Allow(sc.user, now, int64(n)) {
		s.m.RateLimited[limitUserMsgs].Inc()
		if g.connOn {
			sc.rl.b = saved
		}
		return sc.violation("user")
	}
	return true
}

// violation applies the rate-violation policy to the session: the
// Protocol's refusal, or close 1008 at the RateCloseAfter-th violation.
func (sc *sjConn) violation(scope string) bool {
	if sc.rl == nil {
		sc.rl = &connRate{}
	}
	s := sc.srv()
	if s.guard.policy.Violation(&sc.rl.v) == limits.Close {
		sc.sess.Close(int(frame.ClosePolicyViolation), limits.CloseReason)
		return false
	}
	left := int(s.guard.policy.CloseAfter) - int(sc.rl.v.Count())
	var msg [96]byte
	m := append(msg[:0], "message dropped: "...)
	m = append(m, scope...)
	m = append(m, " rate limit exceeded; closing after "...)
	m = strconv.AppendInt(m, int64(left), 10)
	m = append(m, " more"...)
	sc.proto().proto.Refuse(sc, "rate_limited", "", bytesString(m))
	return false
}
