// Package poller is wsgate's event loop: a thin layer over lesismal/nbio's
// epoll engine that adds what a gateway needs and nbio leaves out.
//
//   - Reads: nbio hands OnData a slice of the poller goroutine's shared read
//     buffer; nothing is allocated per connection for reading.
//   - Writes: each Conn keeps a queue of references to shared, reference
//     counted Bufs, flushed with one writev per Flush; a socket that is full
//     waits for EPOLLOUT in a second epoll set (the write poller), so the
//     queue keeps references rather than copies until the kernel takes them.
//   - Batched sends: what OnData answers with WriteFrom is sent with the
//     loop's other answers to the same readiness batch in one
//     io_uring_enter (Config.BatchSends; sendbatch_linux.go).
//   - Timers: one hashed timing Wheel drives every deadline, with one
//     intrusive node per connection: no time.Timer and no goroutine per
//     connection.
//
// The package knows bytes and connections, nothing about WebSocket.
package poller

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

// Session is a protocol layer's per-connection state; it embeds a Conn and
// returns it from PollerConn.
type Session interface {
	PollerConn() *Conn
}

// Handler receives the Engine's events. OnOpen and OnData run on poller
// goroutines (OnData always on the connection's own Loop, so calls for one
// connection never overlap); OnTimer runs on the wheel goroutine; OnClose
// runs once per connection.
//
// With TLS, OnData gets plaintext. It still never overlaps with OnData for
// any other connection of the same Loop: the one call that can come from a
// TLS handshake goroutine (bytes that arrived with the end of the
// handshake) holds the Loop's lock, which the Loop holds around its own
// OnData calls.
type Handler interface {
	// OnOpen returns the Session for a new connection. Returning nil closes
	// the connection.
	OnOpen() Session
	// OnData gets bytes read from the connection, on the Loop l that
	// serves it. data aliases the loop's shared read buffer and is valid
	// only until OnData returns.
	OnData(l *Loop, s Session, data []byte)
	// OnTimer is called when the connection's timer, armed with
	// Engine.Schedule, fires.
	OnTimer(s Session)
	// OnClose is called once after the connection is closed.
	OnClose(s Session, err error)
}

// Config configures an Engine. The zero value of each field is replaced by
// the default given in its comment.
type Config struct {
	// Name names the engine in nbio's logs; default "wsgate".
	Name string
	// Addrs are TCP addresses to listen on; empty for a client-only engine.
	Addrs []string
	// Pollers is the number of event-loop goroutines; default GOMAXPROCS.
	Pollers int
	// ReadBufferSize is each poller's shared read buffer; default 64 KiB.
	ReadBufferSize int
	// Tick is the timer wheel's resolution; default 250 ms.
	Tick time.Duration
	// ReusePort sets SO_REUSEPORT on listeners so several processes can
	// share one port.
	ReusePort bool
	// OpenTimeout, when set, arms every new connection's timer for this
	// long as soon as it is accepted (a handshake deadline, say).
	OpenTimeout time.Duration
	// Data is returned by Engine.Data: the protocol layer's own state,
	// reachable from every Conn without a pointer per connection.
	Data any
	// TLS, when set, makes every accepted connection a TLS server
	// connection: handlers read and write plaintext. The engine uses a
	// clone with MinVersion raised to TLS 1.2 when lower and dynamic
	// record sizing off; GetCertificate on it may swap certificates at any
	// time. The handshake must finish within OpenTimeout (10 s when that
	// is unset) or the connection closes with ErrTLSHandshakeTimeout
	// before the handler's OnTimer is ever called for it. Nil serves plain
	// TCP. Connections added with AddConn are plain.
	TLS *tls.Config
	// TLSHandshakes caps the TLS handshakes in progress at once (each
	// runs on a short-lived goroutine); further connections wait their
	// turn, holding only the bytes they sent. Default 1024.
	TLSHandshakes int
	// LoopData, when set, makes each Loop's Data when the Loop first
	// serves a connection.
	LoopData func(index int) any
	// OnAcceptError, when set, is called with every error a listener's
	// accept returns while the engine accepts (out of descriptors, say),
	// on the accepting goroutine. The engine retries by itself, pausing
	// 50 ms after EMFILE and ENFILE so the retries do not spin a core.
	OnAcceptError func(err error)
	// MaxPendingPerIP caps the pending connections (accepted, not yet
	// Opened) from one source address, IPv6 addresses grouped by
	// PendingIPv6Bits (default 64): one more is closed as soon as it is
	// accepted, before the Handler sees it. 0: no cap. See pending.go.
	MaxPendingPerIP int
	// MaxPending caps the pending connections from all sources: when one
	// more is accepted, the oldest pending one is closed with
	// ErrHandshakeShed. 0: no cap.
	MaxPending      int
	PendingIPv6Bits int
	// BatchSends makes each loop send what its OnData calls write with
	// WriteFrom in one io_uring_enter per readiness batch rather than one
	// write system call per connection (see sendbatch_linux.go). Where
	// io_uring is unavailable (an old kernel, the
	// kernel.io_uring_disabled sysctl, a seccomp profile) the loops write
	// as without it: Start logs nothing itself; BatchedLoops says how
	// many loops batch and why the others do not.
	BatchSends bool
}

