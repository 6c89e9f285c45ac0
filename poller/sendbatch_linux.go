package poller

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"
	"unsafe"

	"github.com/lesismal/nbio"

	"github.com/wsgate/wsgate/internal/uring"
)

// Batched sends (Config.BatchSends).
//
// Without them a loop answers each readable socket with its own write
// system call. With them, what OnData writes with WriteFrom is copied
// into the loop's send batch, and the batch goes to the kernel in one
// io_uring_enter once the loop has served the readiness events it came
// from: one system call for many sockets, the same kernel work for each.
//
// nbio tells nobody when a loop has served a readiness batch, so the loop
// is told by a wake socket: the first send of a batch writes one byte to
// a Unix socket pair whose other end is a connection of that same loop,
// and epoll reports it after the events already reported; serving it
// submits the batch. Every loop has its own pair and its own ring.
//
// A batched send is not counted in Queued and QueuedBytes: it is on its
// way to the kernel within the loop's turn, and a loop batches at most
// batchBytes at once.
//
// A connection with a send in the batch is armed (armedBatch): other
// writers (workers, the write poller) queue behind it, as behind a socket
// that is full, and once the batch has run what the kernel did not take
// is put back at the head of the queue and the queue is flushed.
// Descriptors stay safe as they are with direct writes: the batch holds
// the connection locks of its sockets from the check that each is open
// until the ring has run, and nbio marks a connection closed under that
// lock before it closes the descriptor.

// Limits of one send batch.
const (
	// batchSends bounds the sends of one batch (the ring's size); a loop
	// that reaches it submits at once.
	batchSends = 256
	// batchSpan: a write longer than this is not batched (copying it
	// would cost more than its system call saves).
	batchSpan = 16 << 10
	// batchBytes bounds the bytes of one batch.
	batchBytes = 512 << 10
	// batchMin and batchRest: a batch of fewer than batchMin sends costs
	// more than it saves (the wake socket's write and read and an extra
	// epoll round against a write each), so after one the loop makes its
	// next batchRest writes directly, then tries a batch again. A loop
	// that serves few connections at a time thus writes almost as it
	// would without batching, and one that serves many batches.
	batchMin  = 2
	batchRest = 32
)

// armed bits of Conn.armed.
const (
	armedPoll  uint8 = 1 << iota // waiting for EPOLLOUT in the write poller
	armedBatch                   // a send of the connection is in its loop's batch
)

// sendBatch is one loop's batch; only the loop's goroutine uses it.
type sendBatch struct {
	r    *uring.Ring
	loop *Loop
	nc   *nbio.Conn // the wake socket's end the loop reads
	wake int        // the end written to wake the loop
	pend []pendSend
	out  []byte
	buf  [64]byte // drains the wake socket
	// direct counts the writes still to make directly after a small
	// batch (batchMin).
	direct int
}

type pendSend struct {
	c       *Conn
	at, end int32
	res     int32
}

// newRing makes a loop's ring (a variable for tests).
var newRing = uring.New

// errBatchLost is the result of a send the ring never reported.
const errBatchLost = -int32(syscall.EIO)

// WriteFrom writes p as Write does, from OnData on l (and only there).
// With batched sends the bytes are copied into l's batch and reach the
// kernel with the rest of the batch; otherwise, for TLS connections and
// for long writes, it is Write.
func (c *Conn) WriteFrom(l *Loop, p []byte) error {
	sb := l.sends.Load()
	if sb == nil || c.tls || len(p) > batchSpan || len(p) == 0 {
		return c.Write(p)
	}
	if sb.direct > 0 && len(sb.pend) == 0 {
		sb.direct--
		return c.Write(p)
	}
	c.nc.Lock()
	if c.closedLocked() {
		c.nc.Unlock()
		return ErrClosed
	}
	if c.q != nil || c.armed != 0 {
		c.nc.Unlock()
		return c.Write(p) // behind what waits: Write queues it
	}
	first := len(sb.pend) == 0
	at := len(sb.out)
	sb.out = append(sb.out, p...)
	sb.pend = append(sb.pend, pendSend{c: c, at: int32(at), end: int32(len(sb.out))})
	c.armed |= armedBatch
	c.nc.Unlock()
	if first {
		var one [1]byte
		_, _, _ = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(sb.wake), uintptr(unsafe.Pointer(&one[0])), 1)
	}
	if len(sb.pend) >= batchSends || len(sb.out) >= batchBytes {
		sb.submit()
	}
	return nil
}

// woken serves the wake socket: it empties it and submits the batch.
func (sb *sendBatch) woken() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_READ, uintptr(sb.nc.Hash()), uintptr(unsafe.Pointer(&sb.buf[0])), uintptr(len(sb.buf)))
	sb.submit()
}

