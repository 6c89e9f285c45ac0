// Package gateway serves SockJS on wsgate's event loop: with it every
// endpoint of the server also answers the SockJS protocol under its path
// (/echo/info, /room/NAME/000/abcd/xhr_streaming, ...), generically over
// the endpoint's protocol.Protocol.
//
// The server keeps its sockets, its connection states and its timer; it
// hands the gateway the requests under SockJS paths that are not
// WebSocket upgrades (HTTP, with an HTTPConn to answer on), and routes the
// SockJS websocket transport, an ordinary upgrade, onto a twin endpoint
// whose protocol (WebSocket) carries the session. Either way a session,
// not a socket, is the room member (a fanout.Subscriber) and the
// protocol.Conn the endpoint's Protocol talks to; it outlives the requests
// that carry it. What the gateway asks of the server is the Host: its
// admission (tokens, connection maxima, rate budgets, origin policy), its
// refusals, and whether it is draining.
package gateway

import (
	"bytes"
	"github.com/wsgate/wsgate/internal/reqhead"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admission"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/poller"
)

// Config is what the gateway needs of the server's configuration. Zero
// durations and sizes take the sockjs package's defaults where it has one.
type Config struct {
	// Users is the user index a session with a user id joins. Required.
	Users *hub.Hub[fanout.Subscriber]
	// Metrics receives messages in (with CountMessages) and slow-consumer
	// actions. Required.
	Metrics       *metrics.Metrics
	CountMessages bool
	// Tick and Loops size the session timer wheel.
	Tick  time.Duration
	Loops int
	// Heartbeat, DisconnectDelay, ResponseLimit and ClientURL are the
	// SockJS options (sockjs.Options).
	Heartbeat       time.Duration
	DisconnectDelay time.Duration
	ResponseLimit   int
	ClientURL       string
	// SendQueue bounds a connection's queued bytes; past it the
	// slow-consumer policy applies: DropOldest discards whole frames,
	// otherwise the connection closes.
	SendQueue  int64
	DropOldest bool
	// MaxHeader and MaxBody bound one HTTP request.
	MaxHeader int
	MaxBody   int
	// WriteTimeout closes a connection whose socket refused bytes that
	// long; IdleTimeout one that sent nothing that long between requests
	// (0: never); HandshakeTimeout one that stopped halfway through a
	// request.
	WriteTimeout     time.Duration
	IdleTimeout      time.Duration
	HandshakeTimeout time.Duration
}

// Host is the server that runs the gateway.
type Host interface {
	// Draining reports whether the server is shutting down: new requests
	// get 503 and responses no longer keep the connection alive.
	Draining() bool
	// OriginAllowed applies the server's origin policy to a request.
	OriginAllowed(origin, host []byte) bool
	// Admit admits a client whose request opens a session as the server
	// admits an upgrade: its address's connection rate, the token in tc
	// (or none, where anonymous clients are admitted; query may name the
	// dev-mode user), the permission to join room (empty: none) and the
	// connection maxima, where the session holds a slot until Release.
	// Refusals are counted.
	Admit(ip netip.Addr, tc *auth.TokenCollector, query, room []byte) (admission.Client, error)
	// Release gives back the slot of an admitted client.
	Release(user string, ip netip.Addr)
	// AllowMessage applies the rate limits to one message of n bytes of
	// a session (its state in *r; user "" skips the user's limits).
	// Refusals are counted.
	AllowMessage(r **admission.Rate, user string, n int) admission.Verdict
	// Refusal appends the HTTP response that refuses a request for err
	// (as an upgrade would be refused), and counts and logs the refusal.
	Refusal(dst []byte, c HTTPConn, err error) []byte
}

// Conn is a client connection on the server's event loop as a session
// writes to it: an HTTP connection with a receiving response open, or a
// WebSocket carrying the websocket transport. A session calls these with
// its lock held, from any goroutine: none of them may run the server's
// close path synchronously.
type Conn interface {
	// Send queues b, taking over the caller's reference, and reports the
	// bytes now queued; ok is false (b released) when the connection
	// takes no more output.
	Send(b *poller.Buf) (queued int, ok bool)
	// DropOldest discards whole queued buffers, oldest first and never
	// one partly written, until at most limit bytes are queued; it
	// reports how many it discarded.
	DropOldest(limit int) int
	// Flush writes what is queued.
	Flush()
	// PeerClosed reports whether the client has closed its side.
	PeerClosed() bool
	// CloseSlow starts closing the connection as a slow consumer, and
	// reports false when it was closing already.
	CloseSlow() bool
	// CloseWhenFlushed closes the connection once what is queued is
	// written (a WebSocket after a normal close frame).
	CloseWhenFlushed()
}

