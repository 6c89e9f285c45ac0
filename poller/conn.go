package poller

import (
	"errors"
	"net"
	"sync"
	"syscall"

	"github.com/lesismal/nbio"
)

// Errors returned by Conn's write methods.
var (
	// ErrClosed is returned when writing to a closed connection.
	ErrClosed = errors.New("poller: connection closed")
)

// Conn is the event loop's view of one connection: the nbio connection and
// an outbound queue of references to shared Bufs, written with writev.
//
// A protocol layer embeds Conn in its own per-connection struct and hands
// it to the Engine from Handler.OnOpen.
//
// Concurrency: any goroutine may Send, Write or Flush. The queue fields are
// guarded by the nbio connection's own lock (nbio.Conn.Lock), which nbio
// also holds while it closes the socket; holding it across the (non
// blocking) write syscall therefore guarantees the descriptor is not closed
// and reused by another connection mid-write, and saves a second mutex in
// every connection. The syscall never blocks, so the lock is held for
// microseconds.
type Conn struct {
	timer TimerNode // first field: the wheel maps a *TimerNode back to its Conn

	nc *nbio.Conn
	e  *Engine
	q  *outQueue // nil while nothing is queued

	fd     int32
	queued int32 // bytes in q not yet written
	// blockedSince is the wheel tick at which the socket last refused
	// bytes, or 0 while writes go through.
	blockedSince int32
	// armed says why the queue must not be written now: armedPoll, the
	// write poller waits for EPOLLOUT; armedBatch, a send is in the loop's
	// batch (sendbatch_linux.go). Writers queue behind either.
	armed uint8
	// closing records a close asked for: once the queue drains
	// (closeFlushed), or now (closeAsked and up, which also say which
	// error OnClose reports; see Close).
	closing uint8
	// tls marks a TLS connection: its state (tlsConn) is the nbio
	// connection's session, so plain connections pay nothing for it. Set
	// once before the connection is registered.
	tls bool
	// Tag is one byte of this struct's padding for the embedding protocol
	// layer (wsgate keeps its endpoint kind and deflate window there, so
	// its connection stays in a smaller size class). The poller never
	// reads or writes it.
	Tag uint8
}

type qitem struct {
	b   *Buf
	off int
	// pair marks the Bufs of a message queued by SendPair (pairHead,
	// pairTail), which DropOldest drops or keeps together.
	pair uint8
}

// qitem.pair values.
const (
	pairNone uint8 = iota
	pairHead
	pairTail
)

type outQueue struct {
	items []qitem
	head  int
}

var queuePool = sync.Pool{New: func() any { return &outQueue{items: make([]qitem, 0, 8)} }}

// Engine returns the engine serving c.
func (c *Conn) Engine() *Engine { return c.e }

// FD returns the socket's file descriptor.
func (c *Conn) FD() int { return int(c.fd) }

// LocalAddr returns the address the connection was accepted on.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

func (c *Conn) closedLocked() bool {
	if c.closing >= closeAsked {
		return true
	}
	closed, _ := c.nc.IsClosed()
	return closed
}

// Queued returns the number of bytes waiting to be written.
func (c *Conn) Queued() int {
	c.nc.Lock()
	n := c.queued
	if c.tls {
		n += c.tlsState().outQueued
	}
	c.nc.Unlock()
	return int(n)
}

// BlockedSince returns the wheel tick at which the socket started refusing
// bytes, or 0 when the queue is empty or draining freely.
func (c *Conn) BlockedSince() int64 {
	c.nc.Lock()
	t := c.blockedSince
	c.nc.Unlock()
	return int64(t)
}

// Send queues b, taking over one reference, without writing; call Flush
// once after queueing a batch. It returns the bytes now queued.
func (c *Conn) Send(b *Buf) (int, error) {
	c.nc.Lock()
	if c.closedLocked() {
		c.nc.Unlock()
		b.Release()
		return 0, ErrClosed
	}
	c.pushLocked(b)
	n := c.queued
	c.nc.Unlock()
	return int(n), nil
}

func (c *Conn) pushLocked(b *Buf) {
	if c.q == nil {
		c.q = queuePool.Get().(*outQueue)
	}
	c.q.items = append(c.q.items, qitem{b: b})
	c.queued += int32(len(b.B))
	c.e.countQueued(c.fd, int64(len(b.B)))
}

// Write sends p, copying into the queue only what the socket does not take
// at once: when nothing is queued the common case costs one write syscall
// and no copy.
func (c *Conn) Write(p []byte) error {
	c.nc.Lock()
	if c.closedLocked() {
		c.nc.Unlock()
		return ErrClosed
	}
	if c.tls {
		return c.writeTLSUnlock(p)
	}
	if c.q == nil && c.armed == 0 {
		n, err := writeFD(int(c.fd), p)
		c.e.countWrite(c.fd, n)
		if err != 0 && err != syscall.EAGAIN && err != syscall.EINTR {
			c.closeUnlock(err)
			return err
		}
		if n == len(p) {
			c.nc.Unlock()
			return nil
		}
		p = p[n:]
	}
	b := NewBuf(len(p))
	b.B = append(b.B, p...)
	c.pushLocked(b)
	return c.flushUnlock()
}

