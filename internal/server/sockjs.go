package server

import (
	"net/netip"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admission"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/rawproto"
	"github.com/wsgate/wsgate/internal/sockjs/gateway"
	"github.com/wsgate/wsgate/internal/upgrade"
	"github.com/wsgate/wsgate/poller"
)

// SockJS on the listener: with -sockjs every registered endpoint also
// answers the SockJS protocol under its path. The gateway
// (internal/sockjs/gateway) serves it; the server diverts the requests
// under SockJS paths that are not upgrades to it (the connection then
// stays in stateHTTP), routes the websocket transports' upgrades onto
// twin endpoints, and implements what the gateway asks of a connection
// and of its host.

// sjServer is the server's SockJS service.
type sjServer struct {
	*gateway.Gateway
	// twins holds, by endpoint index, the endpoint kind of the websocket
	// transport's twin; 0 when the endpoint has none.
	twins []endpointKind
}

// setupSockJS registers the SockJS test endpoints (when asked for) and
// builds every endpoint's SockJS service and websocket twin. It runs in
// Start, after the endpoints are registered; Handle after it gets no
// SockJS of its own.
func (s *Server) setupSockJS() {
	cfg := &s.cfg
	if !cfg.SockJSEnabled() {
		return
	}
	var tests []gateway.Endpoint
	if cfg.SockJS.TestEndpoints {
		tests = gateway.SuiteEndpoints(rawproto.Echo{Metrics: s.m})
		for _, t := range tests {
			_ = s.handle(t.Path, false, t.Proto, &s.lim[0])
		}
	}
	n := len(s.endpoints)
	eps := make([]gateway.Endpoint, n)
	for i := range eps {
		e := &s.endpoints[i]
		eps[i] = gateway.Endpoint{Path: e.path, Prefix: e.prefix, Proto: e.proto, MaxMessage: e.lim.max, Cookie: cfg.SockJS.Cookie}
		for _, t := range tests {
			if t.Path == e.path {
				eps[i].NoWebSocket, eps[i].Cookie = t.NoWebSocket, eps[i].Cookie || t.Cookie
			}
		}
	}
	x := &sjServer{twins: make([]endpointKind, n)}
	x.Gateway = gateway.New(gateway.Config{
		Users: s.hub, Metrics: s.m, CountMessages: cfg.Metrics,
		Tick: cfg.Tick, Loops: cfg.Pollers,
		Heartbeat: cfg.SockJS.Heartbeat, DisconnectDelay: cfg.SockJS.DisconnectDelay,
		ResponseLimit: cfg.SockJS.ResponseLimit, ClientURL: cfg.SockJS.ClientURL,
		SendQueue: cfg.SendQueue, DropOldest: cfg.SlowPolicy == "drop-oldest",
		MaxHeader: cfg.MaxHeader,
		// A body carries messages as a JSON array of strings, and escaping
		// makes a control character six bytes (\u0001).
		MaxBody:      6*int(max(cfg.RoomMessageLimit(), cfg.MaxMessage)) + 1024,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout, HandshakeTimeout: cfg.HandshakeTimeout,
	}, sjHost{upgradeHost{s}}, eps)
	for i := range n {
		p := x.WebSocket(i)
		if p == nil {
			continue
		}
		// A SockJS frame wraps messages in a JSON array, and escaping can
		// make a character six bytes: the twin's frames get that room,
		// and each message is held to the endpoint's limit once decoded.
		e := &s.endpoints[i]
		wire := 6*e.lim.max + 1024
		lim := newEndpointLimits(wire, wire, cfg.MaxFragments)
		if s.handle(e.path, e.prefix, p, &lim) == nil {
			x.twins[i] = endpointKind(len(s.endpoints))
		}
	}
	s.sj = x
}

// wsRoute maps the path of a WebSocket upgrade to a SockJS websocket
// route: the raw /websocket is the endpoint itself, the SockJS transport
// is its twin.
func (x *sjServer) wsRoute(path []byte) (endpointKind, []byte, bool) {
	i, twin, room, ok := x.WebSocketRoute(path)
	switch {
	case !ok:
		return 0, nil, false
	case !twin:
		return endpointKind(i + 1), room, true
	case x.twins[i] != 0:
		return x.twins[i], room, true
	}
	return 0, nil, false
}

// startHTTP turns a connection whose first request is a SockJS HTTP
// request into an HTTP connection and lets the gateway serve req (a
// complete head) and the bytes that followed it.
func (c *conn) startHTTP(_ *batch, req, rest []byte) {
	s := c.srv()
	if c.ext == nil {
		c.ext = &connExt{}
	}
	h := s.sj.NewHTTP((*sjHTTPConn)(c))
	c.ext.state = h // before the state changes: the timer reads it in stateHTTP
	if !c.casState(stateHandshake, stateHTTP) {
		return
	}
	c.lastRead.Store(int32(s.eng.Now()))
	h.Start(req, rest)
}

// httpState returns the connection's SockJS HTTP state.
func (c *conn) httpState() *gateway.HTTP { return c.ext.state.(*gateway.HTTP) }

// onHTTPData serves the requests in one read.
func (c *conn) onHTTPData(_ *batch, data []byte) {
	c.lastRead.Store(int32(c.srv().eng.Now()))
	c.httpState().Feed(data)
}

// onHTTPTimer runs on the wheel goroutine for an HTTP connection.
func (c *conn) onHTTPTimer() { c.httpState().OnTimer() }

// onHTTPClose runs when an HTTP connection has closed.
func (c *conn) onHTTPClose() { c.httpState().OnClose() }

