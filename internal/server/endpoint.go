package server

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/jsonmux"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/protocol"
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

// The built-in endpoints.

// echoProtocol sends every message back with its opcode.
type echoProtocol struct{ m *metrics.Metrics }

func (echoProtocol) Format() fanout.Format                        { return fanout.FormatFrame }
func (echoProtocol) Open(protocol.Conn) any                       { return nil }
func (echoProtocol) Refuse(protocol.Conn, string, string, string) {}
func (echoProtocol) Close(protocol.Conn)                          {}

func (p echoProtocol) Message(c protocol.Conn, op frame.Opcode, payload []byte) error {
	c.Reply(op, payload)
	if p.m != nil {
		i := opIndex(op)
		p.m.MessagesOut[i].Inc()
		p.m.BytesOut[i].Add(len(payload))
	}
	return nil
}

// roomProtocol is /room/NAME: the connection is a member of one room,
// named by the path, and every message it sends goes to the room's other
// members as it is. Refusals have no form of their own on this raw
// endpoint: a message the token may not publish is dropped and counted;
// one that meets a full fan-out queue closes the connection with 1013
// (try again later), since the publisher could not otherwise learn that
// its message was dropped.
type roomProtocol struct {
	pool *fanout.Pool
	m    *metrics.Metrics
	hist history.Store // nil: no room keeps history
}

// roomState is a /room connection's state: whether it may publish, and
// whether its room keeps history (decided once, at the upgrade).
type roomState struct{ readOnly, keeps bool }

// roomStates are the four states, shared by every connection.
var roomStates = [2][2]roomState{{{}, {keeps: true}}, {{readOnly: true}, {readOnly: true, keeps: true}}}

func (roomProtocol) Format() fanout.Format                        { return fanout.FormatFrame }
func (roomProtocol) Refuse(protocol.Conn, string, string, string) {}

func (p roomProtocol) Open(c protocol.Conn) any {
	p.pool.Hub().Join(c.Room(), c)
	ro, keeps := 0, 0
	if !protocol.MayPublish(c, c.Room()) {
		ro = 1
	}
	if p.hist != nil && p.hist.Keeps(c.Room()) {
		keeps = 1
	}
	return &roomStates[ro][keeps]
}

func (p roomProtocol) Close(c protocol.Conn) { p.pool.Hub().Leave(c.Room(), c) }

func (p roomProtocol) Message(c protocol.Conn, op frame.Opcode, payload []byte) error {
	st := c.State().(*roomState)
	if st.readOnly {
		p.m.ForbiddenPublish.Inc()
		return nil
	}
	// Frame once into a shared buffer; a worker fans it out.
	fb, hdr := fanout.FrameBuf(0, op, payload)
	if !p.pool.TrySubmit(fanout.Job{Buf: fb, Hdr: hdr, Room: c.Room(), From: c, FromUser: c.User(), History: st.keeps}) {
		fb.Release()
		p.m.Overloaded.Inc()
		c.Fail(frame.CloseTryAgainLater, "room overloaded: message dropped, try again later")
	}
	return nil
}

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
		_ = s.handle(cfg.EchoPath, false, echoProtocol{m: s.m}, &s.lim[0])
	}
	if cfg.MuxPath != "" {
		var opts []jsonmux.Option
		if s.hist != nil {
			// A resume queues what was missed at once: half the send
			// queue, so the live stream has room behind it.
			opts = append(opts, jsonmux.WithHistory(s.hist, int(cfg.SendQueue/2)))
		}
		_ = s.Handle(cfg.MuxPath, false, jsonmux.New(s.pool, s.m, opts...))
	}
	s.registerStomp()
	if cfg.RoomPrefix != "" {
		_ = s.Handle(cfg.RoomPrefix, true, roomProtocol{pool: s.pool, m: s.m, hist: s.hist})
	}
}

// Fanout returns the server's fan-out pool, for protocols registered with
// Handle: they publish through it (TrySubmit on the event loop), register
// their own formats with it (before Start) and join rooms through its hub.
func (s *Server) Fanout() *fanout.Pool { return s.pool }
