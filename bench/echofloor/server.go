package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/wsgate/wsgate/internal/uring"
)

const (
	maxEvents  = 1024
	readBuf    = 64 << 10 // syscall mode: one buffer per loop
	slotSize   = 8 << 10  // ring mode: one receive buffer per socket of a batch
	maxRequest = 8 << 10  // a handshake request longer than this is refused
	maxFrame   = 64 << 10 // a frame longer than this closes the connection
)

var errRing = errors.New("io_uring unavailable")

// server owns the listening socket, the accept thread and the loops.
type server struct {
	lfd   int
	addr  net.Addr
	loops []*loop
	conns []atomic.Pointer[conn] // by descriptor
	next  int
	wg    sync.WaitGroup
}

// conn is one client socket. Only its loop's thread touches it after
// the accept thread has published it.
type conn struct {
	fd   int
	open bool   // the 101 has been sent
	in   []byte // an incomplete request or frame carried to the next read
	out  []byte // bytes the kernel refused, written on EPOLLOUT
	bye  bool   // close once out is written
}

func listen(addr string, loops int, ring bool) (*server, error) {
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	for _, o := range [][3]int{
		{syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1},
		{syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1}, // copied to every accepted socket
	} {
		if err := syscall.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			syscall.Close(fd)
			return nil, err
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	if err := syscall.Listen(fd, 4096); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	got, _ := syscall.Getsockname(fd)
	in4 := got.(*syscall.SockaddrInet4)
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	s := &server{lfd: fd, addr: &net.TCPAddr{IP: net.IP(in4.Addr[:]), Port: in4.Port},
		conns: make([]atomic.Pointer[conn], min(max(lim.Cur, 1024), 1<<20))}
	for range max(loops, 1) {
		l, err := newLoop(s, ring)
		if err != nil {
			s.close()
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	for _, l := range s.loops {
		s.wg.Add(1)
		go l.run()
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// accept hands every new socket to the next loop in turn.
func (s *server) accept() {
	defer s.wg.Done()
	for {
		nfd, _, errno := syscall.Syscall6(syscall.SYS_ACCEPT4, uintptr(s.lfd), 0, 0,
			syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
		case syscall.EINTR, syscall.ECONNABORTED, syscall.EAGAIN, syscall.EMFILE, syscall.ENFILE:
			continue
		default:
			return // the listener was shut down
		}
		fd := int(nfd)
		if fd >= len(s.conns) {
			syscall.Close(fd)
			continue
		}
		s.conns[fd].Store(&conn{fd: fd})
		l := s.loops[s.next%len(s.loops)]
		s.next++
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			s.conns[fd].Store(nil)
			syscall.Close(fd)
		}
	}
}

func (s *server) close() {
	_ = syscall.Shutdown(s.lfd, syscall.SHUT_RDWR)
	for _, l := range s.loops {
		l.stop.Store(true)
		_, _ = syscall.Write(l.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
	s.wg.Wait()
	syscall.Close(s.lfd)
	for i := range s.conns {
		if c := s.conns[i].Load(); c != nil {
			syscall.Close(c.fd)
		}
	}
}

// loop is one event-loop thread.
type loop struct {
	s    *server
	epfd int
	wake int // eventfd that ends the loop
	stop atomic.Bool
	buf  []byte      // read(2) buffer: every read in syscall mode, handshakes in ring mode
	out  []byte      // output built for one socket (syscall) or one batch (ring)
	r    *uring.Ring // ring mode only
	// ring mode: one batch's sockets, their receive slots and output spans
	batch []*conn
	slots []byte
	spans [][2]int
	dead  []*conn
}

func newLoop(s *server, useRing bool) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	w, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, errno
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: -1}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(w), &ev); err != nil {
		return nil, err
	}
	l := &loop{s: s, epfd: epfd, wake: int(w), buf: make([]byte, readBuf), out: make([]byte, 0, 256<<10)}
	if useRing {
		if l.r, err = uring.New(2 * maxEvents); err != nil {
			return nil, fmt.Errorf("%w: %v", errRing, err)
		}
		l.slots = make([]byte, maxEvents*slotSize)
		l.batch = make([]*conn, 0, maxEvents)
		l.spans = make([][2]int, maxEvents)
	}
	return l, nil
}

func (l *loop) run() {
	defer l.s.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var events [maxEvents]syscall.EpollEvent
	for !l.stop.Load() {
		n, err := syscall.EpollWait(l.epfd, events[:], -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		if l.r != nil {
			l.serveBatch(events[:n])
			continue
		}
		for i := range events[:n] {
			if c := l.ready(&events[i]); c != nil {
				l.readSyscall(c)
			}
		}
	}
}

// ready writes what ev's socket holds back when the event says it is
// writable, and returns the socket when there is also something to read
// and it is still open.
func (l *loop) ready(ev *syscall.EpollEvent) *conn {
	if ev.Fd < 0 || int(ev.Fd) >= len(l.s.conns) {
		return nil
	}
	c := l.s.conns[ev.Fd].Load()
	if c == nil {
		return nil
	}
	if ev.Events&syscall.EPOLLOUT != 0 {
		l.flushPending(c)
	}
	if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) == 0 || l.s.conns[c.fd].Load() != c {
		return nil
	}
	return c
}

// readSyscall serves one readable socket with read(2) and write(2).
func (l *loop) readSyscall(c *conn) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(c.fd), uintptr(unsafe.Pointer(&l.buf[0])), uintptr(len(l.buf)))
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EINTR:
		return
	case errno != 0 || n == 0:
		l.closeConn(c)
		return
	}
	l.out = l.out[:0]
	ok := l.consume(c, l.buf[:n])
	if len(l.out) > 0 {
		l.send(c, l.out)
	}
	if !ok || (c.bye && len(c.out) == 0) {
		l.closeConn(c)
	}
}

