package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Commands from run to the loops, in the order they are given.
const (
	cmdStart int32 = iota + 1
	cmdStop
)

type connState uint8

const (
	stConnecting connState = iota // connect(2) in progress
	stHandshake                   // request written, awaiting the 101
	stOpen
	stClosed
)

// econn is one connection of an epoll loop.
type econn struct {
	fd       int
	state    connState
	inflight bool          // a message awaits its echo
	start    time.Duration // on the loop's clock: dial start, then send time
	got      int           // bytes of the echo received so far
	out      []byte        // unsent rest of the current write
	armed    bool          // EPOLLOUT is watched for out
	resp     []byte        // handshake response so far
	accept   string
}

// epollEngine runs cfg.Loops loops, each owning its share of the
// connections and an epoll instance.
type epollEngine struct {
	loops []*loop
}

// loop is one goroutine's event loop; everything but cmd, the stats and
// the channels is touched by that goroutine alone.
type loop struct {
	cfg   *config
	fr    frames
	st    *stats
	epfd  int
	wake  int // eventfd: run writes to it after setting cmd
	cmd   atomic.Int32
	done  int32 // last command handled
	base  time.Time
	rng   *rand.Rand
	conns []*econn // by descriptor
	open  []*econn
	buf   []byte
	req   []byte

	toDial, dials, conc int // connections not yet dialled, handshakes in flight, limit
	src                 int // next source address
	dialing             []*econn
	lastScan            time.Duration

	inflight   int
	stopping   bool
	drainUntil time.Duration

	connected chan struct{} // closed when every connection has opened or failed
	finished  chan struct{} // closed when the loop has closed everything
	signalled bool
}

func newEpoll(cfg *config) (*epollEngine, error) {
	seed := uint64(time.Now().UnixNano())
	fr := newFrames(cfg.Size, rand.New(rand.NewPCG(seed, 1)))
	e := &epollEngine{}
	for i := range cfg.Loops {
		l := &loop{cfg: cfg, fr: fr, st: &stats{}, base: time.Now(), rng: rand.New(rand.NewPCG(seed, uint64(i)+2)),
			buf: make([]byte, 64<<10), connected: make(chan struct{}), finished: make(chan struct{}),
			toDial: cfg.Conns / cfg.Loops, conc: max(cfg.DialConc/cfg.Loops, 1), src: i}
		if i < cfg.Conns%cfg.Loops {
			l.toDial++
		}
		var err error
		if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
			e.closeAll()
			return nil, fmt.Errorf("benchclient: epoll_create1: %w", err)
		}
		if l.wake, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
			unix.Close(l.epfd)
			e.closeAll()
			return nil, fmt.Errorf("benchclient: eventfd: %w", err)
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.wake)}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.wake, &ev); err != nil {
			unix.Close(l.wake)
			unix.Close(l.epfd)
			e.closeAll()
			return nil, fmt.Errorf("benchclient: epoll_ctl: %w", err)
		}
		e.loops = append(e.loops, l)
	}
	return e, nil
}

// closeAll releases the descriptors of loops that never ran.
func (e *epollEngine) closeAll() {
	for _, l := range e.loops {
		unix.Close(l.wake)
		unix.Close(l.epfd)
	}
}

func (e *epollEngine) connect() {
	for _, l := range e.loops {
		go l.run()
	}
	for _, l := range e.loops {
		<-l.connected
	}
}

func (e *epollEngine) start() { e.command(cmdStart) }

func (e *epollEngine) stop() {
	e.command(cmdStop)
	for _, l := range e.loops {
		<-l.finished
	}
}

func (e *epollEngine) command(c int32) {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	for _, l := range e.loops {
		l.cmd.Store(c)
		_, _ = unix.Write(l.wake, one[:])
	}
}

func (e *epollEngine) shards() []*stats {
	out := make([]*stats, len(e.loops))
	for i, l := range e.loops {
		out[i] = l.st
	}
	return out
}

func (l *loop) now() time.Duration { return time.Since(l.base) }

