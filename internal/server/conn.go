package server

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admission"
	"github.com/wsgate/wsgate/internal/upgrade"
	"github.com/wsgate/wsgate/poller"
)

// Connection states.
const (
	stateHandshake uint32 = iota + 1 // reading the upgrade request
	stateOpen                        // upgraded, messages flow
	stateClosing                     // our close frame is out; waiting for the peer's
	stateRejected                    // HTTP error sent; waiting for the peer to hang up
	stateUpgrading                   // the complete request is being checked and answered
	stateFailed                      // protocol error: close frame sent, input ignored
	stateClosed
	stateHTTP // serving SockJS HTTP requests (sockjs_http.go)
)

// gate bits: which goroutine may release the decoder's pooled buffers,
// whether the current silence was already pinged, and (above gateReasonShift)
// the close reason.
const (
	gateInData = 1 << iota
	gateClosed
	gatePinged  // a ping went out since the last read
	gateCounted // admitted by the connection counter: release it at close
	// Bits 4-7 hold the connection state (state* constants, 1-8).
	stateShift      = 4
	stateMask       = 15 << stateShift
	gateReasonShift = 8
)

// conn is one client connection; it is kept small because a host holds
// hundreds of thousands. Ownership: dec, rl, ext.hs and the Tag byte
// (endpoint, deflate bits) belong to the event loop that runs OnData for
// this connection; ext's other fields are set by that loop before the
// state becomes open and only read afterwards; state, lastRead and gate
// are atomics shared with the wheel goroutine and whichever goroutine
// closes the connection; poller.Conn guards its own queue.
type conn struct {
	poller.Conn
	ext      *connExt // room, user, split handshake, takeover state: only for connections that need them
	dec      frame.Decoder
	gate     atomic.Uint32   // connection state, gate* bits and the close reason
	lastRead atomic.Int32    // wheel tick of the last read; before the upgrade, the accept time in micros
	rl       *admission.Rate // rate-limit state, allocated at the first metered message
}

// srv returns the server, kept once in the engine instead of in every
// connection.
func (c *conn) srv() *Server { return c.Engine().Data().(*Server) }

// setReason records why the connection is closing; the first reason wins.
func (c *conn) setReason(r closeReason) {
	for {
		v := c.gate.Load()
		if v>>gateReasonShift != 0 || c.gate.CompareAndSwap(v, v|uint32(r)<<gateReasonShift) {
			return
		}
	}
}

// loadState returns the connection's state.
func (c *conn) loadState() uint32 { return c.gate.Load() & stateMask >> stateShift }

// casState moves the state from old to new, keeping the other gate bits;
// false if the state was not old.
func (c *conn) casState(old, new uint32) bool {
	for {
		v := c.gate.Load()
		if v&stateMask>>stateShift != old {
			return false
		}
		if c.gate.CompareAndSwap(v, v&^stateMask|new<<stateShift) {
			return true
		}
	}
}

// swapState sets the state and returns the previous one.
func (c *conn) swapState(new uint32) uint32 {
	for {
		v := c.gate.Load()
		if c.gate.CompareAndSwap(v, v&^stateMask|new<<stateShift) {
			return v & stateMask >> stateShift
		}
	}
}

// storeState sets the state.
func (c *conn) storeState(new uint32) { c.swapState(new) }

// endpoint returns the endpoint the connection was upgraded on (0 before
// the upgrade). It and dflBits live in poller.Conn's Tag byte: bits 0-3
// the endpoint kind (1-15), bits 4-7 the deflate window bits minus 7. Both
// are set by the event loop before the state becomes open.
func (c *conn) endpoint() endpointKind { return endpointKind(c.Tag & 15) }

func (c *conn) setEndpoint(k endpointKind) { c.Tag = c.Tag&^15 | uint8(k)&15 }

// dflBits returns the negotiated server window bits, 0 without
// permessage-deflate.
func (c *conn) dflBits() uint8 {
	if b := c.Tag >> 4; b != 0 {
		return b + 7
	}
	return 0
}

func (c *conn) setDfl(bits int) {
	var b uint8
	if bits != 0 {
		b = uint8(bits-7) & 15
	}
	c.Tag = c.Tag&15 | b<<4
}

// closeReason returns the recorded reason, or reasonNone.
func (c *conn) closeReason() closeReason { return closeReason(c.gate.Load() >> gateReasonShift) }

// PollerConn implements poller.Session.
func (c *conn) PollerConn() *poller.Conn { return &c.Conn }

// enter marks the start of OnData; false means the connection is closed.
func (c *conn) enter() bool {
	for {
		v := c.gate.Load()
		if v&gateClosed != 0 {
			return false
		}
		if c.gate.CompareAndSwap(v, v|gateInData) {
			return true
		}
	}
}

