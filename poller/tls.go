package poller

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
)

// TLS on the event loop, with the standard library's crypto/tls.
//
// Every TLS connection gets a tlsConn, stored as the nbio connection's
// session (so a plain Conn carries no TLS pointer), holding a tls.Conn that
// runs over the tlsConn itself as its net.Conn (tlsPipe):
//
//   - Handshake: crypto/tls cannot resume a handshake after a would-block
//     error, so the server handshake runs on a short-lived goroutine that
//     blocks on a condition variable fed by OnData. The goroutine is
//     started only when the first bytes (the ClientHello) arrive, so a
//     client that connects and stays silent costs no goroutine; at most
//     Config.TLSHandshakes run at once and the rest wait in a FIFO. The
//     connection's timer (OpenTimeout) closes a handshake that takes too
//     long, which wakes and ends its goroutine.
//   - Reads: after the handshake the poller pushes each read into the pipe
//     and drains plaintext with tls.Conn.Read, which stops with a
//     temporary net.Error when the pipe is empty. crypto/tls keeps a
//     partial record across temporary errors and only makes permanent
//     ones sticky. Plaintext is gathered in the poller's buffer and handed
//     to the handler's OnData.
//   - Writes: queues keep references to the shared plaintext Bufs; a flush
//     encrypts up to tlsBatch bytes of them into the connection's own
//     ciphertext buffer (taken from a pool and returned when drained) and
//     writes that to the socket. A full socket waits for EPOLLOUT on the
//     write poller exactly as plain connections do.
//
// Locks, outermost first: the Loop's lock (Loop.mu, only in TLS
// engines), tls.Conn's input lock, the nbio connection's lock, tls.Conn's
// output lock, tlsConn.mu. tlsConn.mu is innermost: nothing is called
// while holding it but copies and the non-blocking write syscall.

// Errors reported through Handler.OnClose for TLS connections.
var (
	// ErrTLSHandshakeTimeout closes a connection whose TLS handshake did
	// not finish within the open timeout.
	ErrTLSHandshakeTimeout = errors.New("poller: TLS handshake timed out")
	// ErrTLSHandshakeTooLarge closes a connection that sent more than
	// maxHandshakeInput bytes before its handshake finished.
	ErrTLSHandshakeTooLarge = errors.New("poller: TLS handshake input too large")
)

const (
	// tlsChunk is the plaintext encrypted per tls.Conn.Write: one full
	// record.
	tlsChunk = 16 << 10
	// tlsBatch is how much ciphertext a flush gathers before writing.
	tlsBatch = 32 << 10
	// maxHandshakeInput bounds the bytes buffered during a handshake.
	maxHandshakeInput = 64 << 10
	// defaultTLSHandshakeTimeout applies when Config.OpenTimeout is 0.
	defaultTLSHandshakeTimeout = 10 * time.Second
	// defaultTLSHandshakes is Config.TLSHandshakes' default.
	defaultTLSHandshakes = 1024
)

// TLS connection states (tlsConn.st).
const (
	tlsWaiting     uint32 = iota // accepted, nothing received yet
	tlsQueued                    // ClientHello arriving, waiting for a handshake goroutine
	tlsHandshaking               // a goroutine runs the handshake
	tlsOpen                      // handshake done: served by the event loop
	tlsClosed
)

// tlsEngine is an Engine's TLS part.
type tlsEngine struct {
	cfg  *tls.Config
	hs   hsLimiter
	ok   atomic.Uint64
	fail atomic.Uint64
}