// Engine runs the event loop.
type Engine struct {
	nb    *nbio.Engine
	wheel *Wheel
	wp    *writePoller
	h     Handler
	lns   []*listener
	open  time.Duration
	data  any
	io    []ioStats  // sharded by fd, so writers on different pollers do not share a line
	tls   *tlsEngine // nil for plain TCP
	// interned are the shared local addresses (addr.go).
	interned    addrIntern
	loops       loops       // loop.go
	onAcceptErr func(error) // Config.OnAcceptError
	pend        *pendingSet // nil without pending caps
	// batched sends (sendbatch_linux.go): the wake socket being added,
	// the loops' batches, and why a loop has none.
	batchSends bool
	wakeNew    atomic.Pointer[sendBatch]
	batches    atomic.Pointer[batchState] // set once Start has made them
	starting   batchState                 // Start's goroutine only
}

// batchState is the loops' send batches and why a loop has none.
type batchState struct {
	all []*sendBatch
	err error
}

type ioStats struct {
	writes atomic.Uint64
	bytes  atomic.Uint64
	queued atomic.Int64
	unsent atomic.Uint64 // bytes still queued when their connection closed
	_      [32]byte
}

// QueuedBytes returns the bytes waiting in all outbound queues.
func (e *Engine) QueuedBytes() int64 {
	var n int64
	for i := range e.io {
		n += e.io[i].queued.Load()
	}
	return n
}

func (e *Engine) countQueued(fd int32, delta int64) {
	e.io[int(fd)%len(e.io)].queued.Add(delta)
}

// Unsent returns the bytes that were still queued for connections when
// they closed (peer gone, a timeout, Stop): queued, never written.
func (e *Engine) Unsent() uint64 {
	var n uint64
	for i := range e.io {
		n += e.io[i].unsent.Load()
	}
	return n
}

// IOStats reports the write syscalls the engine made (write and writev)
// and the bytes they carried; bytes/syscalls is the batching achieved.
func (e *Engine) IOStats() (syscalls, bytes uint64) {
	for i := range e.io {
		syscalls += e.io[i].writes.Load()
		bytes += e.io[i].bytes.Load()
	}
	return syscalls, bytes
}

func (e *Engine) countWrite(fd int32, n int) {
	st := &e.io[int(fd)%len(e.io)]
	st.writes.Add(1)
	if n > 0 {
		st.bytes.Add(uint64(n))
	}
}

