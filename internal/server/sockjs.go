package server

import (
	"bytes"
	"sync"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/poller"
)

// SockJS on the listener: with -sockjs every registered endpoint also
// answers the SockJS protocol under its path (/echo/info,
// /room/NAME/000/abcd/xhr_streaming, ...). Non-upgrade requests are
// answered by the connection's event loop (sockjs_http.go); the SockJS
// websocket transport is an ordinary upgrade onto a twin endpoint whose
// protocol carries the session (sockjs_ws.go). Either way the session
// (sockjs_session.go), not the socket, is the room member and the
// protocol.Conn the endpoint's Protocol talks to, so SockJS is generic
// over every Protocol registered with Handle.

// sjServer is the server's SockJS state.
type sjServer struct {
	s *Server
	// eps holds the SockJS side of each endpoint, by endpoint index; nil
	// for endpoints without one (the websocket twins).
	eps   []*sjEndpoint
	wheel *poller.Wheel // session timers: heartbeats, disconnect delays
	// cache maps each fan-out worker's Delivery to the SockJS form of the
	// message it is delivering (see message).
	cache sync.Map // *fanout.Delivery -> *sjCache
}

// sjEndpoint is one endpoint's SockJS service.
type sjEndpoint struct {
	x     *sjServer
	index int // the endpoint's index in the table
	ep    *sockjs.Endpoint
	// twin is the endpoint kind of the websocket transport's twin entry,
	// 0 when the websocket transports are off.
	twin   endpointKind
	noWS   bool
	prefix bool
	path   string
}

// sjTestEndpoint describes one of the SockJS test server's endpoints.
type sjTestEndpoint struct {
	path   string
	proto  protocol.Protocol
	noWS   bool
	cookie bool
}

// setupSockJS registers the SockJS test endpoints (when asked for) and
// builds every endpoint's SockJS service and websocket twin. It runs in
// New after the endpoints are registered; Handle after it gets no SockJS
// of its own.
func (s *Server) setupSockJS() {
	if !s.cfg.SockJSEnabled() {
		return
	}
	x := &sjServer{s: s}
	x.wheel = poller.NewWheel(s.cfg.Tick, s.cfg.Pollers, func(n *poller.TimerNode) {
		sockjs.SessionOfTimer(n).OnTimer(time.Now())
	})
	s.sj = x
	var tests []sjTestEndpoint
	if s.cfg.SockJS.TestEndpoints {
		echo := echoProtocol{m: s.m}
		tests = []sjTestEndpoint{
			{path: "/close", proto: closeProtocol{}},
			{path: "/disabled_websocket_echo", proto: echo, noWS: true},
			{path: "/cookie_needed_echo", proto: echo, cookie: true},
		}
	}
	for _, t := range tests {
		_ = s.handle(t.path, false, t.proto, &s.lim[0])
	}
	n := len(s.endpoints)
	x.eps = make([]*sjEndpoint, n)
	for i := 0; i < n; i++ {
		e := &s.endpoints[i]
		se := &sjEndpoint{x: x, index: i, prefix: e.prefix, path: e.path}
		cookie := s.cfg.SockJS.Cookie
		for _, t := range tests {
			if t.path == e.path {
				se.noWS, cookie = t.noWS, cookie || t.cookie
			}
		}
		// A SockJS frame wraps messages in a JSON array, and escaping can
		// make a character six bytes: the twin's frames get that room,
		// and each message is held to the endpoint's limit once decoded.
		wire := 6*e.lim.max + 1024
		lim := newEndpointLimits(wire, wire, s.cfg.MaxFragments)
		if !se.noWS && s.handle(e.path, e.prefix, sjWSProtocol{se}, &lim) == nil {
			se.twin = endpointKind(len(s.endpoints))
		}
		se.ep = sockjs.NewEndpoint(e.path, s.sockjsOptions(se, cookie))
		x.eps[i] = se
	}
	// The twins were appended: they are reached only through SockJS
	// routes, never by their own path, so they get no SockJS service.
	x.eps = append(x.eps, make([]*sjEndpoint, len(s.endpoints)-n)...)
}