// Flush writes as much of the queue as the socket takes with writev. When
// the socket is full it registers for a writable event and returns; the
// write poller resumes the flush later.
func (c *Conn) Flush() error {
	c.nc.Lock()
	if c.closedLocked() {
		c.nc.Unlock()
		return ErrClosed
	}
	return c.flushUnlock()
}

// flushUnlock flushes with the lock held, then releases it and performs
// any close the flush called for.
func (c *Conn) flushUnlock() error {
	closeNow, err := c.flushLocked()
	if err != nil {
		c.closeUnlock(err)
		return err
	}
	if closeNow {
		c.closeUnlock(nil)
		return nil
	}
	c.nc.Unlock()
	return nil
}

func (c *Conn) flushLocked() (closeNow bool, err error) {
	if c.tls {
		return c.flushTLSLocked()
	}
	var iov [64]syscall.Iovec
	for c.q != nil && c.armed == 0 {
		q := c.q
		cnt, total := 0, 0
		for i := q.head; i < len(q.items) && cnt < len(iov); i++ {
			it := q.items[i]
			p := it.b.B[it.off:]
			if len(p) == 0 {
				continue
			}
			iov[cnt].Base = &p[0]
			iov[cnt].SetLen(len(p))
			cnt++
			total += len(p)
		}
		n, errno := writev(int(c.fd), iov[:cnt])
		c.e.countWrite(c.fd, n)
		if n > 0 {
			c.advanceLocked(n)
		}
		if errno != 0 && errno != syscall.EAGAIN && errno != syscall.EINTR {
			return false, errno
		}
		if c.q == nil {
			c.blockedSince = 0
			return c.closing == closeFlushed, nil
		}
		if n < total {
			// The socket is full: wait for EPOLLOUT.
			// The write timeout measures time without progress: a reader
			// that takes bytes steadily behind a long backlog is not stuck.
			if c.blockedSince == 0 || n > 0 {
				c.blockedSince = int32(c.e.wheel.Now())
			}
			c.armed |= armedPoll
			if err := c.e.wp.arm(c); err != nil {
				return false, err
			}
			return false, nil
		}
	}
	return false, nil
}

// advanceLocked drops n written bytes from the head of the queue.
func (c *Conn) advanceLocked(n int) {
	q := c.q
	c.queued -= int32(n)
	c.e.countQueued(c.fd, -int64(n))
	for n > 0 && q.head < len(q.items) {
		it := &q.items[q.head]
		left := len(it.b.B) - it.off
		if n < left {
			it.off += n
			return
		}
		n -= left
		it.b.Release()
		*it = qitem{}
		q.head++
	}
	for q.head < len(q.items) && len(q.items[q.head].b.B) == q.items[q.head].off {
		q.items[q.head].b.Release()
		q.items[q.head] = qitem{}
		q.head++
	}
	if q.head == len(q.items) {
		c.releaseQueueLocked()
	}
}

// DropOldest discards whole queued Bufs from the head, never one that is
// partly written, until at most limit bytes remain queued. It returns how
// many Bufs were dropped.
func (c *Conn) DropOldest(limit int) int {
	c.nc.Lock()
	defer c.nc.Unlock()
	if c.q == nil {
		return 0
	}
	q := c.q
	dropped := 0
	start := q.head
	if start < len(q.items) && (q.items[start].off > 0 || q.items[start].pair == pairTail) {
		// Partly written (or the rest of a pair whose head is written):
		// it must finish or the stream breaks, and so must its pair.
		if q.items[start].pair == pairHead {
			start++
		}
		start++
	}
	for i := start; i < len(q.items) && int(c.queued) > limit; i++ {
		head := q.items[i].pair == pairHead
		c.dropItemLocked(i)
		if head && i+1 < len(q.items) {
			i++
			c.dropItemLocked(i)
		}
		dropped++
	}
	if dropped > 0 {
		j := start
		for i := start; i < len(q.items); i++ {
			if q.items[i].b != nil {
				q.items[j] = q.items[i]
				j++
			}
		}
		clear(q.items[j:])
		q.items = q.items[:j]
		if q.head == len(q.items) {
			c.releaseQueueLocked()
		}
	}
	return dropped
}

func (c *Conn) releaseQueueLocked() {
	q := c.q
	for i := q.head; i < len(q.items); i++ {
		q.items[i].b.Release()
	}
	clear(q.items)
	q.items = q.items[:0]
	q.head = 0
	c.q = nil
	c.e.countQueued(c.fd, -int64(c.queued))
	c.queued = 0
	if cap(q.items) <= 64 {
		queuePool.Put(q)
	}
}