// New creates an Engine; Start begins serving.
func New(cfg Config, h Handler) (*Engine, error) {
	if h == nil {
		return nil, errors.New("poller: nil handler")
	}
	if cfg.Name == "" {
		cfg.Name = "wsgate"
	}
	if cfg.Pollers <= 0 {
		cfg.Pollers = runtime.GOMAXPROCS(0)
	}
	if cfg.ReadBufferSize <= 0 {
		cfg.ReadBufferSize = 64 << 10
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 250 * time.Millisecond
	}
	wp, err := newWritePoller()
	if err != nil {
		return nil, err
	}
	e := &Engine{h: h, wp: wp, open: cfg.OpenTimeout, data: cfg.Data, io: make([]ioStats, cfg.Pollers), onAcceptErr: cfg.OnAcceptError,
		batchSends: cfg.BatchSends}
	e.loops.make = cfg.LoopData
	e.pend = newPendingSet(cfg)
	e.wheel = newWheel(cfg.Tick, cfg.Pollers, e.fire)
	if cfg.TLS != nil {
		e.tls = newTLSEngine(cfg)
		e.loops.tls = max(cfg.ReadBufferSize, 2*tlsChunk)
	}
	logging.SetLevel(logging.LevelNone)
	e.nb = nbio.NewEngine(nbio.Config{
		Name:           cfg.Name,
		Network:        "tcp",
		Addrs:          cfg.Addrs,
		NPoller:        cfg.Pollers,
		ReadBufferSize: cfg.ReadBufferSize,
		Listen:         e.listenFunc(cfg.ReusePort),
	})
	e.nb.OnOpen(e.onOpen)
	e.nb.OnRead(e.onRead)
	e.nb.OnClose(e.onClose)
	return e, nil
}