// SockJSConn implements gateway.WebSocketConn for a connection upgraded
// onto a websocket transport's twin.
func (c *conn) SockJSConn() gateway.Conn { return (*sjWSConn)(c) }

// sjHTTPConn is a connection in stateHTTP as the gateway writes to it
// (gateway.HTTPConn). DropOldest, PeerClosed and CloseWhenFlushed are
// poller.Conn's.
type sjHTTPConn conn

// Send implements gateway.Conn.
func (h *sjHTTPConn) Send(b *poller.Buf) (int, bool) {
	n, err := h.Conn.Send(b)
	return n, err == nil
}

// Write implements gateway.HTTPConn.
func (h *sjHTTPConn) Write(p []byte) { _ = h.Conn.Write(p) }

// Flush implements gateway.Conn.
func (h *sjHTTPConn) Flush() { _ = h.Conn.Flush() }

// Addr implements gateway.HTTPConn.
func (h *sjHTTPConn) Addr() netip.Addr { return h.RemoteAddrPort().Addr() }

// CloseSlow implements gateway.Conn: it records the reason and lets the
// connection's timer close it, off the session's lock.
func (h *sjHTTPConn) CloseSlow() bool {
	c := (*conn)(h)
	c.setReason(reasonSlowConsumer)
	c.srv().eng.Schedule(&c.Conn, 0)
	return true
}

// Close implements gateway.HTTPConn.
func (h *sjHTTPConn) Close(r gateway.Reason) {
	c := (*conn)(h)
	switch r {
	case gateway.ReasonIdle:
		c.setReason(reasonIdle)
	case gateway.ReasonWriteTimeout:
		c.setReason(reasonWriteTimeout)
	}
	_ = c.Conn.Close()
}

// Schedule implements gateway.HTTPConn.
func (h *sjHTTPConn) Schedule(d time.Duration) { h.srv().eng.Schedule(&h.Conn, d) }

// IdleFor implements gateway.HTTPConn.
func (h *sjHTTPConn) IdleFor(d time.Duration) bool {
	c := (*conn)(h)
	eng := c.srv().eng
	return eng.Now()-int64(c.lastRead.Load()) >= eng.Ticks(d)
}

// StalledFor implements gateway.HTTPConn.
func (h *sjHTTPConn) StalledFor(d time.Duration) bool {
	eng := (*conn)(h).srv().eng
	since := h.BlockedSince()
	return since != 0 && eng.Now()-since >= eng.Ticks(d)
}

func (h *sjHTTPConn) srv() *Server { return (*conn)(h).srv() }

// sjWSConn is a connection upgraded onto a websocket transport's twin, as
// its session writes to it (gateway.Conn); its closes queue a close frame
// and never run OnClose under the session's lock. DropOldest and
// PeerClosed are poller.Conn's.
type sjWSConn conn

// Send implements gateway.Conn: nothing more once the connection closes.
func (w *sjWSConn) Send(b *poller.Buf) (int, bool) {
	if (*conn)(w).loadState() != stateOpen {
		b.Release()
		return 0, false
	}
	n, err := w.Conn.Send(b)
	return n, err == nil
}

// Flush implements gateway.Conn.
func (w *sjWSConn) Flush() { _ = w.Conn.Flush() }

// CloseSlow implements gateway.Conn: 1008 after what is queued.
func (w *sjWSConn) CloseSlow() bool {
	return (*conn)(w).close(frame.ClosePolicyViolation, "slow consumer", reasonSlowConsumer, closeQueued)
}

// CloseWhenFlushed implements gateway.Conn: a normal close after what is
// queued (the session's close frame).
func (w *sjWSConn) CloseWhenFlushed() {
	(*conn)(w).close(frame.CloseNormal, "", reasonPeerClose, closeQueued)
}

// sjHost is the server as the gateway's host: its drain, origin policy,
// admission and refusals. It shares the upgrade's host's admission.
type sjHost struct{ upgradeHost }

// Draining implements gateway.Host.
func (h sjHost) Draining() bool { return h.s.draining.Load() }

// OriginAllowed implements gateway.Host: -origins, as for an upgrade.
func (h sjHost) OriginAllowed(origin, host []byte) bool { return h.s.origins.Allowed(origin, host) }

// Admit implements gateway.Host: the checks of an upgrade, in its order.
func (h sjHost) Admit(ip netip.Addr, tc *auth.TokenCollector, query, room []byte) (admission.Client, error) {
	s := h.s
	if err := s.checkConnRate(ip); err != nil {
		return admission.Client{}, err
	}
	r := admission.Request{Tokens: tc, IP: ip, Room: room}
	if s.cfg.DevMode {
		r.User = upgrade.QueryValue(query, "user")
	}
	return h.upgradeHost.Admit(r)
}

// AllowMessage implements gateway.Host.
func (h sjHost) AllowMessage(r **admission.Rate, user string, n int) admission.Verdict {
	v := h.s.guard.gate.AllowMessage(r, user, n)
	if !v.OK() {
		h.s.m.RateLimited[v.Limit].Inc()
	}
	return v
}

// Refusal implements gateway.Host: the upgrade's refusal, counted and
// logged as one.
func (h sjHost) Refusal(dst []byte, hc gateway.HTTPConn, err error) []byte {
	s := h.s
	status := upgrade.RefusalStatus(err)
	s.rejected.Add(1)
	s.m.Handshakes[hsResultForStatus(status)].Inc()
	if c, ok := hc.(*sjHTTPConn); ok {
		s.logReject((*conn)(c), status, err)
	}
	return upgrade.AppendRefusal(dst, err)
}