func (s *Server) sockjsOptions(se *sjEndpoint, cookie bool) sockjs.Options {
	cfg := &s.cfg
	return sockjs.Options{
		Handler:          sjHandler{se},
		DisableWebSocket: se.noWS,
		CookieNeeded:     cookie,
		Heartbeat:        cfg.SockJS.Heartbeat,
		DisconnectDelay:  cfg.SockJS.DisconnectDelay,
		ResponseLimit:    cfg.SockJS.ResponseLimit,
		MaxQueue:         int(cfg.SendQueue),
		DropOldest:       cfg.SlowPolicy == "drop-oldest",
		SockJSURL:        cfg.SockJS.ClientURL,
		CheckOrigin:      s.sockjsOriginAllowed,
		Scheduler:        sjScheduler{s.sj},
	}
}

// sockjsOriginAllowed applies -origins to a SockJS request, and admits
// the gateway's own origin besides: SockJS's iframe page is served from
// it, and the iframe transports send their requests from there.
func (s *Server) sockjsOriginAllowed(r *sockjs.Request) bool {
	if s.originAllowed(r.Origin, r.Host) {
		return true
	}
	_, rest, ok := bytes.Cut(r.Origin, []byte("://"))
	return ok && len(r.Host) > 0 && bytes.EqualFold(rest, r.Host)
}

// start and stop run the session timer wheel with the server.
func (x *sjServer) start() { x.wheel.Start() }

func (x *sjServer) stop() {
	x.wheel.Stop()
	for _, se := range x.eps {
		if se != nil {
			se.ep.Each((*sockjs.Session).Expire)
		}
	}
	x.cache.Range(func(k, v any) bool {
		v.(*sjCache).release()
		x.cache.Delete(k)
		return true
	})
}

// Sessions returns the number of SockJS sessions with an id (the
// websocket transport's sessions are counted as connections).
func (x *sjServer) sessions() int {
	n := 0
	for _, se := range x.eps {
		if se != nil {
			n += se.ep.Sessions()
		}
	}
	return n
}

// closeSessions closes every SockJS session with code and reason (a
// drain): each receiving request gets the close frame and ends.
func (x *sjServer) closeSessions(code int, reason string) {
	for _, se := range x.eps {
		if se != nil {
			se.ep.Each(func(s *sockjs.Session) { s.Close(code, reason) })
		}
	}
}

// sjScheduler arms session timers on the SockJS wheel.
type sjScheduler struct{ x *sjServer }

func sessionKey(s *sockjs.Session) int { return int(uintptr(unsafe.Pointer(s)) >> 6) }

func (sc sjScheduler) Schedule(s *sockjs.Session, at time.Time) {
	sc.x.wheel.Schedule(s.TimerNode(), sessionKey(s), time.Until(at))
}

func (sc sjScheduler) Cancel(s *sockjs.Session) {
	sc.x.wheel.Cancel(s.TimerNode(), sessionKey(s))
}

// route finds the SockJS endpoint and route of a request path, and for a
// prefix endpoint the room its path names.
func (x *sjServer) route(path []byte) (*sjEndpoint, sockjs.Route, []byte, bool) {
	for _, se := range x.eps {
		if se == nil {
			continue
		}
		if !se.prefix {
			if rt, ok := sockjs.Match(se.path, path); ok {
				return se, rt, nil, true
			}
			continue
		}
		rest, ok := bytes.CutPrefix(path, []byte(se.path))
		if !ok {
			continue
		}
		room := rest
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			room = rest[:i]
		}
		if !hub.ValidName(bytesString(room)) {
			continue
		}
		base := path[:len(se.path)+len(room)]
		if rt, ok := sockjs.Match(bytesString(base), path); ok {
			return se, rt, room, true
		}
	}
	return nil, sockjs.Route{}, nil, false
}

