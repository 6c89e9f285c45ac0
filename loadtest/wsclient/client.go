// Package wsclient is the load generator's client: WebSocket connections
// (ws:// and wss://, with permessage-deflate) and SockJS sessions on an
// nbio event loop, with no goroutine per connection. A Client reports
// every dial, handshake, message and close to a stats.Recorder and hands
// each connection's life to the caller's Events.
package wsclient

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// Client errors.
var (
	ErrClientClosed = errors.New("loadtest: client closed")
	ErrNotOpen      = errors.New("loadtest: connection not open")
)

// Options configures a Client. Zero values take the documented default.
type Options struct {
	DialTimeout      time.Duration // TCP connect timeout; default 5s
	HandshakeTimeout time.Duration // request sent to verified 101; default 5s
	Deflate          bool          // offer permessage-deflate (no context takeover)
	SourceIPs        []net.IP      // local addresses used round robin; none = kernel's choice
	MaxDials         int           // concurrent TCP dials; default 256
	MaxMessage       int64         // largest message accepted; default 16 MiB
	Pollers          int           // nbio poller goroutines; default GOMAXPROCS
	CAFile           string        // wss: PEM roots to verify the server with; default the system's
	Insecure         bool          // wss: skip certificate verification
}

// Events receives a connection's life. Open and Message run on an event-loop
// goroutine with the connection's lock held: they may call the *Locked
// methods of Conn and must not block. Close and Fail run without the lock.
type Events interface {
	Open(c *Conn)
	Message(c *Conn, op frame.Opcode, payload []byte)
	// Close reports that an open connection closed; byServer is false when
	// this process closed it (Client.Close, Conn.Close).
	Close(c *Conn, byServer bool, reason string)
	// Fail reports a connection that never opened; kind is one of refused,
	// timeout, reset, http_NNN, protocol, addr, fd_limit, tls, other.
	Fail(c *Conn, kind string, err error)
}

// Client is the event-loop WebSocket client: every connection is an nbio
// connection served by a few poller goroutines, with no goroutine per
// connection. Dials run on a bounded set of short-lived goroutines.
type Client struct {
	nb      *nbio.Engine
	rec     *stats.Recorder
	opts    Options
	tlsCfg  *tls.Config
	lim     frame.Limits
	nextIP  atomic.Uint32
	dialSem chan struct{}
	dials   sync.WaitGroup
	bufs    sync.Pool // *[]byte scratch for frames and inflated messages
	mu      sync.Mutex
	conns   map[*Conn]struct{} // guarded by mu: connections not yet closed
	closed  bool               // guarded by mu
	// sjClient posts SockJS sends (sockjs.go), made once.
	sjOnce   sync.Once
	sjClient *http.Client
}

// TagRawFrame, set in Conn.Tag, makes SendLocked send a payload as it
// is, without the Events' PayloadWrapper framing (a STOMP CONNECT or
// SUBSCRIBE frame).
const TagRawFrame = 1 << 30

// PayloadWrapper is implemented by Events whose sends are framed by a
// protocol over WebSocket (STOMP): SendLocked sends WrapPayload's result,
// which appends the framed payload to dst.
type PayloadWrapper interface {
	WrapPayload(c *Conn, dst, payload []byte) []byte
}

// Connection states.
const (
	stDialing uint8 = iota
	stHandshake
	stOpen
	stClosed
)

// Conn is one client connection. Its fields are guarded by mu; the event
// loop holds mu while it delivers data.
type Conn struct {
	mu      sync.Mutex
	cl      *Client
	nc      *nbio.Conn
	tls     *tls.Conn // wss only: the TLS client over pipe
	pipe    *tlsPipe
	ev      Events
	dec     frame.Decoder
	hs      []byte // handshake response bytes so far; nil once open
	failErr error  // why the handshake failed, set before closing
	reason  string // why an open connection closed, when known before OnClose
	why     string // the server's close reason text, when it sent one
	startNs int64  // dial start, monotonic nanoseconds since the recorder start
	rnd     Rand
	accept  [28]byte
	ID      uint32 // caller's connection number
	Tag     uint32 // caller's data (scenario role, publisher id...)
	state   uint8
	deflate bool
	bits    uint8
	local   bool     // this process initiated the close
	sj      *sjState // SockJS transport state; nil for WebSocket
	UserN   int64    // scenario's counter (echo: last sequence number sent)
	State   any      // scenario's per-connection state (broadcast: sequence trackers)
}