// run is the loop's goroutine.
func (l *loop) run() {
	events := make([]unix.EpollEvent, 1024)
	l.pump()
	for {
		n, err := unix.EpollWait(l.epfd, events, 100)
		if err != nil && !errors.Is(err, unix.EINTR) {
			l.st.fail(fmt.Errorf("epoll_wait: %w", err))
			l.finish()
			return
		}
		for i := range max(n, 0) {
			ev := &events[i]
			if int(ev.Fd) == l.wake {
				l.onWake()
				continue
			}
			if c := l.conns[ev.Fd]; c != nil {
				l.onEvent(c, ev.Events)
			}
		}
		now := l.now()
		if now-l.lastScan >= 100*time.Millisecond {
			l.lastScan = now
			l.expireDials(now)
		}
		if l.stopping && (l.inflight == 0 || now >= l.drainUntil) {
			l.finish()
			return
		}
	}
}

func (l *loop) onWake() {
	var b [8]byte
	_, _ = unix.Read(l.wake, b[:])
	for want := l.cmd.Load(); l.done < want; {
		l.done++
		switch l.done {
		case cmdStart:
			now := l.now()
			for _, c := range l.open {
				if c.state == stOpen && !c.inflight {
					l.send(c, now)
				}
			}
		case cmdStop:
			l.stopping, l.drainUntil = true, l.now()+l.cfg.Drain
		}
	}
}

func (l *loop) onEvent(c *econn, ev uint32) {
	switch c.state {
	case stConnecting:
		l.onConnected(c)
	case stHandshake:
		l.onResponse(c)
	case stOpen:
		if ev&unix.EPOLLOUT != 0 && c.out != nil {
			l.flush(c)
		}
		if ev&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 && c.state == stOpen {
			l.onData(c)
		}
	}
}

// onData reads an echo, or part of one, and sends the next message.
func (l *loop) onData(c *econn) {
	n, err := unix.Read(c.fd, l.buf)
	switch {
	case errors.Is(err, unix.EAGAIN):
		return
	case err != nil:
		l.drop(c, err)
		return
	case n == 0:
		l.drop(c, errClosed)
		return
	}
	want := l.fr.Server
	if !c.inflight || c.got+n > len(want) || !bytes.Equal(l.buf[:n], want[c.got:c.got+n]) {
		l.drop(c, errEcho)
		return
	}
	c.got += n
	if c.got < len(want) {
		return
	}
	now := l.now()
	c.got, c.inflight = 0, false
	l.inflight--
	l.st.msgs.Add(1)
	if l.st.measuring.Load() {
		l.st.rtt.add(now - c.start)
	}
	if !l.stopping {
		l.send(c, now)
	}
}

// send writes the message on c, leaving what the socket did not take for
// EPOLLOUT.
func (l *loop) send(c *econn, now time.Duration) {
	c.start, c.inflight = now, true
	l.inflight++
	c.out = l.fr.Client
	l.flush(c)
}

func (l *loop) flush(c *econn) {
	n, err := unix.Write(c.fd, c.out)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		l.drop(c, err)
		return
	}
	c.out = c.out[max(n, 0):]
	switch {
	case len(c.out) == 0:
		c.out = nil
		if c.armed {
			c.armed = false
			l.watch(c, unix.EPOLL_CTL_MOD, unix.EPOLLIN)
		}
	case !c.armed:
		c.armed = true
		l.watch(c, unix.EPOLL_CTL_MOD, unix.EPOLLIN|unix.EPOLLOUT)
	}
}

// drop counts err against c's loop and closes c.
func (l *loop) drop(c *econn, err error) {
	l.st.fail(err)
	if c.inflight {
		l.inflight--
	}
	l.close(c)
}

func (l *loop) close(c *econn) {
	if c.fd >= 0 && l.conns[c.fd] == c {
		l.conns[c.fd] = nil
		unix.Close(c.fd)
	}
	c.state, c.inflight, c.out, c.fd = stClosed, false, nil, -1
}

func (l *loop) watch(c *econn, op int, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd)}
	if err := unix.EpollCtl(l.epfd, op, c.fd, &ev); err != nil {
		l.drop(c, fmt.Errorf("epoll_ctl: %w", err))
	}
}