// HTTPConn is a connection serving SockJS HTTP requests. The server
// keeps it in its own HTTP state, reads into HTTP.Feed, and calls
// HTTP.OnTimer and HTTP.OnClose.
type HTTPConn interface {
	Conn
	// Write queues a copy of p.
	Write(p []byte)
	// Close closes the connection now, for reason. Not with a session's
	// lock held.
	Close(reason Reason)
	// Schedule arms the connection's timer: HTTP.OnTimer runs after d.
	Schedule(d time.Duration)
	// IdleFor reports whether nothing was read from the connection for d.
	IdleFor(d time.Duration) bool
	// StalledFor reports whether the socket has refused bytes for d.
	StalledFor(d time.Duration) bool
	// Addr is the client's address.
	Addr() netip.Addr
}

// WebSocketConn is implemented by the protocol.Conn of a WebSocket that
// the server upgraded onto a twin endpoint (see Gateway.WebSocket).
type WebSocketConn interface {
	SockJSConn() Conn
}

// Reason is why the gateway closes an HTTP connection, for the server's
// log and metrics.
type Reason uint8

// Reasons.
const (
	ReasonNone         Reason = iota // the server's own (the client went away)
	ReasonIdle                       // idle between requests, or stopped halfway
	ReasonWriteTimeout               // the socket refused bytes for the write timeout
)

// Endpoint is one of the server's endpoints as the gateway serves it.
type Endpoint struct {
	// Path and Prefix are the endpoint's: with Prefix the path's next
	// segment names a room (/room/NAME/...).
	Path   string
	Prefix bool
	// Proto is the endpoint's protocol; sessions are its Conns.
	Proto protocol.Protocol
	// MaxMessage is the endpoint's message size limit.
	MaxMessage int64
	// NoWebSocket turns the websocket transports off (SockJS's test
	// endpoint disabled_websocket_echo).
	NoWebSocket bool
	// Cookie sets the JSESSIONID cookie for sticky load balancers.
	Cookie bool
}

// SuiteEndpoints are the endpoints SockJS's protocol test suite expects
// beside /echo: /close (every session closed at once with 3000 "Go
// away!"), /disabled_websocket_echo and /cookie_needed_echo (echo over
// the given protocol).
func SuiteEndpoints(echo protocol.Protocol) []Endpoint {
	return []Endpoint{
		{Path: "/close", Proto: closeProtocol{}},
		{Path: "/disabled_websocket_echo", Proto: echo, NoWebSocket: true},
		{Path: "/cookie_needed_echo", Proto: echo, Cookie: true},
	}
}

// Gateway is the SockJS service of a server's endpoints.
type Gateway struct {
	cfg   Config
	host  Host
	eps   []*endpoint
	wheel *poller.Wheel // session timers: heartbeats, disconnect delays
	// cache maps each fan-out worker's Delivery to the SockJS form of the
	// message it is delivering (see message).
	cache sync.Map // *fanout.Delivery -> *msgCache
}

// endpoint is one endpoint's SockJS service.
type endpoint struct {
	Endpoint
	gw    *Gateway
	index int // in the server's table
	ep    *sockjs.Endpoint
	ws    protocol.Protocol // the websocket transport's twin; nil when off
}

// New builds the SockJS service of eps, indexed as given.
func New(cfg Config, host Host, eps []Endpoint) *Gateway {
	g := &Gateway{cfg: cfg, host: host}
	g.wheel = poller.NewWheel(cfg.Tick, cfg.Loops, func(n *poller.TimerNode) {
		sockjs.SessionOfTimer(n).OnTimer(time.Now())
	})
	g.eps = make([]*endpoint, len(eps))
	for i, e := range eps {
		se := &endpoint{Endpoint: e, gw: g, index: i}
		if !e.NoWebSocket {
			se.ws = wsProtocol{se}
		}
		se.ep = sockjs.NewEndpoint(e.Path, sockjs.Options{
			Handler:          handler{se},
			DisableWebSocket: e.NoWebSocket,
			CookieNeeded:     e.Cookie,
			Heartbeat:        cfg.Heartbeat,
			DisconnectDelay:  cfg.DisconnectDelay,
			ResponseLimit:    cfg.ResponseLimit,
			MaxQueue:         int(cfg.SendQueue),
			DropOldest:       cfg.DropOldest,
			SockJSURL:        cfg.ClientURL,
			CheckOrigin:      g.originAllowed,
			Scheduler:        scheduler{g},
		})
		g.eps[i] = se
	}
	return g
}

// WebSocket returns the protocol of endpoint i's websocket transport
// (/{server}/{session}/websocket), for the server to register as the
// endpoint's twin, or nil when the endpoint has none. The upgraded
// connection carries one session, which lives exactly as long as the
// connection; its protocol.Conn must implement WebSocketConn.
func (g *Gateway) WebSocket(i int) protocol.Protocol { return g.eps[i].ws }

// originAllowed applies the server's policy to a SockJS request, and
// admits the gateway's own origin besides: SockJS's iframe page is served
// from it, and the iframe transports send their requests from there.
func (g *Gateway) originAllowed(r *sockjs.Request) bool {
	if g.host.OriginAllowed(r.Origin, r.Host) {
		return true
	}
	_, rest, ok := bytes.Cut(r.Origin, []byte("://"))
	return ok && len(r.Host) > 0 && bytes.EqualFold(rest, r.Host)
}

