package gateway

import (
	"sync"

	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/poller"
)

// HTTP is a connection serving SockJS HTTP requests: the request parser,
// the receiver a receiving request attaches to its session, and the
// sockjs.Stream that carries the responses. The server keeps it as the
// connection's state, from the first SockJS request on, so a WebSocket
// connection pays nothing for it.
//
// Requests are parsed in place on the event loop, one after another on a
// keep-alive connection; while a receiving response is open the
// connection reads no further request (bytes that arrive meanwhile wait
// in pending, bounded). The response ends from whichever goroutine the
// session runs on (End); the connection then reads requests again or
// closes once its queue is written.
type HTTP struct {
	gw *Gateway
	c  HTTPConn
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
	// slow marks a connection whose queue passed the send queue: it takes
	// no more output and its timer closes it.
	slow bool
	// closing is set once the connection will read no more requests.
	closing bool
	// partial is set while a request has begun but not completed.
	partial bool
}

// maxPending bounds what a client may send while its response is open.
const maxPending = 64 << 10

// NewHTTP makes the HTTP state of a connection whose first request the
// gateway diverted. The server keeps it before it moves the connection
// into its HTTP state (its timer may then call OnTimer), and then calls
// Start.
func (g *Gateway) NewHTTP(c HTTPConn) *HTTP { return &HTTP{gw: g, c: c} }

// Start serves req (a complete request head) and the bytes that followed
// it in the same read, on the event loop.
func (h *HTTP) Start(req, rest []byte) {
	h.schedule()
	if h.Feed(req) && len(rest) > 0 {
		h.Feed(rest)
	}
}

var parserPool = sync.Pool{New: func() any { return new(sockjs.Parser) }}

// getParser takes a parser for the connection's next requests.
func (h *HTTP) getParser() *sockjs.Parser {
	if h.parser == nil {
		p := parserPool.Get().(*sockjs.Parser)
		p.MaxHeader = h.gw.cfg.MaxHeader
		p.MaxBody = h.gw.cfg.MaxBody
		h.parser = p
	}
	return h.parser
}

// putParser gives the parser back unless it holds part of a request.
func (h *HTTP) putParser() {
	if p := h.parser; p != nil && p.Buffered() == 0 {
		p.Reset()
		h.parser = nil
		parserPool.Put(p)
	}
}

// Feed parses and serves the requests in data, read on the event loop;
// it reports false once the connection is done (an error answered, or a
// response without keep-alive).
func (h *HTTP) Feed(data []byte) bool {
	defer h.putParser()
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
				h.c.Close(ReasonNone)
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
		h.serve(req)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.closing
}

// fail answers with a plain error and closes the connection.
func (h *HTTP) fail(status int, body string) {
	var buf [256]byte
	h.refuse(sockjs.AppendStatusResponse(buf[:0], status, body))
}

// refuse writes a complete response and closes the connection after it.
func (h *HTTP) refuse(resp []byte) {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	h.c.Write(resp)
	h.c.CloseWhenFlushed()
}

// serve answers one request.
func (h *HTTP) serve(req *sockjs.Request) {
	se, rt, room, ok := h.gw.route(req.Path)
	switch {
	case !ok:
		h.fail(404, "404 Error: Page not found\n")
		return
	case h.gw.host.Draining():
		h.fail(503, "server shutting down\n")
		return
	}
	h.recv.Open = nil
	if rt.Kind == sockjs.KindSession && !h.prepare(se, rt, room, req) {
		return
	}
	h.mu.Lock()
	h.inResp = true
	h.mu.Unlock()
	res := se.ep.Serve(req, rt, h, &h.recv)
	h.settle()
	if res == sockjs.ResultUpgrade || res == sockjs.ResultRawWebSocket {
		// Upgrades go to the server's handshake, never here: refuse.
		h.fail(400, "Not a valid websocket request\n")
	}
}