// finish closes every connection and the loop's descriptors.
func (l *loop) finish() {
	for _, c := range l.conns {
		if c != nil {
			unix.Close(c.fd)
		}
	}
	l.conns = nil
	unix.Close(l.wake)
	unix.Close(l.epfd)
	l.signalConnected()
	close(l.finished)
}

// ---- connecting ----

// pump starts dials until the handshake limit or the loop's share is
// reached.
func (l *loop) pump() {
	for l.toDial > 0 && l.dials < l.conc {
		l.toDial--
		if err := l.dial(); err != nil {
			l.st.dialFailed(err)
		}
	}
	if l.toDial == 0 && l.dials == 0 {
		l.signalConnected()
	}
}

func (l *loop) signalConnected() {
	if !l.signalled {
		l.signalled = true
		close(l.connected)
	}
}

// dial starts a non-blocking connect.
func (l *loop) dial() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if len(l.cfg.Sources) > 0 {
		src := l.cfg.Sources[l.src%len(l.cfg.Sources)]
		l.src++
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind %s: %w", src, err)
		}
	}
	sa := &unix.SockaddrInet4{Port: int(l.cfg.Addr.Port()), Addr: l.cfg.Addr.Addr().As4()}
	if err := unix.Connect(fd, sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		unix.Close(fd)
		return fmt.Errorf("connect: %w", err)
	}
	c := &econn{fd: fd, state: stConnecting, start: l.now()}
	for fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*econn, len(l.conns)+1024)...)
	}
	l.conns[fd] = c
	ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.conns[fd] = nil
		unix.Close(fd)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	l.dials++
	l.dialing = append(l.dialing, c)
	return nil
}

// onConnected writes the handshake request once connect(2) completes.
func (l *loop) onConnected(c *econn) {
	soErr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soErr != 0 {
		err = syscall.Errno(soErr)
	}
	if err != nil {
		l.dialDone(c, fmt.Errorf("connect: %w", err))
		return
	}
	key, accept := newKey(l.rng)
	l.req = appendRequest(l.req[:0], l.cfg.Host, l.cfg.Path, key)
	if n, err := unix.Write(c.fd, l.req); err != nil || n != len(l.req) {
		l.dialDone(c, fmt.Errorf("writing the request: %d of %d bytes: %v", max(n, 0), len(l.req), err))
		return
	}
	c.state, c.accept = stHandshake, accept
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		l.dialDone(c, fmt.Errorf("epoll_ctl: %w", err))
	}
}

// onResponse reads the handshake response.
func (l *loop) onResponse(c *econn) {
	n, err := unix.Read(c.fd, l.buf)
	switch {
	case errors.Is(err, unix.EAGAIN):
		return
	case err != nil:
		l.dialDone(c, fmt.Errorf("reading the response: %w", err))
		return
	case n == 0:
		l.dialDone(c, errClosed)
		return
	}
	c.resp = append(c.resp, l.buf[:n]...)
	done, err := checkResponse(c.resp, c.accept)
	if err != nil {
		l.dialDone(c, err)
		return
	}
	if done {
		l.dialDone(c, nil)
	}
}

// dialDone ends c's handshake: it is open when err is nil, closed and
// counted as failed otherwise. The next dial starts.
func (l *loop) dialDone(c *econn, err error) {
	if err != nil {
		l.st.dialFailed(err)
		l.close(c)
	} else {
		c.state, c.resp, c.accept = stOpen, nil, ""
		l.st.opened.Add(1)
		l.st.hs.add(l.now() - c.start)
		l.open = append(l.open, c)
	}
	c.start = -1 // no longer dialling: expireDials drops it
	l.dials--
	l.pump()
}

// expireDials fails the handshakes older than the timeout and forgets
// the finished ones.
func (l *loop) expireDials(now time.Duration) {
	var expired []*econn
	keep := l.dialing[:0]
	for _, c := range l.dialing {
		switch {
		case c.start < 0:
		case now-c.start > l.cfg.HandshakeTimeout:
			expired = append(expired, c)
		default:
			keep = append(keep, c)
		}
	}
	clear(l.dialing[len(keep):])
	l.dialing = keep
	for _, c := range expired { // dialDone starts new dials: after l.dialing is settled
		l.dialDone(c, errTimeout)
	}
}
