package poller

// Socket reads and writes on the hot path.
//
// Every socket is non-blocking, so a read or write returns in
// microseconds whatever the peer does. The standard syscall wrappers tell
// the Go scheduler about each call (entersyscall and exitsyscall: some 150
// instructions and several atomic operations per call, and under load
// sysmon may hand the P to another thread mid-call, which costs futex
// wake-ups); for a call that cannot block that bookkeeping buys nothing.
// These helpers make the raw system call instead. The poller's blocking
// calls (epoll_wait, accept4) keep the standard wrappers.
//
// Reads replace nbio's own read loop (Engine.onRead, registered with
// nbio's OnRead hook), which also finds the connection's Loop once per
// readiness event rather than once per read.

import (
	"io"
	"syscall"
	"unsafe"

	"github.com/lesismal/nbio"
)

// readFD reads from the non-blocking socket fd into p.
func readFD(fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// writeFD writes p to the non-blocking socket fd.
func writeFD(fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// writev writes iov to the non-blocking socket fd with one system call.
func writev(fd int, iov []syscall.Iovec) (int, syscall.Errno) {
	if len(iov) == 0 {
		return 0, 0
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// maxReadsPerEvent bounds the reads of one connection per readiness
// event, as nbio's own loop does: a connection that keeps the buffer full
// yields to the others of its loop, and epoll reports it again.
const maxReadsPerEvent = 3

// onRead serves a readable event: it reads into the loop's shared buffer
// and hands the bytes to OnData, reading again only while reads fill the
// buffer. The connection's lock is held around each read, as nbio's loop
// holds it, so a concurrent close cannot hand the descriptor to another
// connection mid-read. End of stream and errors reported with the event
// close the connection in nbio's loop after this returns.
func (e *Engine) onRead(nc *nbio.Conn) {
	l := e.loopOf(nc)
	if sb := l.sends.Load(); sb != nil && sb.nc == nc {
		sb.woken()
		return
	}
	buf := *l.key
	fd := nc.Hash()
	for range maxReadsPerEvent {
		nc.Lock()
		if closed, _ := nc.IsClosed(); closed {
			nc.Unlock()
			return
		}
		n, errno := readFD(fd, buf)
		nc.Unlock()
		if n > 0 {
			e.onData(l, nc, buf[:n])
		}
		switch errno {
		case 0:
			if n == 0 {
				// End of stream. epoll reports it as EPOLLRDHUP too, and
				// nbio's loop closes on that; closing here does not
				// depend on it.
				_ = nc.CloseWithError(io.EOF)
				return
			}
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return
		default:
			_ = nc.CloseWithError(errno)
			return
		}
		if n < len(buf) {
			return
		}
	}
}
