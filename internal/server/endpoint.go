package server

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/jsonmux"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/rawproto"
	"github.com/wsgate/wsgate/internal/upgrade"
	"github.com/wsgate/wsgate/poller"
)

// endpointKind numbers a registered endpoint (1-based; 0 before the
// upgrade). It lives in 4 bits of the connection's Tag byte.
type endpointKind uint8

// maxEndpoints is how many endpoints a server can register.
const maxEndpoints = 15

// endpoint is one registered path and the protocol that serves it.
type endpoint struct {
	path   string
	prefix bool // path is a prefix; the rest names a room
	proto  protocol.Protocol
	lim    *endpointLimits
	// The protocol's optional interfaces, found once at registration.
	ticker     protocol.Ticker
	deliverer  protocol.Deliverer
	subprotos  []string // its own subprotocols, server preference first
	lateAuth   bool     // a token may come after the upgrade
	keepsState bool     // its connections carry per-connection state (all but echo)
}

// ErrTooManyEndpoints is returned by Handle past the endpoint table's
// size.
var ErrTooManyEndpoints = errors.New("server: too many endpoints")

// Handle serves p at path: exactly, or, with prefix, for every path that
// starts with it, the rest naming a room (as /room/NAME does). Endpoints
// registered by configuration come first; an exact path wins over a
// prefix registered after it. Handle must be called before Start. The
// endpoint gets the fan-out size limits (-room-max-message, -room-max-frame).
func (s *Server) Handle(path string, prefix bool, p protocol.Protocol) error {
	return s.handle(path, prefix, p, &s.lim[1])
}

func (s *Server) handle(path string, prefix bool, p protocol.Protocol, lim *endpointLimits) error {
	if len(s.endpoints) >= maxEndpoints {
		return ErrTooManyEndpoints
	}
	s.endpoints = append(s.endpoints, newEndpoint(path, prefix, p, lim))
	return nil
}

// Route implements upgrade.Host: a SockJS websocket route first, then the
// endpoint table in its order.
func (h upgradeHost) Route(path []byte) (upgrade.Route, bool) {
	s := h.s
	if s.sj != nil {
		if k, room, ok := s.sj.wsRoute(path); ok {
			return s.endpoints[k-1].route(k, room), true
		}
	}
	for i := range s.endpoints {
		e := &s.endpoints[i]
		if !e.prefix && string(path) == e.path {
			return e.route(endpointKind(i+1), nil), true
		}
		if room, ok := bytes.CutPrefix(path, []byte(e.path)); ok && e.prefix {
			return e.route(endpointKind(i+1), room), true
		}
	}
	return upgrade.Route{}, false
}

// route is where a request for endpoint k (e) leads.
func (e *endpoint) route(k endpointKind, room []byte) upgrade.Route {
	return upgrade.Route{Kind: uint8(k), Prefix: e.prefix, Room: room, Subprotocols: e.subprotos, LateAuth: e.lateAuth}
}

// newUpgrader returns the handshake pool's New: upgrade parsers sharing
// one Config, which ask the server for routes and admission.
func (s *Server) newUpgrader() func() any {
	cfg := &s.cfg
	uc := &upgrade.Config{MaxHeader: cfg.MaxHeader, Subprotocols: cfg.Subprotocols, QueryUser: cfg.DevMode, Origins: &s.origins}
	if cfg.Deflate {
		uc.Deflate = &deflate.Options{ContextTakeover: cfg.DeflateContextTakeover, Level: cfg.DeflateLevel, Threshold: cfg.DeflateThreshold}
	}
	return func() any { return upgrade.New(uc, upgradeHost{s}) }
}

// ep returns the connection's endpoint; it must be upgraded.
func (c *conn) ep() *endpoint { return &c.srv().endpoints[c.endpoint()-1] }

// connExt is the state only some connections need (a room, a user id, a
// protocol's own state); it is allocated at upgrade only for them, so an
// echo connection stays small.
type connExt struct {
	hs   *[]byte // partial upgrade request (pooled) while it is split across reads
	room string
	// who is the user id and verified token (nil for anonymous clients).
	// It is set at the upgrade, or once later by a protocol that
	// authenticates in its own login frame (SetIdentity) while the
	// wheel, workers and closers may read it: hence the atomic pointer.
	who      atomic.Pointer[identity]
	state    any    // what the endpoint's Protocol.Open returned
	subproto string // the negotiated subprotocol of an endpoint with its own
	// Context-takeover compression state (only with
	// -deflate-context-takeover); mu orders compression with queueing,
	// and an identity set after the upgrade (SetIdentity) with the wheel's
	// read of it (expiryDelay).
	mu     sync.Mutex
	comp   *deflate.Compressor
	decomp *deflate.Decompressor
}