// tlsConn is one TLS connection's state. Ownership: st is atomic and
// changes under mu (and, to tlsOpen, also under the poller's lock); in, out,
// outOff and wake are guarded by mu; after the handshake in and cur belong
// to whoever holds the poller's lock; outQueued is guarded by the nbio
// connection's lock; tc is set before st becomes tlsHandshaking and read by
// flushes only once st is tlsOpen.
type tlsConn struct {
	sess      Session
	c         *Conn
	tc        *tls.Conn
	st        atomic.Uint32
	outQueued int32 // ciphertext bytes counted in the engine's queued gauge
	mu        sync.Mutex
	wake      *sync.Cond // signalled when in grows or the connection closes; handshake only
	in        []byte     // ciphertext received but not yet read by tc
	cur       []byte     // the read being decrypted (borrowed from nbio)
	out       *[]byte    // ciphertext produced by tc, written from outOff; pooled, nil when drained
	outOff    int
	// The pipe hands crypto/tls one record at a time, so that after a
	// Read returns, tls holds no further record and an empty pipe at a
	// record boundary means there is nothing more to read (which saves a
	// would-block Read, and its allocation inside crypto/tls, per read).
	recLeft int32   // bytes of the current record's body not yet handed over
	hdrN    uint8   // header bytes of the next record handed over so far
	hdr     [5]byte // those header bytes
	hs      hsState // the handshake's slot (tlsslots.go)
}

var (
	outBufPool  sync.Pool // *[]byte, cap outBufSize
	scratchPool = sync.Pool{New: func() any { return new([tlsChunk]byte) }}
)

const outBufSize = tlsBatch + tlsChunk + 1024

// wouldBlock is the temporary error an empty pipe returns.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "poller: tls pipe empty" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlock{}

func newTLSEngine(cfg Config) *tlsEngine {
	tc := cfg.TLS.Clone()
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	tc.DynamicRecordSizingDisabled = true
	t := &tlsEngine{cfg: tc}
	max := cfg.TLSHandshakes
	if max <= 0 {
		max = defaultTLSHandshakes
	}
	t.hs.init(max)
	return t
}

func (t *tlsEngine) newConn(s Session, c *Conn) *tlsConn {
	c.tls = true
	return &tlsConn{sess: s, c: c}
}

// TLSHandshakes reports the TLS handshakes completed and failed (timeouts
// and closes mid-handshake included) since the engine started.
func (e *Engine) TLSHandshakes() (ok, failed uint64) {
	if e.tls == nil {
		return 0, 0
	}
	return e.tls.ok.Load(), e.tls.fail.Load()
}

// sessionOf returns the handler's Session of nc, or nil.
func sessionOf(nc *nbio.Conn) Session {
	switch v := nc.Session().(type) {
	case *tlsConn:
		return v.sess
	case Session:
		return v
	}
	return nil
}

// tlsState returns c's TLS state; c.tls must be set.
func (c *Conn) tlsState() *tlsConn { return c.nc.Session().(*tlsConn) }

// onDataTLS serves a read on a TLS engine, under the poller's lock.
func (e *Engine) onDataTLS(nc *nbio.Conn, data []byte) {
	l := e.loopOf(nc)
	l.mu.Lock()
	defer l.mu.Unlock()
	ts, ok := nc.Session().(*tlsConn)
	if !ok {
		if s, ok := nc.Session().(Session); ok { // a plain conn from AddConn
			e.h.OnData(l, s, data)
		}
		return
	}
	if ts.st.Load() == tlsOpen {
		ts.cur = data
		e.readTLS(ts, l)
		return
	}
	ts.mu.Lock()
	switch ts.st.Load() {
	case tlsClosed:
		ts.mu.Unlock()
		return
	case tlsWaiting:
		ts.st.Store(tlsQueued)
		ts.wake = sync.NewCond(&ts.mu)
		ts.in = append(ts.in, data...)
		ts.mu.Unlock()
		e.startHandshake(ts)
		return
	}
	if len(ts.in)+len(data) > maxHandshakeInput {
		ts.mu.Unlock()
		_ = ts.c.CloseWithError(ErrTLSHandshakeTooLarge)
		return
	}
	ts.in = append(ts.in, data...)
	ts.wake.Signal()
	ts.mu.Unlock()
}