// New starts an nbio engine in client mode; rec receives the
// measurements.
func New(opts Options, rec *stats.Recorder) (*Client, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 5 * time.Second
	}
	if opts.MaxDials <= 0 {
		opts.MaxDials = 256
	}
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = 16 << 20
	}
	if opts.Pollers <= 0 {
		opts.Pollers = runtime.GOMAXPROCS(0)
	}
	cl := &Client{
		rec: rec, opts: opts,
		lim:     frame.Limits{MaxMessage: opts.MaxMessage},
		dialSem: make(chan struct{}, opts.MaxDials),
		conns:   map[*Conn]struct{}{},
	}
	cl.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	tc, err := tlsConfig(opts.CAFile, opts.Insecure)
	if err != nil {
		return nil, err
	}
	cl.tlsCfg = tc
	cl.nb = nbio.NewEngine(nbio.Config{Name: "wsload", NPoller: opts.Pollers, ReadBufferSize: 64 << 10})
	cl.nb.OnData(cl.onData)
	cl.nb.OnClose(cl.onClose)
	if err := cl.nb.Start(); err != nil {
		return nil, err
	}
	if err := cl.waitLoops(opts.Pollers); err != nil {
		return nil, err // not Stop: it would wait for a loop that never ran
	}
	return cl, nil
}

func (cl *Client) getBuf() *[]byte  { return cl.bufs.Get().(*[]byte) }
func (cl *Client) putBuf(b *[]byte) { *b = (*b)[:0]; cl.bufs.Put(b) }

// GetBuf returns an empty scratch buffer from the client's pool, to build
// a payload without allocating; give it back with PutBuf.
func (c *Conn) GetBuf() *[]byte { return c.cl.getBuf() }

// PutBuf returns a buffer taken with GetBuf to the pool.
func (c *Conn) PutBuf(b *[]byte) { c.cl.putBuf(b) }

// Recorder returns the Recorder the connection's client reports to.
func (c *Conn) Recorder() *stats.Recorder { return c.cl.rec }

// Lock locks the connection, as the event loop does while it delivers
// data: a caller outside Events holds it to use the *Locked methods.
func (c *Conn) Lock() { c.mu.Lock() }

// Unlock unlocks the connection.
func (c *Conn) Unlock() { c.mu.Unlock() }

// OpenLocked reports whether the connection is open (its handshake
// done, not closed); the caller holds the lock.
func (c *Conn) OpenLocked() bool { return c.state == stOpen }

func (cl *Client) sinceStart() int64 { return int64(time.Since(cl.rec.Start())) }

// Dial starts a connection to t. It blocks while MaxDials dials are in
// flight (that is the back-pressure a ramp sees), then returns; the outcome
// arrives through ev. It returns ErrClientClosed after Close.
func (cl *Client) Dial(t *Target, ev Events, id, tag uint32) (*Conn, error) {
	c := &Conn{cl: cl, ev: ev, ID: id, Tag: tag}
	c.rnd.Seed(uint64(id)<<32 ^ uint64(cl.sinceStart()))
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil, ErrClientClosed
	}
	cl.conns[c] = struct{}{}
	cl.dials.Add(1)
	cl.mu.Unlock()
	cl.dialSem <- struct{}{}
	cl.rec.C.ConnectAttempts.Add(1)
	c.startNs = cl.sinceStart()
	go cl.dial(c, t)
	return c, nil
}