// wsRoute maps the path of a WebSocket upgrade to a SockJS websocket
// route: the raw /websocket is the endpoint itself, the SockJS transport
// is its twin.
func (x *sjServer) wsRoute(path []byte) (endpointKind, []byte, bool) {
	se, rt, room, ok := x.route(path)
	if !ok || se.noWS {
		return 0, nil, false
	}
	switch {
	case rt.Kind == sockjs.KindRawWebSocket:
		return endpointKind(se.index + 1), room, true
	case rt.Kind == sockjs.KindSession && rt.Transport == sockjs.TransportWebSocket && se.twin != 0:
		return se.twin, room, true
	}
	return 0, nil, false
}

// diverts reports whether a complete request head is a SockJS HTTP
// request (anything under a SockJS path but a WebSocket upgrade).
func (x *sjServer) diverts(req []byte) bool {
	line, _, _ := bytes.Cut(req, []byte("\r\n"))
	method, target, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return false
	}
	target, _, _ = bytes.Cut(target, []byte(" "))
	path, _, _ := bytes.Cut(target, []byte("?"))
	se, rt, _, ok := x.route(path)
	if !ok {
		return false
	}
	upgrade := string(method) == "GET" && bytes.EqualFold(headerValue(req, "upgrade"), []byte("websocket"))
	switch {
	case !upgrade:
		return true
	case rt.Kind == sockjs.KindGreeting:
		return false // the endpoint's own WebSocket
	case rt.Kind == sockjs.KindRawWebSocket, rt.Kind == sockjs.KindSession && rt.Transport == sockjs.TransportWebSocket:
		return se.noWS // 404 from SockJS when its websocket is off
	}
	return true
}

// closeProtocol is the test endpoint /close: every session is closed as
// soon as it opens, with c[3000,"Go away!"].
type closeProtocol struct{}

func (closeProtocol) Format() fanout.Format                             { return fanout.FormatFrame }
func (closeProtocol) Open(c protocol.Conn) any                          { c.Fail(3000, "Go away!"); return nil }
func (closeProtocol) Message(protocol.Conn, frame.Opcode, []byte) error { return nil }
func (closeProtocol) Refuse(protocol.Conn, string, string, string)      {}
func (closeProtocol) Close(protocol.Conn)                               {}

// sjCache is one worker's SockJS form of the message it is delivering,
// per format: the source encoding (retained, so that its Buf cannot be
// recycled for another message while it is the key) and the Message
// quoted from it once, shared by every session of the format.
type sjCache struct {
	src [fanout.MaxFormats]*poller.Buf
	msg [fanout.MaxFormats]*sockjs.Message
}

func (c *sjCache) release() {
	for f, b := range c.src {
		if b != nil {
			b.Release()
			c.msg[f].Release()
			c.src[f], c.msg[f] = nil, nil
		}
	}
}

// message returns the job d is delivering as a SockJS message in format
// f. The JSON quoting (the costly step) and each wire form are built once
// per message, however many sessions receive it. Only d's worker calls
// it for d, so the cache entry needs no lock.
func (x *sjServer) message(d *fanout.Delivery, f fanout.Format) *sockjs.Message {
	v, ok := x.cache.Load(d)
	if !ok {
		v, _ = x.cache.LoadOrStore(d, &sjCache{})
	}
	c := v.(*sjCache)
	src, hdr := d.Plain(f)
	if c.src[f] != src {
		if c.src[f] != nil {
			c.src[f].Release()
			c.msg[f].Release()
		}
		src.Retain()
		c.src[f], c.msg[f] = src, sockjs.NewMessage(src.B[hdr:])
	}
	return c.msg[f]
}

// framePayload returns the payload of one unmasked server frame.
func framePayload(b []byte) []byte {
	if len(b) < 2 {
		return nil
	}
	switch n := b[1] & 0x7f; n {
	case 126:
		return b[min(4, len(b)):]
	case 127:
		return b[min(10, len(b)):]
	}
	return b[2:]
}