// prepare readies a session request: a receiving request that will
// create a session is admitted (token, room permission, connection
// limits) and its session state made. It reports false when it refused
// the request.
func (h *HTTP) prepare(se *endpoint, rt sockjs.Route, room []byte, req *sockjs.Request) bool {
	sess := se.ep.Lookup(rt.Session)
	if sess != nil {
		sc, _ := sess.AppData().(*session)
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
		h.refuse(h.gw.host.Refusal(buf[:0], h.c, err))
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
// did not create a session gives its slot back.
func (h *HTTP) settle() {
	if sc, _ := h.recv.Open.(*session); sc != nil && sc.sess == nil {
		sc.release()
	}
	h.recv.Open = nil
}

// admit checks a request that opens a session as the server checks an
// upgrade; the token comes as the access_token query parameter, an
// Authorization header, or an access_token cookie.
func (h *HTTP) admit(se *endpoint, room []byte, req *sockjs.Request) (*session, error) {
	var tc auth.TokenCollector
	tc.Query(req.Query)
	if len(req.Authorization) > 0 {
		tc.Header(req.Authorization)
	}
	if tok := cookieValue(req.Cookie, "access_token"); len(tok) > 0 {
		tc.Header(append([]byte("Bearer "), tok...))
	}
	ip := h.c.Addr()
	cl, err := h.gw.host.Admit(ip, &tc, req.Query, room)
	if err != nil {
		return nil, err
	}
	sc := &session{se: se, user: cl.User, id: cl.ID, ip: ip, counted: true}
	if len(room) > 0 {
		sc.room = string(room)
	}
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
// (which would run the server's close path, and Abort, under that lock)
// except End, whose session has already detached the receiver.

// Send implements sockjs.Stream.
func (h *HTTP) Send(b *poller.Buf) {
	h.mu.Lock()
	slow := h.slow
	h.mu.Unlock()
	if slow {
		b.Release()
		return
	}
	if queued, ok := h.c.Send(b); ok && int64(queued) > h.gw.cfg.SendQueue {
		h.slowConsumer()
	}
}

// slowConsumer applies the slow-consumer policy to a response whose
// queue passed the send queue: drop-oldest discards whole queued frames
// (each a complete chunk or line), close ends the connection, and with
// it the session.
func (h *HTTP) slowConsumer() {
	if h.gw.dropOldest(h.c) {
		return
	}
	h.mu.Lock()
	first := !h.slow
	h.slow = true
	h.mu.Unlock()
	if first && h.c.CloseSlow() {
		h.gw.cfg.Metrics.SlowConsumer[metrics.PolicyClose].Inc()
	}
}

// dropOldest applies drop-oldest to a connection over the send queue,
// and reports false when the policy is to close instead.
func (g *Gateway) dropOldest(c Conn) bool {
	if !g.cfg.DropOldest {
		return false
	}
	if n := c.DropOldest(int(g.cfg.SendQueue)); n > 0 {
		g.cfg.Metrics.SlowConsumer[metrics.PolicyDropOldest].Inc()
		g.cfg.Metrics.Dropped.Add(n)
	}
	return true
}

// Write implements sockjs.Stream: p is copied into the queue as one
// whole unit, so that drop-oldest never cuts a frame.
func (h *HTTP) Write(p []byte) {
	b := poller.NewBuf(len(p))
	b.B = append(b.B, p...)
	h.Send(b)
}

// Flush implements sockjs.Stream. A write error closes the connection
// from here; the session then learns of it through Abort's deferred path.
func (h *HTTP) Flush() { h.c.Flush() }

// End implements sockjs.Stream: the response is complete.
func (h *HTTP) End(keepAlive bool) {
	h.mu.Lock()
	h.inResp = false
	keep := keepAlive && len(h.pending) == 0 && !h.slow && !h.gw.host.Draining()
	h.closing = !keep
	h.mu.Unlock()
	if !keep {
		h.c.CloseWhenFlushed()
		return
	}
	h.c.Flush()
	h.schedule()
}

// PeerGone implements sockjs.PeerProber.
func (h *HTTP) PeerGone() bool { return h.c.PeerClosed() }

// schedule arms the connection's timer: the write timeout while a
// response is open, the keep-alive idle timeout otherwise.
func (h *HTTP) schedule() {
	cfg := &h.gw.cfg
	d := cfg.WriteTimeout
	if cfg.IdleTimeout > 0 {
		d = min(d, cfg.IdleTimeout)
	}
	h.c.Schedule(max(d/2, cfg.Tick))
}

// OnTimer runs on the server's timer goroutine when the connection's
// timer fires.
func (h *HTTP) OnTimer() {
	cfg := &h.gw.cfg
	h.mu.Lock()
	inResp, slow, partial := h.inResp, h.slow, h.partial
	h.mu.Unlock()
	switch {
	case slow:
		h.c.Close(ReasonNone) // the reason was given when it turned slow
		return
	case inResp:
		if h.c.StalledFor(cfg.WriteTimeout) {
			cfg.Metrics.SlowConsumer[metrics.PolicyClose].Inc()
			h.c.Close(ReasonWriteTimeout)
			return
		}
	default:
		limit := cfg.IdleTimeout
		if partial {
			limit = cfg.HandshakeTimeout // a request that stopped halfway
		}
		if limit > 0 && h.c.IdleFor(limit) {
			h.c.Close(ReasonIdle)
			return
		}
	}
	h.schedule()
}

// OnClose runs when the connection has closed: an attached receiving
// request is aborted (which closes its session).
func (h *HTTP) OnClose() {
	h.recv.Abort()
	h.mu.Lock()
	h.pending = nil
	h.mu.Unlock()
}