// send writes p to c now, or after what c already holds.
func (l *loop) send(c *conn, p []byte) {
	if len(c.out) > 0 {
		c.out = append(c.out, p...)
		return
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(c.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 && errno != syscall.EAGAIN {
		c.bye, c.out = true, c.out[:0]
		return
	}
	if errno == syscall.EAGAIN {
		n = 0
	}
	l.keep(c, p[n:])
}

// keep holds what the kernel did not take and asks for EPOLLOUT.
func (l *loop) keep(c *conn, rest []byte) {
	if len(rest) == 0 {
		return
	}
	c.out = append(c.out, rest...)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLOUT, Fd: int32(c.fd)}
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.fd, &ev)
}

func (l *loop) flushPending(c *conn) {
	for len(c.out) > 0 {
		n, err := syscall.Write(c.fd, c.out)
		if err == syscall.EAGAIN {
			return
		}
		if err != nil {
			l.closeConn(c)
			return
		}
		c.out = c.out[:copy(c.out, c.out[n:])]
	}
	if c.bye {
		l.closeConn(c)
		return
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd)}
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, c.fd, &ev)
}

func (l *loop) closeConn(c *conn) {
	if l.s.conns[c.fd].CompareAndSwap(c, nil) {
		syscall.Close(c.fd)
	}
}

// consume handles bytes read from c, appending the answers to l.out. It
// reports false when c must be closed now.
func (l *loop) consume(c *conn, data []byte) bool {
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	if !c.open {
		end := bytes.Index(data, []byte("\r\n\r\n"))
		if end < 0 {
			if len(data) > maxRequest {
				return false
			}
			c.in = append(c.in[:0], data...)
			return true
		}
		key := headerValue(data[:end+2], "sec-websocket-key")
		if key == nil {
			return false
		}
		l.out = append(l.out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
		l.out = appendAccept(l.out, key)
		l.out = append(l.out, "\r\n\r\n"...)
		c.open = true
		data = data[end+4:]
	}
	for len(data) > 0 {
		used, ok := l.frame(c, data)
		if !ok {
			return false
		}
		if used == 0 {
			if len(data) > maxFrame+14 {
				return false
			}
			c.in = append(c.in[:0], data...)
			return true
		}
		data = data[used:]
	}
	c.in = c.in[:0]
	return true
}

// frame answers one whole client frame at the start of p: data frames are
// echoed, pings answered, a close returned and the socket closed after.
// It returns how many bytes the frame took, 0 if p holds only part of it.
func (l *loop) frame(c *conn, p []byte) (int, bool) {
	if len(p) < 2 {
		return 0, true
	}
	if p[1]&0x80 == 0 {
		return 0, false // client frames are masked
	}
	n, h := int(p[1]&0x7f), 2
	switch n {
	case 126:
		if len(p) < 4 {
			return 0, true
		}
		n, h = int(p[2])<<8|int(p[3]), 4
	case 127:
		if len(p) < 10 {
			return 0, true
		}
		var v uint64
		for _, b := range p[2:10] {
			v = v<<8 | uint64(b)
		}
		if v > maxFrame {
			return 0, false
		}
		n, h = int(v), 10
	}
	if len(p) < h+4+n {
		return 0, true
	}
	mask := p[h : h+4]
	payload := p[h+4 : h+4+n]
	op := p[0] & 0x0f
	switch op {
	case 0xA: // pong
		return h + 4 + n, true
	case 0x9:
		l.out = appendHeader(l.out, 0x8A, n)
	case 0x8:
		l.out = appendHeader(l.out, 0x88, n)
		c.bye = true
	default:
		l.out = appendHeader(l.out, p[0], n)
	}
	at := len(l.out)
	l.out = append(l.out, payload...)
	for i := range n {
		l.out[at+i] ^= mask[i&3]
	}
	return h + 4 + n, true
}

func appendHeader(b []byte, first byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, first, byte(n))
	case n < 1<<16:
		return append(b, first, 126, byte(n>>8), byte(n))
	default:
		return append(b, first, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// headerValue finds a header's value in a request head, name in lower case.
func headerValue(head []byte, name string) []byte {
	for len(head) > 0 {
		i := bytes.Index(head, []byte("\r\n"))
		if i < 0 {
			return nil
		}
		line := head[:i]
		head = head[i+2:]
		colon := bytes.IndexByte(line, ':')
		if colon == len(name) && bytes.EqualFold(line[:colon], []byte(name)) {
			return bytes.TrimSpace(line[colon+1:])
		}
	}
	return nil
}

func appendAccept(b []byte, key []byte) []byte {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	var sum [sha1.Size]byte
	var enc [28]byte
	base64.StdEncoding.Encode(enc[:], h.Sum(sum[:0]))
	return append(b, enc[:]...)
}