// readTLS decrypts what the pipe holds and hands the plaintext to the
// handler; the caller holds the Loop's lock.
func (e *Engine) readTLS(ts *tlsConn, l *Loop) {
	buf := l.tls
	n := 0
	var err error
	for ts.st.Load() == tlsOpen {
		var m int
		m, err = ts.tc.Read(buf[n:]) // room for a whole record: tls keeps no plaintext back
		n += m
		drained := err == nil && m > 0 && ts.drained()
		if err != nil || drained || len(buf)-n < tlsChunk {
			if n > 0 {
				e.h.OnData(l, ts.sess, buf[:n])
				n = 0
			}
		}
		if err != nil || drained {
			break
		}
	}
	ts.cur = nil
	if err != nil && err != errWouldBlock {
		if errors.Is(err, io.EOF) {
			_ = ts.c.Close()
		} else {
			_ = ts.c.CloseWithError(err)
		}
	}
	// crypto/tls may answer a record (a key update, an alert) while
	// reading: send it.
	ts.mu.Lock()
	pending := ts.outLen() > ts.outOff
	ts.mu.Unlock()
	if pending {
		_ = ts.c.Flush()
	}
}

// handshake runs the TLS server handshake for ts on the calling goroutine
// and hands the connection to the event loop.
func (e *Engine) handshake(ts *tlsConn) {
	if !ts.st.CompareAndSwap(tlsQueued, tlsHandshaking) {
		return // closed while queued
	}
	ts.tc = tls.Server((*tlsPipe)(ts), e.tls.cfg)
	if err := ts.tc.Handshake(); err != nil {
		e.tls.fail.Add(1)
		_ = ts.c.Flush() // the alert, so the peer learns why
		_ = ts.c.CloseWithError(err)
		return
	}
	l := e.loopOf(ts.c.nc)
	l.mu.Lock()
	defer l.mu.Unlock()
	ts.mu.Lock()
	if ts.st.Load() == tlsClosed {
		ts.mu.Unlock()
		e.tls.fail.Add(1)
		return
	}
	ts.st.Store(tlsOpen)
	ts.wake = nil
	ts.mu.Unlock()
	e.tls.ok.Add(1)
	// The last flight (TLS 1.2) and anything queued meanwhile go out;
	// then whatever arrived with the client's Finished is served.
	_ = ts.c.Flush()
	e.readTLS(ts, l)
}

// fireTLS handles a TLS connection's timer: during the handshake it is
// the handshake deadline; afterwards it belongs to the handler.
func (e *Engine) fireTLS(c *Conn) {
	ts, ok := c.nc.Session().(*tlsConn)
	if !ok {
		return
	}
	if ts.st.Load() != tlsOpen {
		_ = c.CloseWithError(ErrTLSHandshakeTimeout)
		return
	}
	e.h.OnTimer(ts.sess)
}

// closeLocked releases ts's buffers and wakes its handshake goroutine; the
// caller holds the nbio connection's lock.
func (ts *tlsConn) closeLocked(c *Conn) {
	ts.mu.Lock()
	if ts.st.Load() != tlsOpen {
		ts.in = nil // once open, in belongs to the poller's lock holder
	}
	ts.st.Store(tlsClosed)
	ts.releaseOutLocked()
	if ts.wake != nil {
		ts.wake.Broadcast()
	}
	ts.mu.Unlock()
	c.e.countQueued(c.fd, -int64(ts.outQueued))
	ts.outQueued = 0
}

func (ts *tlsConn) releaseOutLocked() {
	if ts.out != nil && cap(*ts.out) == outBufSize {
		*ts.out = (*ts.out)[:0]
		outBufPool.Put(ts.out)
	}
	ts.out, ts.outOff = nil, 0
}

// outLen returns the length of the ciphertext buffer; mu is held.
func (ts *tlsConn) outLen() int {
	if ts.out == nil {
		return 0
	}
	return len(*ts.out)
}