// leave marks the end of OnData and releases buffers if the connection
// closed meanwhile.
func (c *conn) leave() {
	if old := c.gate.And(^uint32(gateInData)); old&gateClosed != 0 {
		c.release()
	}
}

// markClosed is called once when the connection is closed; it releases
// buffers unless OnData is running, in which case leave does.
func (c *conn) markClosed() {
	if old := c.gate.Or(gateClosed); old&gateInData == 0 {
		c.release()
	}
}

func (c *conn) release() {
	c.dec.Release()
	c.releaseDeflate()
	if c.ext != nil && c.ext.hs != nil {
		putHSBuf(c.ext.hs)
		c.ext.hs = nil
	}
}

var hsBufPool sync.Pool // *[]byte

func getHSBuf(size int) *[]byte {
	if v := hsBufPool.Get(); v != nil {
		b := v.(*[]byte)
		if cap(*b) >= size {
			*b = (*b)[:0]
			return b
		}
	}
	b := make([]byte, 0, size)
	return &b
}

func putHSBuf(b *[]byte) { hsBufPool.Put(b) }

var crlfcrlf = []byte("\r\n\r\n")

func (c *conn) onData(b *batch, data []byte) {
	switch c.loadState() {
	case stateHandshake:
		c.onHandshakeData(b, data)
	case stateOpen, stateClosing:
		c.lastRead.Store(int32(c.srv().eng.Now()))
		if c.gate.Load()&gatePinged != 0 {
			c.gate.And(^uint32(gatePinged))
		}
		c.feed(b, data)
	case stateHTTP:
		c.onHTTPData(b, data)
	}
}

// onHandshakeData accumulates the request until CRLFCRLF. A request that
// arrives whole in one read is parsed in place, without a copy.
func (c *conn) onHandshakeData(b *batch, data []byte) {
	limit := c.srv().cfg.MaxHeader
	if c.ext == nil || c.ext.hs == nil {
		if i := bytes.Index(data, crlfcrlf); i >= 0 && i+4 <= limit {
			c.onRequest(b, data[:i+4], data[i+4:])
			return
		}
		if len(data) >= limit {
			c.reject(upgrade.ErrHeaderTooLarge)
			return
		}
		if c.ext == nil {
			c.ext = &connExt{}
		}
		c.ext.hs = getHSBuf(limit)
		*c.ext.hs = append(*c.ext.hs, data...)
		return
	}
	buf := c.ext.hs
	old := len(*buf)
	take := min(len(data), limit-old)
	*buf = append(*buf, data[:take]...)
	from := max(old-3, 0)
	if i := bytes.Index((*buf)[from:], crlfcrlf); i >= 0 {
		end := from + i + 4
		c.onRequest(b, (*buf)[:end], data[end-old:])
		c.ext.hs = nil
		putHSBuf(buf)
		return
	}
	if len(*buf) >= limit {
		c.ext.hs = nil
		putHSBuf(buf)
		c.reject(upgrade.ErrHeaderTooLarge)
	}
}

// onRequest upgrades the connection for a complete request; rest holds any
// bytes that followed the request in the same read (early frames).
func (c *conn) onRequest(b *batch, req, rest []byte) {
	s := c.srv()
	if s.sj != nil && s.sj.Diverts(req) {
		c.startHTTP(b, req, rest)
		return
	}
	// Claim the connection from the handshake timer (and the drain): a
	// connection is either timed out, never counted, or upgraded, never
	// both (else a slot counted here could be released before it was
	// taken, and be lost).
	if !c.casState(stateHandshake, stateUpgrading) {
		return
	}
	if s.draining.Load() {
		c.reject(upgrade.ErrDraining)
		return
	}
	ip := c.RemoteAddrPort().Addr()
	if err := s.checkConnRate(ip); err != nil {
		c.reject(err)
		return
	}
	if s.demo != nil && c.serveStatic(s.demo, req) {
		return
	}
	h := s.hsPool.Get().(*upgrade.Upgrader)
	u, resp, err := h.Upgrade(req, ip)
	if err != nil {
		c.rejectWith(resp, err) // resp aliases h: write it before h goes back
		s.hsPool.Put(h)
		return
	}
	// Counted before the 101 goes out, so a client that has read it sees
	// its handshake in the metrics.
	s.eng.Opened(&c.Conn)
	s.accepted.Add(1)
	s.m.Handshakes[hsOK].Inc()
	s.m.HandshakeSeconds.Update(float64(s.micros()-c.lastRead.Load()) / 1e6)
	c.open(u) // queues u.Response, which aliases h
	s.hsPool.Put(h)
	c.lastRead.Store(int32(s.eng.Now()))
	c.scheduleCheck()
	if len(rest) > 0 {
		c.feed(b, rest)
	} else {
		c.flushBatch(b) // what Open queued with Fail or Reply
	}
}