// CloseWhenFlushed closes the connection as soon as every queued byte has
// been written (at once when nothing is queued).
func (c *Conn) CloseWhenFlushed() {
	c.nc.Lock()
	if c.closedLocked() {
		c.nc.Unlock()
		return
	}
	if c.q == nil && c.armed == 0 && (!c.tls || c.tlsState().pendingOut() == 0) {
		c.closeUnlock(nil)
		return
	}
	c.closing = closeFlushed
	_ = c.flushUnlock()
}

// Close closes the connection; queued bytes are discarded. Use Flush (and
// wait for Queued to reach 0), or CloseWhenFlushed, for a graceful close.
//
// Any goroutine may close a connection, but only its poller releases the
// descriptor: Close shuts the socket down (both ways), writes fail from
// then on, and the poller, woken by the hang-up, closes it and calls
// OnClose. A descriptor released by another goroutine could be taken at
// once by a new connection while the poller still holds an event of the
// old one, which nbio would then apply (a hang-up: a close) to the new
// connection.
func (c *Conn) Close() error { return c.CloseWithError(nil) }

// CloseWithError closes the connection as Close does, with err as the
// reason OnClose reports.
func (c *Conn) CloseWithError(err error) error {
	c.nc.Lock()
	c.closeUnlock(err)
	return nil
}

// closeUnlock shuts the socket down for the poller to close (see Close),
// then releases the lock. When the socket cannot be shut down (not
// expected), it is closed here instead.
func (c *Conn) closeUnlock(err error) {
	if c.closedLocked() {
		c.nc.Unlock()
		return
	}
	c.closing = closeCode(c, err)
	serr := syscall.Shutdown(int(c.fd), syscall.SHUT_RDWR)
	c.nc.Unlock()
	if serr != nil && serr != syscall.ENOTCONN {
		_ = c.nc.CloseWithError(err)
	}
}

// Values of Conn.closing from closeAsked on: the error a close was asked
// with, as OnClose reports it.
const (
	closeFlushed     uint8 = 1 + iota
	closeAsked             // no error
	closeShed              // ErrHandshakeShed
	closeTLSTimeout        // ErrTLSHandshakeTimeout
	closeTLSTooLarge       // ErrTLSHandshakeTooLarge
	closeOther             // another error, kept in otherCloseErrs
)

// otherCloseErrs holds the errors of closes asked with an error that has
// no code of its own (write errors), until OnClose reports them.
var otherCloseErrs sync.Map // *Conn -> error

func closeCode(c *Conn, err error) uint8 {
	switch err {
	case nil:
		return closeAsked
	case ErrHandshakeShed:
		return closeShed
	case ErrTLSHandshakeTimeout:
		return closeTLSTimeout
	case ErrTLSHandshakeTooLarge:
		return closeTLSTooLarge
	}
	otherCloseErrs.Store(c, err)
	return closeOther
}

// closeErr returns the error OnClose reports for c, whose descriptor nbio
// closed with err: the one its close was asked with, if any.
func (c *Conn) closeErr(err error) error {
	switch c.closing {
	case closeAsked:
		return nil
	case closeShed:
		return ErrHandshakeShed
	case closeTLSTimeout:
		return ErrTLSHandshakeTimeout
	case closeTLSTooLarge:
		return ErrTLSHandshakeTooLarge
	case closeOther:
		if v, ok := otherCloseErrs.LoadAndDelete(c); ok {
			return v.(error)
		}
	}
	return err
}

// onClosed is called once by the engine after nbio reports the close.
func (c *Conn) onClosed() {
	c.nc.Lock()
	unsent := int64(c.queued)
	if c.q != nil {
		c.releaseQueueLocked()
	}
	if c.tls {
		unsent += int64(c.tlsState().outQueued)
		c.tlsState().closeLocked(c)
	}
	if unsent > 0 {
		c.e.io[int(c.fd)%len(c.e.io)].unsent.Add(uint64(unsent))
	}
	c.nc.Unlock()
}

// ShutdownWrite half-closes the connection (SHUT_WR) after queued bytes
// already handed to the kernel, so the peer reads them and then EOF.
//
// While a send of the connection waits in its loop's batch (see
// WriteFrom), the half-close would come before it: the connection closes
// once the batch has written it instead.
func (c *Conn) ShutdownWrite() {
	c.nc.Lock()
	if c.armed&armedBatch != 0 && c.closing == 0 {
		c.closing = closeFlushed
	} else if closed, _ := c.nc.IsClosed(); !closed {
		_ = syscall.Shutdown(int(c.fd), syscall.SHUT_WR)
	}
	c.nc.Unlock()
}