// Start and Stop run the session timer wheel; Stop also expires every
// session and lets go of the cached messages.
func (g *Gateway) Start() { g.wheel.Start() }

// Stop ends the service: see Start.
func (g *Gateway) Stop() {
	g.wheel.Stop()
	for _, se := range g.eps {
		se.ep.Each((*sockjs.Session).Expire)
	}
	g.cache.Range(func(k, v any) bool {
		v.(*msgCache).release()
		g.cache.Delete(k)
		return true
	})
}

// Sessions returns the number of SockJS sessions with an id (the
// websocket transport's sessions are counted as connections).
func (g *Gateway) Sessions() int {
	n := 0
	for _, se := range g.eps {
		n += se.ep.Sessions()
	}
	return n
}

// Timers returns the number of session timers armed.
func (g *Gateway) Timers() int { return g.wheel.Len() }

// CloseSessions closes every SockJS session with code and reason (a
// drain): each receiving request gets the close frame and ends.
func (g *Gateway) CloseSessions(code int, reason string) {
	for _, se := range g.eps {
		se.ep.Each(func(s *sockjs.Session) { s.Close(code, reason) })
	}
}

// scheduler arms session timers on the gateway's wheel.
type scheduler struct{ g *Gateway }

func sessionKey(s *sockjs.Session) int { return int(uintptr(unsafe.Pointer(s)) >> 6) }

func (sc scheduler) Schedule(s *sockjs.Session, at time.Time) {
	sc.g.wheel.Schedule(s.TimerNode(), sessionKey(s), time.Until(at))
}

func (sc scheduler) Cancel(s *sockjs.Session) {
	sc.g.wheel.Cancel(s.TimerNode(), sessionKey(s))
}

// route finds the endpoint and SockJS route of a request path, and for a
// prefix endpoint the room its path names.
func (g *Gateway) route(path []byte) (*endpoint, sockjs.Route, []byte, bool) {
	for _, se := range g.eps {
		if !se.Prefix {
			if rt, ok := sockjs.Match(se.Path, path); ok {
				return se, rt, nil, true
			}
			continue
		}
		rest, ok := bytes.CutPrefix(path, []byte(se.Path))
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
		base := path[:len(se.Path)+len(room)]
		if rt, ok := sockjs.Match(bytesString(base), path); ok {
			return se, rt, room, true
		}
	}
	return nil, sockjs.Route{}, nil, false
}

// WebSocketRoute maps the path of a WebSocket upgrade to a SockJS
// websocket route: endpoint i's raw /websocket (the endpoint itself,
// twin false) or its session transport (the twin), and the room the path
// names; false when the path is neither, or the endpoint's websocket is
// off.
func (g *Gateway) WebSocketRoute(path []byte) (i int, twin bool, room []byte, ok bool) {
	se, rt, room, ok := g.route(path)
	if !ok || se.NoWebSocket {
		return 0, false, nil, false
	}
	switch {
	case rt.Kind == sockjs.KindRawWebSocket:
		return se.index, false, room, true
	case rt.Kind == sockjs.KindSession && rt.Transport == sockjs.TransportWebSocket:
		return se.index, true, room, true
	}
	return 0, false, nil, false
}

// Diverts reports whether a complete request head is the gateway's to
// answer over HTTP (anything under a SockJS path but a WebSocket
// upgrade). An upgrade to a websocket transport that is off is the
// gateway's too: it answers 404.
func (g *Gateway) Diverts(req []byte) bool {
	line, _, _ := bytes.Cut(req, []byte("\r\n"))
	method, target, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return false
	}
	target, _, _ = bytes.Cut(target, []byte(" "))
	path, _, _ := bytes.Cut(target, []byte("?"))
	se, rt, _, ok := g.route(path)
	if !ok {
		return false
	}
	upgrade := string(method) == "GET" && bytes.EqualFold(reqhead.Value(req, "upgrade"), []byte("websocket"))
	switch {
	case !upgrade:
		return true
	case rt.Kind == sockjs.KindGreeting:
		return false // the endpoint's own WebSocket
	case rt.Kind == sockjs.KindRawWebSocket, rt.Kind == sockjs.KindSession && rt.Transport == sockjs.TransportWebSocket:
		return se.NoWebSocket
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

// msgCache is one worker's SockJS form of the message it is delivering,
// per format: the source encoding (retained, so that its Buf cannot be
// recycled for another message while it is the key) and the Message
// quoted from it once, shared by every session of the format.
type msgCache struct {
	src [fanout.MaxFormats]*poller.Buf
	msg [fanout.MaxFormats]*sockjs.Message
}

func (c *msgCache) release() {
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
func (g *Gateway) message(d *fanout.Delivery, f fanout.Format) *sockjs.Message {
	v, ok := g.cache.Load(d)
	if !ok {
		v, _ = g.cache.LoadOrStore(d, &msgCache{})
	}
	c := v.(*msgCache)
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

// bytesString views b as a string without a copy, for read-only use while
// b does not change.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