// open applies a successful handshake: the connection takes its endpoint,
// identity and codec settings, queues the 101, lets its protocol open
// (joining rooms), and flushes. A message fanned out the moment the client
// is in a room goes out after the 101, and a client that has read its 101
// misses nothing published after that.
func (c *conn) open(u upgrade.Result) {
	c.setEndpoint(endpointKind(u.Kind))
	if u.Counted {
		c.gate.Or(gateCounted)
	}
	ep := c.ep()
	// Every connection but a plain echo one gets its ext before it is
	// open, so no other goroutine can see it appear.
	if u.Room != "" || u.User != "" || u.Identity != nil || u.Subprotocol != "" || ep.keepsState {
		if c.ext == nil {
			c.ext = &connExt{}
		}
		c.ext.room = u.Room
		if u.User != "" || u.Identity != nil {
			c.ext.who.Store(&identity{user: u.User, id: u.Identity})
		}
	}
	if u.DeflateOK {
		c.setupDeflate(u.Deflate)
	}
	if u.Subprotocol != "" {
		c.ext.subproto = u.Subprotocol // ext exists: the endpoint keeps state
	}
	if c.dflBits() != 0 {
		c.dec.Init(&ep.lim.dfl, false, true)
	} else {
		c.dec.Init(&ep.lim.plain, false, false)
	}
	c.storeState(stateOpen)
	rb := poller.NewBuf(len(u.Response))
	rb.B = append(rb.B, u.Response...)
	_, _ = c.Send(rb)
	if st := ep.proto.Open(c); st != nil {
		if c.ext == nil {
			c.ext = &connExt{}
		}
		c.ext.state = st
	}
	if u.User != "" {
		c.srv().hub.AddUser(u.User, c)
	}
	_ = c.Conn.Flush()
}

// reject answers the handshake with err's HTTP status and reason.
func (c *conn) reject(err error) {
	var buf [256]byte
	c.rejectWith(upgrade.AppendRefusal(buf[:0], err), err)
}

func (c *conn) rejectWith(resp []byte, err error) {
	s := c.srv()
	s.rejected.Add(1)
	status := upgrade.RefusalStatus(err)
	s.m.Handshakes[hsResultForStatus(status)].Inc()
	s.logReject(c, status, err)
	c.setReason(reasonRejected)
	c.storeState(stateRejected)
	_ = c.Write(resp)
	// Half-close and let the client hang up first, so it reads the whole
	// response instead of a reset; the wheel closes it if it does not.
	c.ShutdownWrite()
	c.srv().eng.Schedule(&c.Conn, c.srv().cfg.CloseTimeout)
}

// feed runs the decoder over data and writes what the handlers produced
// with one write.
func (c *conn) feed(b *batch, data []byte) {
	err := c.dec.Feed(data, c)
	// Frames are charged once per read, not once per frame: a flood of
	// empty frames (continuations, pongs) costs its sender the connection
	// without a clock read per frame.
	if n := c.dec.TakeFrames(); n > 0 && err == nil && c.loadState() == stateOpen {
		c.allowFrames(n)
	}
	if err != nil {
		var pe *frame.ProtocolError
		if err != errStop && err != frame.ErrDecoderFailed && errors.As(err, &pe) {
			// Fail the connection (RFC 6455 section 7.1.7).
			c.close(pe.Code, upgrade.ClientText(pe.Msg), reasonForCode(pe.Code), closeFailed)
			return
		}
	}
	c.flushBatch(b)
}

// errStop ends a Feed after a close frame: nothing after it is read.
var errStop = errors.New("server: close frame received")

// OnMessage implements frame.Handler: the message is inflated, checked
// and metered here, then handed to the endpoint's protocol.
func (c *conn) OnMessage(op frame.Opcode, compressed bool, payload []byte) error {
	if c.loadState() != stateOpen {
		return nil // closing: data after our close frame is dropped
	}
	s := c.srv()
	ep := c.ep()
	if compressed {
		var err error
		if payload, err = c.inflate(op, payload, ep.lim.max, c.batch()); err != nil {
			return err
		}
	} else if c.dflBits() != 0 && int64(len(payload)) > ep.lim.max {
		return frame.ErrMessageTooBig // the decoder's limit had deflate's slack
	}
	if s.cfg.Metrics {
		i := opIndex(op)
		s.m.MessagesIn[i].Inc()
		s.m.BytesIn[i].Add(len(payload))
	}
	if !c.allowMessage(len(payload)) {
		return nil
	}
	return ep.proto.Message(c, op, payload)
}