func (cl *Client) localAddr() net.Addr {
	if len(cl.opts.SourceIPs) == 0 {
		return nil
	}
	i := cl.nextIP.Add(1) - 1
	return &net.TCPAddr{IP: cl.opts.SourceIPs[int(i)%len(cl.opts.SourceIPs)]}
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (Linux 4.2+): a bound
// source address takes its port at connect time, so ports are shared
// across destinations.
const ipBindAddressNoPort = 24

func bindNoPort(_, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
}

func (cl *Client) dial(c *Conn, t *Target) {
	defer cl.dials.Done()
	defer func() { <-cl.dialSem }()
	d := net.Dialer{Timeout: cl.opts.DialTimeout, LocalAddr: cl.localAddr()}
	if d.LocalAddr != nil {
		d.Control = bindNoPort
	}
	tc, err := d.Dial("tcp", t.Addr)
	if err != nil {
		cl.fail(c, err)
		return
	}
	var tconn *tls.Conn
	var pipe *tlsPipe
	if t.TLS {
		if tconn, pipe, err = cl.tlsHandshake(tc, t); err != nil {
			_ = tc.Close()
			cl.fail(c, err)
			return
		}
	}
	var key [24]byte
	c.mu.Lock()
	makeKey(&c.rnd, &key, &c.accept)
	c.state = stHandshake
	c.hs = make([]byte, 0, 512)
	// The session is set before the socket joins the event loop, so the
	// loop never sees a connection without its state.
	nc, err := nbio.NBConn(tc)
	if err == nil {
		c.nc, c.tls, c.pipe = nc, tconn, pipe
		nc.SetSession(c)
		if pipe != nil {
			pipe.handoff(nc)
		}
		_, err = cl.nb.AddConn(nc)
	}
	if err != nil {
		c.mu.Unlock()
		if nc != nil {
			_ = nc.Close()
		} else {
			_ = tc.Close()
		}
		cl.fail(c, err)
		return
	}
	_ = nc.SetReadDeadline(time.Now().Add(cl.opts.HandshakeTimeout))
	b := cl.getBuf()
	if t.SockJS != "" {
		c.sj = newSJState(t, &c.rnd)
		*b = c.sj.appendRequest((*b)[:0])
	} else {
		*b = t.appendRequest((*b)[:0], key[:], cl.opts.Deflate)
	}
	_, err = c.writeRaw(*b)
	cl.putBuf(b)
	c.mu.Unlock()
	if err != nil {
		c.mu.Lock()
		c.failErr = err
		c.mu.Unlock()
		shutdown(nc)
	}
}

// shutdown ends a connection of the event loop from another goroutine. It
// shuts the socket down rather than closing it, and the loop closes the
// descriptor when it sees the hang-up: closed here, the descriptor's
// number could go to a new dial while the loop still holds an event of
// this connection, and the loop would deliver that event (a hang-up, say)
// to the new connection. nbio closes a descriptor only after marking its
// Conn closed under the Conn's lock, so holding that lock while the Conn
// is not closed keeps the descriptor ours.
func shutdown(nc *nbio.Conn) {
	nc.Lock()
	closed, _ := nc.IsClosed()
	var err error
	if !closed {
		rc, _ := nc.SyscallConn()
		_ = rc.Control(func(fd uintptr) { err = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
	}
	nc.Unlock()
	if err != nil {
		_ = nc.Close() // not connected any more: nothing for the loop to report
	}
}

// fail reports a connection that closed before opening.
func (cl *Client) fail(c *Conn, err error) {
	c.mu.Lock()
	if c.state == stClosed { // the event loop's OnClose reported it already
		c.mu.Unlock()
		return
	}
	c.state = stClosed
	c.mu.Unlock()
	cl.forget(c)
	kind := FailureKind(err)
	cl.rec.Fail(kind, err)
	c.ev.Fail(c, kind, err)
}

func (cl *Client) forget(c *Conn) {
	cl.mu.Lock()
	delete(cl.conns, c)
	cl.mu.Unlock()
}

// FailureKind classifies a dial or handshake error.
func FailureKind(err error) string {
	var se *StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se.Kind()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, nbio.ErrReadTimeout), errors.Is(err, nbio.ErrDialTimeout),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), err == nil,
		errors.Is(err, errEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return "reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "addr"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "fd_limit"
	case errors.As(err, new(*tlsError)), errors.Is(err, ErrBadCAFile):
		return "tls"
	case errors.Is(err, ErrBadResponse), errors.Is(err, ErrBadAccept),
		errors.Is(err, ErrHeaderTooBig), errors.Is(err, ErrBadExtension),
		errors.Is(err, deflate.ErrNotOffered), errors.Is(err, deflate.ErrUnknownExtension):
		return "protocol"
	}
	return "other"
}

// errEOF marks a connection the server closed during the handshake.
var errEOF = errors.New("loadtest: connection closed during handshake")

func (cl *Client) onData(nc *nbio.Conn, data []byte) {
	c, ok := nc.Session().(*Conn)
	if !ok {
		if probed(nc) {
			return
		}
		_ = nc.Close()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tls == nil {
		c.plainLocked(data)
		return
	}
	if err := c.readTLSLocked(data, c.plainLocked); err != nil {
		c.failErr = err
		_ = nc.Close()
	}
}

// plainLocked handles bytes received (decrypted, for wss).
func (c *Conn) plainLocked(data []byte) {
	if c.sj != nil {
		c.sjDataLocked(data)
		return
	}
	switch c.state {
	case stHandshake:
		c.handshakeDataLocked(data)
	case stOpen:
		if err := c.dec.Feed(data, c); err != nil {
			c.protocolErrorLocked(err)
		}
	}
}

// writeRaw writes bytes to the connection, through TLS for wss.
func (c *Conn) writeRaw(b []byte) (int, error) {
	if c.tls != nil {
		return c.tls.Write(b)
	}
	return c.nc.Write(b)
}

func (c *Conn) handshakeDataLocked(data []byte) {
	c.hs = append(c.hs, data...)
	if !bytes.Contains(c.hs, []byte("\r\n\r\n")) {
		if len(c.hs) > maxResponseHeader {
			c.failErr = ErrHeaderTooBig
			_ = c.nc.Close()
		}
		return
	}
	r, err := parseResponse(c.hs, &c.accept, c.cl.opts.Deflate)
	if err != nil {
		c.failErr = err
		_ = c.nc.Close()
		return
	}
	cl := c.cl
	cl.rec.Record(stats.KindHandshake, c.ID, time.Duration(cl.sinceStart()-c.startNs))
	cl.rec.C.Connected.Add(1)
	cl.rec.C.Open.Add(1)
	_ = c.nc.SetReadDeadline(time.Time{})
	rest := c.hs[r.header:]
	c.hs = nil
	c.state = stOpen
	c.deflate, c.bits = r.deflate, uint8(r.clientBits)
	if r.deflate {
		cl.rec.C.DeflateConns.Add(1)
	}
	c.dec.Init(&cl.lim, true, r.deflate)
	c.ev.Open(c)
	if len(rest) > 0 && c.state == stOpen {
		if err := c.dec.Feed(rest, c); err != nil {
			c.protocolErrorLocked(err)
		}
	}
}

func (c *Conn) protocolErrorLocked(err error) {
	c.cl.rec.C.ProtocolErrors.Add(1)
	code := frame.CloseProtocolError
	var pe *frame.ProtocolError
	if errors.As(err, &pe) {
		code = pe.Code
	}
	c.reason, c.why = "protocol_error", err.Error()
	c.writeControlLocked(frame.OpClose, closePayload(code))
	_ = c.nc.Close()
}

func closePayload(code frame.CloseCode) []byte {
	return []byte{byte(code >> 8), byte(code)}
}

// OnMessage implements frame.Handler.
func (c *Conn) OnMessage(op frame.Opcode, compressed bool, payload []byte) error {
	if !compressed {
		c.ev.Message(c, op, payload)
		return nil
	}
	b := c.cl.getBuf()
	out, err := deflate.Decompress((*b)[:0], payload, c.cl.opts.MaxMessage)
	if err == nil && op == frame.OpText && !frame.ValidUTF8(out) {
		err = frame.ErrInvalidUTF8
	}
	if err == nil {
		rc := &c.cl.rec.C
		rc.DeflateMsgsIn.Add(1)
		rc.DeflateBytesIn.Add(int64(len(out)))
		rc.DeflateWireIn.Add(int64(len(payload)))
		c.ev.Message(c, op, out)
	}
	*b = out[:0]
	c.cl.putBuf(b)
	return err
}

// OnControl implements frame.Handler: pings are answered, a close is echoed
// and the connection shut.
func (c *Conn) OnControl(op frame.Opcode, payload []byte) error {
	switch op {
	case frame.OpPing:
		c.writeControlLocked(frame.OpPong, payload)
	case frame.OpClose:
		code, why, _ := frame.ParseClose(payload)
		if c.reason == "" {
			c.reason, c.why = closeKind(code), string(why)
		}
		if !c.local {
			c.writeControlLocked(frame.OpClose, payload)
		}
		_ = c.nc.Close()
	}
	return nil
}

func (c *Conn) writeControlLocked(op frame.Opcode, payload []byte) {
	var buf [6 + 125]byte
	b := frame.AppendMaskedFrame(buf[:0], true, 0, op, c.rnd.key(), payload)
	_, _ = c.writeRaw(b)
}

func (cl *Client) onClose(nc *nbio.Conn, err error) {
	c, ok := nc.Session().(*Conn)
	if !ok {
		return
	}
	c.mu.Lock()
	prev := c.state
	c.state = stClosed
	c.dec.Release()
	failErr, reason, why, local := c.failErr, c.reason, c.why, c.local
	c.hs = nil
	c.mu.Unlock()
	cl.mu.Lock()
	ending := cl.closed // Client.Close: the end of the run closes everything
	cl.mu.Unlock()
	cl.forget(c)
	switch prev {
	case stHandshake:
		if local && failErr == nil {
			// Closed by this process mid-handshake (end of run): not a
			// server failure.
			cl.rec.C.Cancelled.Add(1)
			return
		}
		if failErr == nil {
			failErr = err
			if err == nil {
				failErr = errEOF
			}
		}
		kind := FailureKind(failErr)
		cl.rec.Fail(kind, failErr)
		c.ev.Fail(c, kind, failErr)
	case stOpen:
		cl.rec.C.Open.Add(-1)
		if reason == "" {
			reason = closeReason(err, local)
			if err != nil && why == "" {
				why = err.Error()
			}
		}
		if !local || !ending {
			cl.rec.C.Closed.Add(1)
		}
		if !local {
			cl.rec.ServerClosed(reason, why)
		}
		c.ev.Close(c, !local, reason)
	}
}

// closeNames name the close codes of RFC 6455 and its registry.
var closeNames = map[frame.CloseCode]string{
	frame.CloseNormal: "normal", frame.CloseGoingAway: "going_away", frame.CloseProtocolError: "protocol_error",
	frame.CloseUnsupportedData: "unsupported_data", frame.CloseNoStatus: "no_status",
	frame.CloseInvalidPayload: "invalid_payload", frame.ClosePolicyViolation: "policy_violation",
	frame.CloseMessageTooBig: "message_too_big", frame.CloseMandatoryExtension: "mandatory_extension",
	frame.CloseInternalError: "internal_error", frame.CloseServiceRestart: "service_restart",
	frame.CloseTryAgainLater: "try_again_later", frame.CloseBadGateway: "bad_gateway",
}

// closeKind names a close frame's code: close_1008_policy_violation, or
// close_4001 for codes without a standard name.
func closeKind(code frame.CloseCode) string {
	k := "close_" + itoa(int(code))
	if n, ok := closeNames[code]; ok {
		k += "_" + n
	}
	return k
}

func closeReason(err error, local bool) string {
	switch {
	case local:
		return "local"
	case err == nil, errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return "error"
}

// Close closes the connection, sending a normal close frame first when open.
func (c *Conn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
}

func (c *Conn) closeLocked() {
	c.local = true
	if c.nc == nil {
		return
	}
	if c.state == stOpen && c.sj == nil {
		c.writeControlLocked(frame.OpClose, closePayload(frame.CloseNormal))
	}
	shutdown(c.nc)
}

// Abort closes the TCP connection without a close frame.
func (c *Conn) Abort() {
	c.mu.Lock()
	c.local = true
	if c.nc != nil {
		shutdown(c.nc)
	}
	c.mu.Unlock()
}

// Send sends one data message. It is safe from any goroutine.
func (c *Conn) Send(op frame.Opcode, payload []byte) error {
	c.mu.Lock()
	err := c.SendLocked(op, payload)
	c.mu.Unlock()
	return err
}

// SendLocked sends one data message; the caller holds the connection's lock
// (inside Events.Open or Events.Message). The payload is copied: the caller
// may reuse it when SendLocked returns.
func (c *Conn) SendLocked(op frame.Opcode, payload []byte) error {
	if c.state != stOpen || c.local {
		return ErrNotOpen
	}
	if c.sj != nil {
		return c.sjSendLocked(payload)
	}
	cl := c.cl
	if w, ok := c.ev.(PayloadWrapper); ok && c.Tag&TagRawFrame == 0 {
		wb := cl.getBuf()
		*wb = w.WrapPayload(c, (*wb)[:0], payload)
		defer cl.putBuf(wb)
		payload = *wb
	}
	b := cl.getBuf()
	wire := -1
	if c.deflate {
		z := cl.getBuf()
		*z = deflate.Compress((*z)[:0], payload, 1, int(c.bits))
		wire = len(*z)
		*b = frame.AppendMaskedFrame((*b)[:0], true, 0x40, op, c.rnd.key(), *z)
		cl.putBuf(z)
	} else {
		*b = frame.AppendMaskedFrame((*b)[:0], true, 0, op, c.rnd.key(), payload)
	}
	_, err := c.writeRaw(*b)
	cl.putBuf(b)
	rc := &cl.rec.C
	if err != nil {
		rc.SendErrors.Add(1)
		return err
	}
	rc.MsgsOut.Add(1)
	rc.BytesOut.Add(int64(len(payload)))
	if wire >= 0 {
		rc.DeflateMsgsOut.Add(1)
		rc.DeflateBytesOut.Add(int64(len(payload)))
		rc.DeflateWireOut.Add(int64(wire))
	}
	return nil
}

// Open reports whether the connection is open.
func (c *Conn) Open() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stOpen && !c.local
}

// Len returns the number of connections not yet closed.
func (cl *Client) Len() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return len(cl.conns)
}

// Close stops new dials, sends a close frame on every open connection, waits
// up to grace for the server's replies, then closes everything and stops
// the engine.
func (cl *Client) Close(grace time.Duration) {
	cl.mu.Lock()
	cl.closed = true
	cl.mu.Unlock()
	cl.dials.Wait()
	for _, c := range cl.Conns() {
		c.Close()
	}
	deadline := time.Now().Add(grace)
	for cl.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range cl.Conns() {
		c.Abort()
	}
	cl.nb.Stop()
}

// Conns returns the connections not yet closed.
func (cl *Client) Conns() []*Conn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	out := make([]*Conn, 0, len(cl.conns))
	for c := range cl.conns {
		out = append(out, c)
	}
	return out
}

// Rand is a xorshift64* generator: cheap mask keys, handshake keys and
// payload filler. Seed it before use.
type Rand struct{ s uint64 }

// Seed restarts the sequence from s.
func (r *Rand) Seed(s uint64) {
	r.s = s*0x9E3779B97F4A7C15 | 1
}

// Next returns the next 64 pseudo-random bits.
func (r *Rand) Next() uint64 {
	r.s ^= r.s >> 12
	r.s ^= r.s << 25
	r.s ^= r.s >> 27
	return r.s * 2685821657736338717
}

func (r *Rand) key() [4]byte {
	v := r.Next()
	return [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
