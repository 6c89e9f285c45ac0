package poller

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"unsafe"

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
// Concurrency: mu guards the queue fields; any goroutine may Send, Write or
// Flush. At most one goroutine performs I/O at a time (the flushing flag), and
// it does so without holding mu, so senders are never blocked behind a
// syscall.
type Conn struct {
	timer TimerNode // first field: the wheel maps a *TimerNode back to its Conn

	nc *nbio.Conn
	e  *Engine

	mu       sync.Mutex
	fd       int32
	queued   int32 // bytes in q not yet written
	q        *outQueue
	flushing bool
	armed    bool // registered with the write poller (waiting for EPOLLOUT)
	closed   bool
	// closeWhenFlushed closes the connection once the queue drains.
	closeWhenFlushed bool
	// BlockedSince is the wheel tick at which the socket last refused
	// bytes, or 0 while writes go through. Guarded by mu.
	blockedSince int64
}

type qitem struct {
	b   *Buf
	off int
}

type outQueue struct {
	items []qitem
	head  int
}

var queuePool = sync.Pool{New: func() any { return &outQueue{items: make([]qitem, 0, 8)} }}

// NetConn returns the underlying nbio connection.
func (c *Conn) NetConn() *nbio.Conn { return c.nc }

// FD returns the socket's file descriptor.
func (c *Conn) FD() int { return int(c.fd) }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Queued returns the number of bytes waiting to be written.
func (c *Conn) Queued() int {
	c.mu.Lock()
	n := c.queued
	c.mu.Unlock()
	return int(n)
}

// BlockedSince returns the wheel tick at which the socket started refusing
// bytes, or 0 when the queue is empty or draining freely.
func (c *Conn) BlockedSince() int64 {
	c.mu.Lock()
	t := c.blockedSince
	c.mu.Unlock()
	return t
}

// Send queues b, taking over one reference, without writing; call Flush
// once after queueing a batch. It returns the bytes now queued.
func (c *Conn) Send(b *Buf) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		b.Release()
		return 0, ErrClosed
	}
	c.pushLocked(b)
	n := c.queued
	c.mu.Unlock()
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

// Write copies p into the queue and flushes. When nothing is queued it
// first tries to write p straight to the socket, so the common case costs
// one syscall and no copy.
func (c *Conn) Write(p []byte) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.q == nil && !c.flushing {
		c.flushing = true
		c.mu.Unlock()
		n, err := c.writeFD(p)
		c.mu.Lock()
		c.flushing = false
		if err != nil && err != syscall.EAGAIN && err != syscall.EINTR {
			c.mu.Unlock()
			if err != ErrClosed {
				c.nc.CloseWithError(err)
			}
			return err
		}
		if n == len(p) && c.q == nil {
			c.mu.Unlock()
			return nil
		}
		p = p[n:]
	}
	b := NewBuf(len(p))
	b.B = append(b.B, p...)
	c.pushLocked(b)
	c.mu.Unlock()
	return c.Flush()
}

// Flush writes as much of the queue as the socket takes with writev. When
// the socket is full it registers for a writable event and returns; the
// write poller resumes the flush later.
func (c *Conn) Flush() error {
	var iov [64]syscall.Iovec
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		if c.flushing || c.q == nil || c.armed {
			c.mu.Unlock()
			return nil
		}
		c.flushing = true
		q := c.q
		cnt := 0
		total := 0
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
		c.mu.Unlock()

		n, errno := c.writevFD(iov[:cnt])

		c.mu.Lock()
		c.flushing = false
		if c.closed {
			if c.q != nil {
				c.releaseQueueLocked()
			}
			c.mu.Unlock()
			return ErrClosed
		}
		if n > 0 {
			c.advanceLocked(n)
		}
		if errno != nil && errno != syscall.EAGAIN && errno != syscall.EINTR {
			c.mu.Unlock()
			if errno != ErrClosed {
				c.nc.CloseWithError(errno)
			}
			return errno
		}
		if c.q == nil {
			c.blockedSince = 0
			closeNow := c.closeWhenFlushed
			c.mu.Unlock()
			if closeNow {
				c.nc.Close()
			}
			return nil
		}
		if n < total {
			// The socket is full: wait for EPOLLOUT.
			if c.blockedSince == 0 {
				c.blockedSince = c.e.wheel.Now()
			}
			c.armed = true
			c.mu.Unlock()
			if err := c.e.wp.arm(c); err != nil {
				c.nc.CloseWithError(err)
				return err
			}
			return nil
		}
		c.mu.Unlock()
	}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.q == nil || c.flushing {
		return 0
	}
	q := c.q
	dropped := 0
	start := q.head
	if start < len(q.items) && q.items[start].off > 0 {
		start++ // partly written: it must finish or the stream breaks
	}
	for i := start; i < len(q.items) && int(c.queued) > limit; i++ {
		it := q.items[i]
		c.queued -= int32(len(it.b.B) - it.off)
		c.e.countQueued(c.fd, -int64(len(it.b.B)-it.off))
		it.b.Release()
		q.items[i].b = nil
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
// been written (at once if nothing is queued). Bytes sent after this call
// may or may not go out.
func (c *Conn) CloseWhenFlushed() {
	c.mu.Lock()
	if c.q == nil && !c.flushing {
		c.mu.Unlock()
		c.nc.Close()
		return
	}
	c.closeWhenFlushed = true
	c.mu.Unlock()
	_ = c.Flush()
}

// Close closes the connection now; queued bytes are discarded. Use Flush
// (and wait for Queued to reach 0) first for a graceful close.
func (c *Conn) Close() error { return c.nc.Close() }

// CloseWithError closes the connection, recording err as the reason nbio
// passes to OnClose.
func (c *Conn) CloseWithError(err error) error { return c.nc.CloseWithError(err) }

// closed is called once by the engine when nbio reports the close.
func (c *Conn) onClosed() {
	c.mu.Lock()
	c.closed = true
	if c.q != nil && !c.flushing {
		c.releaseQueueLocked()
	}
	c.mu.Unlock()
}

// writeFD writes p with one syscall while holding nbio's connection lock,
// so the descriptor cannot be closed (and reused by a new connection)
// in the middle of the write.
func (c *Conn) writeFD(p []byte) (int, error) {
	c.nc.Lock()
	if closed, _ := c.nc.IsClosed(); closed {
		c.nc.Unlock()
		return 0, ErrClosed
	}
	n, err := syscall.Write(int(c.fd), p)
	c.nc.Unlock()
	c.e.countWrite(c.fd, n)
	if n < 0 {
		n = 0
	}
	return n, err
}

func (c *Conn) writevFD(iov []syscall.Iovec) (int, error) {
	c.nc.Lock()
	if closed, _ := c.nc.IsClosed(); closed {
		c.nc.Unlock()
		return 0, ErrClosed
	}
	n, errno := writev(int(c.fd), iov)
	c.nc.Unlock()
	c.e.countWrite(c.fd, n)
	if errno != 0 {
		return n, errno
	}
	return n, nil
}

func writev(fd int, iov []syscall.Iovec) (int, syscall.Errno) {
	if len(iov) == 0 {
		return 0, 0
	}
	n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// ShutdownWrite half-closes the connection (SHUT_WR) after queued bytes
// already handed to the kernel, so the peer reads them and then EOF.
func (c *Conn) ShutdownWrite() {
	c.nc.Lock()
	if closed, _ := c.nc.IsClosed(); !closed {
		_ = syscall.Shutdown(int(c.fd), syscall.SHUT_WR)
	}
	c.nc.Unlock()
}