// OnControl implements frame.Handler.
func (c *conn) OnControl(op frame.Opcode, payload []byte) error {
	switch op {
	case frame.OpPing:
		// Pings count against the connection's message rate like data: a
		// ping flood gets errors and then 1008, not a pong for every ping.
		if c.loadState() == stateOpen && c.allowPing(len(payload)) {
			b := c.batch()
			b.b = frame.AppendFrame(b.b, true, 0, frame.OpPong, payload)
		}
	case frame.OpPong:
		// A pong answers our ping or is unsolicited (RFC 6455 section
		// 5.5.3); either way it is metered like a ping, so a pong flood
		// meets the same limits and then 1008.
		if c.loadState() == stateOpen {
			c.allowPing(len(payload))
		}
	case frame.OpClose:
		// Echo the peer's code (an empty close gets an empty close),
		// unless this answers our own close; then close TCP.
		code, _, _ := frame.ParseClose(payload)
		c.close(code, "", reasonPeerClose, closeEcho)
		return errStop
	}
	return nil
}

// scheduleCheck arms the timer for the next idle, ping or write check.
func (c *conn) scheduleCheck() { c.scheduleCheckWithin(0) }

// scheduleCheckWithin is scheduleCheck for a connection whose protocol
// asked for its next Tick within next (0: no sooner than usual).
func (c *conn) scheduleCheckWithin(next time.Duration) {
	cfg := &c.srv().cfg
	d := cfg.WriteTimeout
	if cfg.PingInterval > 0 {
		d = min(d, cfg.PingInterval)
	}
	if cfg.IdleTimeout > 0 {
		d = min(d, cfg.IdleTimeout)
	}
	d = max(d/2, time.Second)
	if exp, ok := c.expiryDelay(); ok {
		d = max(min(d, exp), c.srv().cfg.Tick) // the token's expiry is closer
	}
	if c.endpoint() != 0 && c.ep().ticker != nil {
		d = max(min(d, tickWithin(next, cfg)), cfg.Tick)
	}
	c.srv().eng.Schedule(&c.Conn, d)
}

// onTimer runs on the wheel goroutine.
func (c *conn) onTimer() {
	switch c.loadState() {
	case stateHandshake:
		if !c.casState(stateHandshake, stateClosed) {
			return // the request completed meanwhile; its upgrade re-arms the timer
		}
		c.setReason(reasonHandshakeTimeout)
		c.srv().m.Handshakes[hsTimeout].Inc()
		_ = c.Close()
		return
	case stateClosing, stateFailed:
		if c.stillFlushing() {
			// What was queued before our close frame is still going out:
			// wait for it (a drained client gets every message queued for
			// it), as long as the socket takes bytes.
			c.srv().eng.Schedule(&c.Conn, c.srv().cfg.CloseTimeout)
			return
		}
		// The peer never finished closing.
		c.setReason(reasonCloseTimeout)
		_ = c.Close()
		return
	case stateRejected:
		c.setReason(reasonCloseTimeout)
		_ = c.Close()
		return
	case stateHTTP:
		c.onHTTPTimer()
		return
	case stateOpen:
	default:
		return
	}
	s := c.srv()
	if exp, ok := c.expiryDelay(); ok && exp <= 0 {
		c.close(CloseTokenExpired, "token expired", reasonTokenExpired, closeQueued)
		return
	}
	now := s.eng.Now()
	if since := c.BlockedSince(); since != 0 && now-since >= s.eng.Ticks(s.cfg.WriteTimeout) {
		// The socket refused bytes for the whole write timeout.
		c.slowConsumer(true)
		if c.loadState() != stateOpen {
			return
		}
	}
	last := c.lastRead.Load()
	idle := now - int64(last)
	if s.cfg.IdleTimeout > 0 && idle >= s.eng.Ticks(s.cfg.IdleTimeout) {
		c.close(frame.CloseGoingAway, "idle timeout", reasonIdle, closeQueued)
		return
	}
	if s.cfg.PingInterval > 0 && idle >= s.eng.Ticks(s.cfg.PingInterval) && c.gate.Load()&gatePinged == 0 {
		c.gate.Or(gatePinged)
		_ = c.Write(pingFrame[:])
	}
	next, ok := c.tick()
	if !ok {
		return
	}
	c.scheduleCheckWithin(next)
}

var pingFrame = [...]byte{0x89, 0x00}

// CloseTokenExpired is the close code sent when a connection's token
// expires (plus any grace) while it is open.
const CloseTokenExpired frame.CloseCode = 4001