// identity is a connection's user id and verified token.
type identity struct {
	user string
	id   *auth.Identity
}

// The conn's protocol.Conn methods.

// Room implements protocol.Conn.
func (c *conn) Room() string {
	if c.ext == nil {
		return ""
	}
	return c.ext.room
}

// User implements protocol.Conn.
func (c *conn) User() string {
	if c.ext != nil {
		if w := c.ext.who.Load(); w != nil {
			return w.user
		}
	}
	return ""
}

// Identity implements protocol.Conn.
func (c *conn) Identity() *auth.Identity {
	if c.ext != nil {
		if w := c.ext.who.Load(); w != nil {
			return w.id
		}
	}
	return nil
}

// State implements protocol.Conn.
func (c *conn) State() any {
	if c.ext == nil {
		return nil
	}
	return c.ext.state
}

// Reply implements protocol.Conn: the message joins the loop's output
// batch, which is written once the read is handled (or once it passes 64
// KiB).
func (c *conn) Reply(op frame.Opcode, payload []byte) {
	b := c.batch()
	b.b = c.appendMessage(b.b, op, payload, b)
	if len(b.b) >= 64<<10 {
		c.flushBatch(b)
	}
}

// Scratch implements protocol.Conn.
func (c *conn) Scratch() []byte {
	b := c.batch()
	if b.scratch == nil {
		b.scratch = make([]byte, 0, 1024)
	}
	return b.scratch[:0]
}

// Fail implements protocol.Conn.
func (c *conn) Fail(code frame.CloseCode, reason string) {
	c.close(code, reason, reasonForCode(code), closeAfterBatch)
}

// Queue implements protocol.Conn: one more reference to b goes on the
// connection's queue. first reports that the queue was empty, so the
// caller must flush; ok is false if the connection is not open.
func (c *conn) Queue(b *poller.Buf) (first, ok bool) {
	if c.loadState() != stateOpen {
		return false, false
	}
	b.Retain()
	queued, err := c.Send(b)
	if err != nil {
		return false, false
	}
	if int64(queued) > c.srv().cfg.SendQueue {
		c.slowConsumer(false)
	}
	return queued == len(b.B), true
}

// Deliver implements fanout.Subscriber: the message in the endpoint's
// format, compressed as this connection negotiated (with its own context
// in context-takeover mode).
func (c *conn) Deliver(d *fanout.Delivery) (flush, ok bool) {
	ep := c.ep()
	if ep.deliverer != nil {
		return ep.deliverer.Deliver(c, d)
	}
	f := ep.proto.Format()
	if c.dflBits() != 0 && c.ext != nil && c.ext.comp != nil {
		if first, ok, handled := c.deliverTakeover(d, f); handled {
			return first, ok
		}
	}
	return c.Queue(d.Variant(f, c.dflBits()))
}

// Flush implements fanout.Subscriber.
func (c *conn) Flush() { _ = c.Conn.Flush() }

func opIndex(op frame.Opcode) int {
	if op == frame.OpBinary {
		return metrics.OpBinary
	}
	return metrics.OpText
}

// bytesString views b as a string without a copy, for read-only use while
// b does not change.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// registerEndpoints registers the configured endpoints: /ws before the
// room prefix, so the exact path wins.
func (s *Server) registerEndpoints() {
	cfg := &s.cfg
	if cfg.EchoPath != "" {
		_ = s.handle(cfg.EchoPath, false, rawproto.Echo{Metrics: s.m}, &s.lim[0])
	}
	if cfg.MuxPath != "" {
		var opts []jsonmux.Option
		if st := s.node.Store(); st != nil {
			// A resume queues what was missed at once: half the send
			// queue, so the live stream has room behind it.
			opts = append(opts, jsonmux.WithHistory(st, int(cfg.SendQueue/2)))
		}
		_ = s.Handle(cfg.MuxPath, false, jsonmux.New(s.pool, s.m, opts...))
	}
	s.registerStomp()
	if cfg.RoomPrefix != "" {
		_ = s.Handle(cfg.RoomPrefix, true, rawproto.NewRoom(s.pool, s.m, s.node.Store()))
	}
}

// Fanout returns the server's fan-out pool, for protocols registered with
// Handle: they publish through it (TrySubmit on the event loop), register
// their own formats with it (before Start) and join rooms through its hub.
func (s *Server) Fanout() *fanout.Pool { return s.pool }
