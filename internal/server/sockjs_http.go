package server

import (
	"sync"

	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/poller"
)

// sjHTTP is a connection serving SockJS HTTP requests (stateHTTP): the
// request parser, the receiver a receiving request attaches to its
// session, and the Stream that carries the responses. It hangs off the
// connection's connExt (as its state), so a WebSocket connection pays
// nothing for it.
//
// Requests are parsed in place on the event loop, one after another on a
// keep-alive connection; while a receiving response is open the
// connection reads no further request (bytes that arrive meanwhile wait
// in pending, bounded). The response ends from whichever goroutine the
// session runs on (End); the connection then reads requests again or
// closes once its queue is written.
type sjHTTP struct {
	c *conn
	// parser is taken from parserPool while requests are read and given
	// back between them, so an idle or streaming connection holds none.
	parser *sockjs.Parser
	recv   sockjs.Receiver

	mu sync.Mutex // guards the fields below
	// inResp is set while a response is being written: from the start of
	// Serve until its End.
	inResp bool
	// pending holds bytes read while a response was open.
	pending []byte
	// slow marks a connection whose queue passed -send-queue: it takes no
	// more output and its timer closes it.
	slow bool
	// closing is set once the connection will read no more requests.
	closing bool
	// partial is set while a request has begun but not completed.
	partial bool
}

// maxPending bounds what a client may send while its response is open.
const maxPending = 64 << 10

// startHTTP turns a connection whose first request is a SockJS HTTP
// request into an HTTP connection and serves req (a complete head) and
// the bytes that followed it.
func (c *conn) startHTTP(b *batch, req, rest []byte) {
	s := c.srv()
	if c.ext == nil {
		c.ext = &connExt{}
	}
	h := &sjHTTP{c: c}
	c.ext.state = h // before the state changes: the timer reads it in stateHTTP
	if !c.casState(stateHandshake, stateHTTP) {
		return
	}
	c.lastRead.Store(int32(s.eng.Now()))
	c.scheduleHTTP()
	if h.feed(b, req) && len(rest) > 0 {
		h.feed(b, rest)
	}
}

// httpState returns the connection's SockJS HTTP state.
func (c *conn) httpState() *sjHTTP { return c.ext.state.(*sjHTTP) }

// onHTTPData serves the requests in one read.
func (c *conn) onHTTPData(b *batch, data []byte) {
	c.lastRead.Store(int32(c.srv().eng.Now()))
	c.httpState().feed(b, data)
}

var parserPool = sync.Pool{New: func() any { return new(sockjs.Parser) }}

// getParser takes a parser for the connection's next requests.
func (h *sjHTTP) getParser() *sockjs.Parser {
	if h.parser == nil {
		s := h.c.srv()
		p := parserPool.Get().(*sockjs.Parser)
		p.MaxHeader = s.cfg.MaxHeader
		// A body carries messages as a JSON array of strings, and escaping
		// makes a control character six bytes (\u0001).
		p.MaxBody = 6*int(max(s.cfg.RoomMessageLimit(), s.cfg.MaxMessage)) + 1024
		h.parser = p
	}
	return h.parser
}

// putParser gives the parser back unless it holds part of a request.
func (h *sjHTTP) putParser() {
	if p := h.parser; p != nil && p.Buffered() == 0 {
		p.Reset()
		h.parser = nil
		parserPool.Put(p)
	}
}