// pendingOut returns the ciphertext not yet written.
func (ts *tlsConn) pendingOut() int {
	ts.mu.Lock()
	n := ts.outLen() - ts.outOff
	ts.mu.Unlock()
	return n
}

// tlsPipe is the net.Conn under a connection's tls.Conn: see the top of
// this file.
type tlsPipe tlsConn

// Read implements net.Conn for crypto/tls.
func (p *tlsPipe) Read(b []byte) (int, error) {
	ts := (*tlsConn)(p)
	if ts.st.Load() != tlsOpen {
		return ts.readHandshake(b)
	}
	// Served by the event loop: the caller holds the poller's lock.
	if len(ts.in) > 0 {
		n := ts.take(b, ts.in)
		ts.in = ts.in[n:]
		if len(ts.in) == 0 {
			ts.in = nil
		}
		return n, nil
	}
	if len(ts.cur) > 0 {
		n := ts.take(b, ts.cur)
		ts.cur = ts.cur[n:]
		return n, nil
	}
	return 0, errWouldBlock
}

// take copies from p into b up to the end of the current TLS record and
// returns the bytes copied.
func (ts *tlsConn) take(b, p []byte) int {
	if len(b) > len(p) {
		b = b[:len(p)]
	}
	n := 0
	if ts.hdrN < 5 {
		k := copy(ts.hdr[ts.hdrN:], p[:len(b)])
		ts.hdrN += uint8(k)
		n = copy(b, p[:k])
		if ts.hdrN < 5 {
			return n
		}
		ts.recLeft = int32(ts.hdr[3])<<8 | int32(ts.hdr[4])
	}
	m := copy(b[n:], p[n:min(len(p), n+int(ts.recLeft))])
	ts.recLeft -= int32(m)
	if ts.recLeft == 0 {
		ts.hdrN = 0
	}
	return n + m
}

// drained reports that the pipe is empty at a record boundary, so the last
// Read left nothing inside crypto/tls; the caller holds the poller's lock.
func (ts *tlsConn) drained() bool {
	return len(ts.in) == 0 && len(ts.cur) == 0 && ts.hdrN == 0
}