func (e *Engine) listenFunc(reuse bool) func(network, addr string) (net.Listener, error) {
	return func(network, addr string) (net.Listener, error) {
		lc := net.ListenConfig{}
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if reuse {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
				}
				if serr == nil && RawAccept() {
					serr = setInheritedOptions(int(fd))
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
		ln, err := lc.Listen(context.Background(), network, addr)
		if err != nil {
			return nil, err
		}
		if RawAccept() {
			r, err := newRawListener(ln, &e.interned)
			if err != nil {
				ln.Close()
				return nil, err
			}
			ln = r
		}
		l := newListener(ln, e.onAcceptErr)
		e.lns = append(e.lns, l)
		return l, nil
	}
}

// Start opens the listeners and starts the pollers, the wheel and the
// write poller.
func (e *Engine) Start() error {
	if err := e.nb.Start(); err != nil {
		return err
	}
	// nbio v1.6.8 clears each poller's stop flag when its goroutine begins,
	// so a Stop that lands before the goroutines run is lost and Stop
	// hangs. Wait until every acceptor is in Accept (its goroutine is
	// started after the IO pollers'), then yield briefly so the IO pollers
	// reach their loops too.
	for _, l := range e.lns {
		select {
		case <-l.accepting:
		case <-time.After(2 * time.Second):
		}
	}
	for i := 0; i < 10; i++ {
		runtime.Gosched()
	}
	time.Sleep(5 * time.Millisecond)
	if e.batchSends {
		e.startBatches()
		st := e.starting
		e.batches.Store(&st)
	}
	go e.wheel.run()
	go e.wp.run()
	return nil
}

// BatchedLoops reports how many loops send in batches (Config.BatchSends)
// out of how many, and why the others do not.
func (e *Engine) BatchedLoops() (batched, loops int, err error) {
	st := e.batches.Load()
	if st == nil {
		return 0, len(e.io), nil
	}
	err = st.err
	for _, sb := range st.all {
		if sb.loop.sends.Load() == sb {
			batched++
		} else if p := sb.loop.ringErr.Load(); p != nil && err == nil {
			err = *p
		}
	}
	return batched, len(e.io), err
}

// Addrs returns the listeners' addresses (with the real port when the
// configured port was 0).
func (e *Engine) Addrs() []net.Addr {
	out := make([]net.Addr, len(e.lns))
	for i, ln := range e.lns {
		out[i] = ln.Addr()
	}
	return out
}

// StopAccepting closes the listeners: new connections are refused while
// established ones carry on. Use it to begin a graceful drain.
func (e *Engine) StopAccepting() {
	for _, l := range e.lns {
		l.stopAccepting()
	}
}

// Each calls fn for every open connection's Session. It works on a
// snapshot, so fn may close connections.
func (e *Engine) Each(fn func(Session)) {
	e.wp.mu.RLock()
	snap := make([]*Conn, 0, 1024)
	for _, c := range e.wp.conns {
		if c != nil {
			snap = append(snap, c)
		}
	}
	e.wp.mu.RUnlock()
	for _, c := range snap {
		if s := sessionOf(c.nc); s != nil {
			fn(s)
		}
	}
}

// Stop closes every connection and stops all goroutines.
func (e *Engine) Stop() {
	e.nb.Stop()
	e.wheel.close()
	e.wp.close()
	e.stopBatches()
}

// AddConn adopts an established connection (a dialled client connection,
// for instance) into the event loop: the Handler's OnOpen makes its
// Session as for an accepted one.
func (e *Engine) AddConn(c net.Conn) error {
	_, err := e.nb.AddConn(c)
	return err
}

// Data returns Config.Data.
func (e *Engine) Data() any { return e.data }

// Now returns the wheel's current tick.
func (e *Engine) Now() int64 { return e.wheel.Now() }

// Ticks converts d to wheel ticks, rounding up.
func (e *Engine) Ticks(d time.Duration) int64 { return e.wheel.Ticks(d) }

// Schedule arms c's timer to fire once after d, replacing any earlier
// arming.
func (e *Engine) Schedule(c *Conn, d time.Duration) { e.wheel.Schedule(&c.timer, int(c.fd), d) }

// Cancel disarms c's timer.
func (e *Engine) Cancel(c *Conn) { e.wheel.Cancel(&c.timer, int(c.fd)) }

func (e *Engine) fire(n *TimerNode) {
	c := (*Conn)(unsafe.Pointer(n))
	raceHandoff(c.nc)
	if c.tls {
		e.fireTLS(c)
		return
	}
	if s, ok := c.nc.Session().(Session); ok {
		e.h.OnTimer(s)
	}
}

func (e *Engine) onOpen(nc *nbio.Conn) {
	if e.wakeNew.Load() != nil && e.openWake(nc) {
		return
	}
	e.compactAddrs(nc)
	var ip netip.Addr
	if e.pend != nil {
		ip = AddrPort(nc.RemoteAddr()).Addr()
		if !e.pend.admit(ip) {
			shutdown(nc) // sessionless: OnClose is not called
			return
		}
	}
	s := e.h.OnOpen()
	if s == nil {
		if e.pend != nil {
			e.pend.release(ip)
		}
		shutdown(nc)
		return
	}
	c := s.PollerConn()
	c.nc = nc
	c.e = e
	c.fd = int32(nc.Hash())
	var victim *Conn
	if e.pend != nil {
		victim = e.pend.register(c)
	}
	open := e.open
	if e.tls != nil {
		nc.SetSession(e.tls.newConn(s, c))
		if open <= 0 {
			open = defaultTLSHandshakeTimeout
		}
	} else {
		nc.SetSession(s)
	}
	e.wp.add(c)
	if open > 0 {
		e.wheel.Schedule(&c.timer, int(c.fd), open)
	}
	raceHandoff(nc)
	if victim != nil {
		_ = victim.CloseWithError(ErrHandshakeShed)
	}
}

// shutdown refuses a connection nbio is about to register: its poller
// sees the hang-up and closes it (see Conn.Close for why not here).
func shutdown(nc *nbio.Conn) {
	if err := syscall.Shutdown(nc.Hash(), syscall.SHUT_RDWR); err != nil && err != syscall.ENOTCONN {
		_ = nc.Close()
	}
}

// onData hands bytes read from nc to the handler; l is nc's Loop.
func (e *Engine) onData(l *Loop, nc *nbio.Conn, data []byte) {
	raceHandoff(nc)
	if e.tls != nil {
		e.onDataTLS(nc, data)
		return
	}
	if s, ok := nc.Session().(Session); ok {
		e.h.OnData(l, s, data)
	}
}

func (e *Engine) onClose(nc *nbio.Conn, err error) {
	raceHandoff(nc)
	s := sessionOf(nc)
	if s == nil {
		return
	}
	c := s.PollerConn()
	e.wheel.Cancel(&c.timer, int(c.fd))
	if e.pend != nil {
		e.pend.done(c)
	}
	e.wp.remove(c)
	c.onClosed()
	e.h.OnClose(s, c.closeErr(err))
}