// feed parses and serves the requests in data; it reports false once
// the connection is done (an error answered, or a response without
// keep-alive).
func (h *sjHTTP) feed(b *batch, data []byte) bool {
	defer h.putParser()
	c := h.c
	for len(data) > 0 {
		h.mu.Lock()
		if h.closing {
			h.mu.Unlock()
			return false
		}
		if h.inResp {
			ok := len(h.pending)+len(data) <= maxPending
			if ok {
				h.pending = append(h.pending, data...)
			}
			h.mu.Unlock()
			if !ok {
				_ = c.Close()
			}
			return ok
		}
		h.mu.Unlock()
		req, n, err := h.getParser().Parse(data)
		data = data[n:]
		if err != nil {
			h.fail(sockjs.ErrorStatus(err), err.Error()+"\n")
			return false
		}
		h.mu.Lock()
		h.partial = req == nil
		h.mu.Unlock()
		if req == nil {
			return true
		}
		h.serve(b, req)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.closing
}

// fail answers with a plain error and closes the connection.
func (h *sjHTTP) fail(status int, body string) {
	var buf [256]byte
	h.refuse(sockjs.AppendStatusResponse(buf[:0], status, body))
}

// refuse writes a complete response and closes the connection after it.
func (h *sjHTTP) refuse(resp []byte) {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	_ = h.c.Write(resp)
	h.c.CloseWhenFlushed()
}

// serve answers one request.
func (h *sjHTTP) serve(b *batch, req *sockjs.Request) {
	c := h.c
	s := c.srv()
	se, rt, room, ok := s.sj.route(req.Path)
	switch {
	case !ok:
		h.fail(404, "404 Error: Page not found\n")
		return
	case s.draining.Load():
		h.fail(503, "server shutting down\n")
		return
	}
	h.recv.Open = nil
	if rt.Kind == sockjs.KindSession && !h.prepare(b, se, rt, room, req) {
		return
	}
	h.mu.Lock()
	h.inResp = true
	h.mu.Unlock()
	res := se.ep.Serve(req, rt, h, &h.recv)
	h.settle()
	if res == sockjs.ResultUpgrade || res == sockjs.ResultRawWebSocket {
		// Upgrades go to the handshake, never here: refuse.
		h.fail(400, "Not a valid websocket request\n")
	}
}

// prepare readies a session request: a receiving request that will
// create a session is admitted (token, room permission, connection
// limits) and its session state made; a send request's session gets the
// loop's batch for its replies. It reports false when it refused the
// request.
func (h *sjHTTP) prepare(b *batch, se *sjEndpoint, rt sockjs.Route, room []byte, req *sockjs.Request) bool {
	sess := se.ep.Lookup(rt.Session)
	if sess != nil {
		sc, _ := sess.AppData().(*sjConn)
		if sc != nil && sc.room != string(room) {
			h.fail(404, "404 Error: Page not found\n") // the id belongs to another room
			return false
		}
		return true
	}
	if !opensSession(rt.Transport, req) {
		return true // the library answers: 404, 405, OPTIONS
	}
	sc, err := h.admit(se, room, req)
	if err != nil {
		var buf [256]byte
		srv := h.c.srv()
		status := rejectionStatus(err)
		srv.rejected.Add(1)
		srv.m.Handshakes[hsResultForStatus(status)].Inc()
		srv.logReject(h.c, status, err)
		h.refuse(appendRejection(buf[:0], err))
		return false
	}
	h.recv.Open = sc
	return true
}

// opensSession reports whether req, for a session that does not exist,
// creates one: a receiving transport (but websocket) with its method.
func opensSession(t sockjs.Transport, req *sockjs.Request) bool {
	switch t {
	case sockjs.TransportXHRPolling, sockjs.TransportXHRStreaming:
		return req.IsMethod("POST")
	case sockjs.TransportEventSource, sockjs.TransportHTMLFile, sockjs.TransportJSONPPolling:
		return req.IsMethod("GET")
	}
	return false
}

// settle runs after Serve: a session state prepared for a request that
// did not create a session gives its slot back, and send requests
// forget the loop's batch.
func (h *sjHTTP) settle() {
	if sc, _ := h.recv.Open.(*sjConn); sc != nil && sc.sess == nil {
		sc.release()
	}
	h.recv.Open = nil
}

// admit checks a request that opens a session as the handshake checks
// an upgrade: the token (access_token query parameter, Authorization
// header, or access_token cookie), the room permission, and the
// connection maxima, which count sessions.
func (h *sjHTTP) admit(se *sjEndpoint, room []byte, req *sockjs.Request) (*sjConn, error) {
	s := se.x.s
	g := &s.guard
	ip := h.c.RemoteAddrPort().Addr()
	if err := s.checkConnRate(ip); err != nil {
		return nil, err
	}
	var tc auth.TokenCollector
	tc.Query(req.Query)
	if len(req.Authorization) > 0 {
		tc.Header(req.Authorization)
	}
	if tok := cookieValue(req.Cookie, "access_token"); len(tok) > 0 {
		tc.Header(append([]byte("Bearer "), tok...))
	}
	sc := &sjConn{se: se, ip: ip}
	if len(room) > 0 {
		sc.room = string(room)
	}
	tok, _, err := tc.Token()
	switch {
	case err == auth.ErrNoToken && s.cfg.AdmitsAnonymous():
		if s.cfg.DevMode {
			sc.user = string(queryValue(req.Query, "user"))
		}
	case err != nil:
		return nil, err
	case g.verifier == nil:
		return nil, auth.ErrUnknownKey
	default:
		id, err := g.verifier.Verify(tok)
		if err != nil {
			return nil, err
		}
		sc.id, sc.user = id, id.Subject
	}
	if sc.room != "" && sc.id != nil && !sc.id.CanJoin(sc.room) {
		s.m.ForbiddenJoin.Inc()
		return nil, errRoomForbidden
	}
	if err := g.counter.Acquire(sc.user, ip); err != nil {
		s.countConnRejection(err)
		return nil, err
	}
	sc.counted = true
	return sc, nil
}

// cookieValue returns the value of the named cookie in a Cookie header.
func cookieValue(header []byte, name string) []byte {
	for len(header) > 0 {
		var c []byte
		c, header, _ = cutByte(header, ';')
		k, v, ok := cutByte(trimSpace(c), '=')
		if ok && string(k) == name {
			return v
		}
	}
	return nil
}

func cutByte(b []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// The sockjs.Stream methods. The session calls them with its lock held,
// from any goroutine; none of them closes the connection synchronously
// (which would run OnClose, and Abort, under that lock) except End, whose
// session has already detached the receiver.

// Send implements sockjs.Stream.
func (h *sjHTTP) Send(b *poller.Buf) {
	c := h.c
	h.mu.Lock()
	slow := h.slow
	h.mu.Unlock()
	if slow {
		b.Release()
		return
	}
	queued, err := c.Send(b)
	if err == nil && int64(queued) > c.srv().cfg.SendQueue {
		h.slowConsumer()
	}
}

// slowConsumer applies the slow-consumer policy to a response whose
// queue passed -send-queue: drop-oldest discards whole queued frames
// (each a complete chunk or line), close ends the connection, and with
// it the session.
func (h *sjHTTP) slowConsumer() {
	c := h.c
	s := c.srv()
	if s.cfg.SlowPolicy == "drop-oldest" {
		if n := c.DropOldest(int(s.cfg.SendQueue)); n > 0 {
			s.m.SlowConsumer[metrics.PolicyDropOldest].Inc()
			s.m.Dropped.Add(n)
		}
		return
	}
	h.mu.Lock()
	first := !h.slow
	h.slow = true
	h.mu.Unlock()
	if first {
		s.m.SlowConsumer[metrics.PolicyClose].Inc()
		c.setReason(reasonSlowConsumer)
		s.eng.Schedule(&c.Conn, 0) // the timer closes it, off the session's lock
	}
}

// Write implements sockjs.Stream: p is copied into the queue as one
// whole unit, so that drop-oldest never cuts a frame.
func (h *sjHTTP) Write(p []byte) {
	b := poller.NewBuf(len(p))
	b.B = append(b.B, p...)
	h.Send(b)
}

// Flush implements sockjs.Stream. A write error closes the connection
// from here; the session then learns of it through Abort's deferred path.
func (h *sjHTTP) Flush() { _ = h.c.Conn.Flush() }

// End implements sockjs.Stream: the response is complete.
func (h *sjHTTP) End(keepAlive bool) {
	c := h.c
	h.mu.Lock()
	h.inResp = false
	keep := keepAlive && len(h.pending) == 0 && !h.slow && !c.srv().draining.Load()
	h.closing = !keep
	h.mu.Unlock()
	if !keep {
		c.CloseWhenFlushed()
		return
	}
	_ = c.Conn.Flush()
	c.scheduleHTTP()
}

// PeerGone implements sockjs.PeerProber.
func (h *sjHTTP) PeerGone() bool { return h.c.PeerClosed() }

// scheduleHTTP arms the timer of an HTTP connection: the write timeout
// while a response is open, the keep-alive idle timeout otherwise.
func (c *conn) scheduleHTTP() {
	cfg := &c.srv().cfg
	d := cfg.WriteTimeout
	if cfg.IdleTimeout > 0 {
		d = min(d, cfg.IdleTimeout)
	}
	c.srv().eng.Schedule(&c.Conn, max(d/2, cfg.Tick))
}

// onHTTPTimer runs on the wheel goroutine for an HTTP connection.
func (c *conn) onHTTPTimer() {
	s := c.srv()
	h := c.httpState()
	h.mu.Lock()
	inResp, slow, partial := h.inResp, h.slow, h.partial
	h.mu.Unlock()
	now := s.eng.Now()
	switch {
	case slow:
		_ = c.Close()
		return
	case inResp:
		if since := c.BlockedSince(); since != 0 && now-since >= s.eng.Ticks(s.cfg.WriteTimeout) {
			s.m.SlowConsumer[metrics.PolicyClose].Inc()
			c.setReason(reasonWriteTimeout)
			_ = c.Close()
			return
		}
	default:
		idle := now - int64(c.lastRead.Load())
		limit := s.cfg.IdleTimeout
		if partial {
			limit = s.cfg.HandshakeTimeout // a request that stopped halfway
		}
		if limit > 0 && idle >= s.eng.Ticks(limit) {
			c.setReason(reasonIdle)
			_ = c.Close()
			return
		}
	}
	c.scheduleHTTP()
}

// onHTTPClose runs when an HTTP connection has closed: an attached
// receiving request is aborted (which closes its session).
func (c *conn) onHTTPClose() {
	h := c.httpState()
	h.recv.Abort()
	h.mu.Lock()
	h.pending = nil
	h.mu.Unlock()
}