// submit sends the batch with one io_uring_enter and settles each
// connection: what the kernel did not take goes back to the head of its
// queue, and a send that failed closes its connection.
func (sb *sendBatch) submit() {
	if len(sb.pend) == 0 {
		return
	}
	if len(sb.pend) < batchMin {
		sb.direct = batchRest
	}
	for i := range sb.pend {
		p := &sb.pend[i]
		c := p.c
		c.nc.Lock()
		if closed, _ := c.nc.IsClosed(); closed || c.closing >= closeAsked {
			// Gone, or shut down: the bytes are never written.
			c.armed &^= armedBatch
			c.e.io[int(c.fd)%len(c.e.io)].unsent.Add(uint64(p.end - p.at))
			c.nc.Unlock()
			p.c = nil
			continue
		}
		p.res = errBatchLost
		sb.r.Send(int(c.fd), sb.out[p.at:p.end], uint64(i))
	}
	if err := sb.r.Run(sb.done); err != nil {
		sb.failed(err)
	}
	for i := range sb.pend {
		p := &sb.pend[i]
		if p.c != nil {
			p.c.settleLocked(sb.out[p.at:p.end], p.res)
		}
		*p = pendSend{}
	}
	sb.pend = sb.pend[:0]
	if cap(sb.out) > 2*batchBytes {
		sb.out = make([]byte, 0, batchBytes)
	}
	sb.out = sb.out[:0]
}

// done records a send's result.
func (sb *sendBatch) done(tag uint64, res int32) { sb.pend[tag].res = res }

// failed stops the loop's batching after its ring failed: the sends it
// did not report may or may not have been made, so their connections
// close (errBatchLost), and the loop writes with system calls from now
// on.
func (sb *sendBatch) failed(err error) {
	sb.loop.sends.Store(nil)
	sb.loop.ringErr.Store(&err)
}

// settleLocked ends c's batched send of span, whose result was res, and
// releases c's lock.
func (c *Conn) settleLocked(span []byte, res int32) {
	c.armed &^= armedBatch
	n := 0
	switch {
	case res >= 0:
		n = int(res)
	case res == -int32(syscall.EAGAIN) || res == -int32(syscall.EINTR):
	default:
		c.e.countWrite(c.fd, 0)
		c.closeUnlock(syscall.Errno(-res))
		return
	}
	c.e.countWrite(c.fd, n)
	if rest := span[n:]; len(rest) > 0 {
		b := NewBuf(len(rest))
		b.B = append(b.B, rest...)
		c.unshiftLocked(b)
	}
	if c.q != nil {
		_ = c.flushUnlock()
		return
	}
	c.blockedSince = 0
	if c.closing == closeFlushed {
		c.closeUnlock(nil)
		return
	}
	c.nc.Unlock()
}

// unshiftLocked puts b at the head of the queue, before what was queued
// behind a batched send (nothing of which is written yet).
func (c *Conn) unshiftLocked(b *Buf) {
	if c.q == nil {
		c.pushLocked(b)
		return
	}
	q := c.q
	if q.head > 0 {
		q.head--
		q.items[q.head] = qitem{b: b}
	} else {
		q.items = slices.Insert(q.items, 0, qitem{b: b})
	}
	c.queued += int32(len(b.B))
	c.e.countQueued(c.fd, int64(len(b.B)))
}

// errNoWake reports a wake socket that landed on a loop that has one.
var errNoWake = errors.New("poller: no loop left for a wake socket")

// startBatches gives every loop a ring and a wake socket, collecting
// them in e.starting with the reason a loop got none.
func (e *Engine) startBatches() {
	loops := len(e.io)
	for try := 0; len(e.starting.all) < loops && try < 4*loops; try++ {
		err := e.addWake()
		if e.starting.err != nil {
			return
		}
		if err != nil && !errors.Is(err, errNoWake) {
			e.starting.err = err
			return
		}
	}
	if n := len(e.starting.all); n < loops {
		e.starting.err = fmt.Errorf("poller: %d of %d loops got a wake socket", n, loops)
	}
}

// addWake makes one wake socket pair and adds its reading end to nbio,
// which puts it on the loop its descriptor maps to; it fails with
// errNoWake when that loop already batches (the pair is closed again).
func (e *Engine) addWake() error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fds[0]), "wsgate-wake")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		syscall.Close(fds[1])
		return err
	}
	nc, err := nbio.NBConn(fc) // a descriptor of its own; fc is closed
	if err != nil {
		syscall.Close(fds[1])
		return err
	}
	sb := &sendBatch{nc: nc, wake: fds[1], out: make([]byte, 0, 64<<10), pend: make([]pendSend, 0, batchSends)}
	e.wakeNew.Store(sb)
	_, err = e.nb.AddConn(nc) // onOpen places sb on nc's loop, or not
	e.wakeNew.Store(nil)
	if err == nil && sb.r == nil {
		_ = nc.Close()
		err = errNoWake
	}
	if err != nil {
		if sb.r != nil { // placed, then nbio could not watch it
			sb.loop.sends.Store(nil)
			e.starting.all = e.starting.all[:len(e.starting.all)-1]
			sb.r.Close()
		}
		syscall.Close(fds[1])
	}
	return err
}

// openWake is onOpen for a wake socket: the loop that serves it takes it
// unless it has one. It reports whether nc was a wake socket.
func (e *Engine) openWake(nc *nbio.Conn) bool {
	sb := e.wakeNew.Load()
	if sb == nil || sb.nc != nc {
		return false
	}
	l := e.loopOf(nc)
	if l.sends.Load() != nil {
		return true
	}
	r, err := newRing(batchSends)
	if err != nil {
		e.starting.err = err
		return true
	}
	sb.r, sb.loop = r, l
	l.sends.Store(sb)
	e.starting.all = append(e.starting.all, sb)
	return true
}

// stopBatches releases the rings and wake sockets once the loops are
// stopped.
func (e *Engine) stopBatches() {
	st := e.batches.Swap(nil)
	if st == nil {
		return
	}
	for _, sb := range st.all {
		sb.r.Close()
		syscall.Close(sb.wake)
	}
}