// readHandshake sends what the handshake wrote so far, then blocks until
// the peer's bytes arrive or the connection closes.
func (ts *tlsConn) readHandshake(b []byte) (int, error) {
	if ts.pendingOut() > 0 {
		if err := ts.c.Flush(); err != nil {
			return 0, err
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.in) == 0 {
		// Waiting for the peer: the slot may be shed for a newcomer.
		ts.hs.waiting.Store(true)
		defer ts.hs.waiting.Store(false)
	}
	for len(ts.in) == 0 {
		if ts.st.Load() == tlsClosed {
			return 0, net.ErrClosed
		}
		ts.wake.Wait()
	}
	n := ts.take(b, ts.in)
	ts.in = ts.in[n:]
	if len(ts.in) == 0 {
		ts.in = nil // the next read allocates afresh; the handshake keeps nothing
	}
	return n, nil
}

// Write implements net.Conn for crypto/tls: it only collects ciphertext;
// flushes write it.
func (p *tlsPipe) Write(b []byte) (int, error) {
	ts := (*tlsConn)(p)
	if !ts.hs.wrote.Load() {
		ts.hs.wrote.Store(true)
	}
	ts.mu.Lock()
	if ts.out == nil {
		if v := outBufPool.Get(); v != nil {
			ts.out = v.(*[]byte)
		} else {
			buf := make([]byte, 0, outBufSize)
			ts.out = &buf
		}
	}
	*ts.out = append(*ts.out, b...)
	ts.mu.Unlock()
	return len(b), nil
}

// Close implements net.Conn; the poller owns the socket.
func (p *tlsPipe) Close() error { return nil }

// LocalAddr implements net.Conn.
func (p *tlsPipe) LocalAddr() net.Addr { return p.c.nc.LocalAddr() }

// RemoteAddr implements net.Conn.
func (p *tlsPipe) RemoteAddr() net.Addr { return p.c.nc.RemoteAddr() }

// SetDeadline implements net.Conn; the wheel bounds the handshake.
func (p *tlsPipe) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.Conn.
func (p *tlsPipe) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.Conn.
func (p *tlsPipe) SetWriteDeadline(time.Time) error { return nil }

// writeTLSUnlock is Write for a TLS connection, entered with the lock
// held: with nothing queued the plaintext is encrypted straight from p,
// otherwise it is copied to the queue.
func (c *Conn) writeTLSUnlock(p []byte) error {
	ts := c.tlsState()
	if c.q == nil && c.armed == 0 && len(p) <= tlsBatch && ts.st.Load() == tlsOpen {
		if _, err := ts.tc.Write(p); err != nil {
			c.closeUnlock(err)
			return err
		}
		return c.flushUnlock()
	}
	b := NewBuf(len(p))
	b.B = append(b.B, p...)
	c.pushLocked(b)
	return c.flushUnlock()
}

// flushTLSLocked is flushLocked for a TLS connection: encrypt queued
// plaintext in batches and write the ciphertext.
func (c *Conn) flushTLSLocked() (closeNow bool, err error) {
	ts := c.tlsState()
	open := ts.st.Load() == tlsOpen
	for c.armed == 0 {
		if open && c.q != nil && ts.pendingOut() < tlsBatch {
			if err := c.encryptLocked(ts); err != nil {
				return false, err
			}
			continue
		}
		n, left, errno := c.writeOutLocked(ts)
		if errno != nil && errno != syscall.EAGAIN && errno != syscall.EINTR {
			return false, errno
		}
		if left > 0 {
			if errno == syscall.EINTR {
				continue
			}
			if c.blockedSince == 0 || n > 0 {
				c.blockedSince = int32(c.e.wheel.Now())
			}
			c.armed |= armedPoll
			return false, c.e.wp.arm(c)
		}
		if c.q == nil {
			c.blockedSince = 0
			return c.closing == closeFlushed, nil
		}
		if !open {
			return false, nil // plaintext waits for the handshake
		}
	}
	return false, nil
}

// writeOutLocked writes pending ciphertext; it returns the bytes written
// and left.
func (c *Conn) writeOutLocked(ts *tlsConn) (n, left int, err error) {
	ts.mu.Lock()
	if ts.out != nil && len(*ts.out) > ts.outOff {
		p := (*ts.out)[ts.outOff:]
		var errno syscall.Errno
		n, errno = writeFD(int(c.fd), p)
		if errno != 0 {
			err = errno
		}
		c.e.countWrite(c.fd, n)
		ts.outOff += n
	}
	left = ts.outLen() - ts.outOff
	if left == 0 && ts.out != nil {
		ts.releaseOutLocked()
	}
	ts.mu.Unlock()
	if d := int32(left) - ts.outQueued; d != 0 {
		c.e.countQueued(c.fd, int64(d))
		ts.outQueued = int32(left)
	}
	return n, left, err
}

// encryptLocked encrypts up to tlsChunk bytes from the head of the queue,
// gathering small Bufs into one record.
func (c *Conn) encryptLocked(ts *tlsConn) error {
	q := c.q
	it := q.items[q.head]
	p := it.b.B[it.off:]
	var sb *[tlsChunk]byte
	if len(p) < tlsChunk && q.head+1 < len(q.items) {
		sb = scratchPool.Get().(*[tlsChunk]byte)
		n := copy(sb[:], p)
		for i := q.head + 1; i < len(q.items) && n < tlsChunk; i++ {
			n += copy(sb[n:], q.items[i].b.B[q.items[i].off:])
		}
		p = sb[:n]
	} else if len(p) > tlsChunk {
		p = p[:tlsChunk]
	}
	_, err := ts.tc.Write(p)
	n := len(p)
	if sb != nil {
		scratchPool.Put(sb)
	}
	if err != nil {
		return err
	}
	c.advanceLocked(n)
	return nil
}
