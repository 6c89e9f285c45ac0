package poller

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// pendingHandler opens a connection (Engine.Opened) when it sends "open",
// and records how connections closed.
type pendingHandler struct {
	e      *Engine
	mu     sync.Mutex
	closed []error
}

func (h *pendingHandler) OnOpen() Session { return &testSession{} }

func (h *pendingHandler) OnData(_ *Loop, ps Session, data []byte) {
	if string(data) == "open" {
		h.e.Opened(ps.PollerConn())
		_ = ps.PollerConn().Write([]byte("opened"))
	}
}

func (h *pendingHandler) OnTimer(Session) {}

func (h *pendingHandler) OnClose(_ Session, err error) {
	h.mu.Lock()
	h.closed = append(h.closed, err)
	h.mu.Unlock()
}

func (h *pendingHandler) shed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, err := range h.closed {
		if errors.Is(err, ErrHandshakeShed) {
			n++
		}
	}
	return n
}

func pendingEngine(t *testing.T, cfg Config) (*Engine, *pendingHandler, string) {
	t.Helper()
	h := &pendingHandler{}
	cfg.Addrs, cfg.Pollers = []string{"127.0.0.1:0"}, 2
	e, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e, h, e.Addrs()[0].String()
}

func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c (EOF or reset)
// within d, as opposed to keeping it open.
func closedByServer(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var b [16]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func waitPending(t *testing.T, e *Engine, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for e.PendingHandshakes() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d pending, want %d", e.PendingHandshakes(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPendingPerIP: a source address with MaxPendingPerIP connections
// pending gets its next one closed at accept; other addresses are not
// affected; once one of its connections is Opened, it may open another.
func TestPendingPerIP(t *testing.T) {
	e, _, addr := pendingEngine(t, Config{MaxPendingPerIP: 3})
	var held []net.Conn
	for range 3 {
		held = append(held, dialFrom(t, "127.0.0.2", addr))
	}
	waitPending(t, e, 3)
	if extra := dialFrom(t, "127.0.0.2", addr); !closedByServer(extra, 10*time.Second) {
		t.Fatal("a 4th pending connection from 127.0.0.2 was kept")
	}
	other := dialFrom(t, "127.0.0.3", addr)
	waitPending(t, e, 4)
	if perIP, _, _ := e.HandshakesShed(); perIP != 1 {
		t.Errorf("%d refused per address, want 1", perIP)
	}
	// One of 127.0.0.2's connections finishes its handshake.
	if _, err := held[0].Write([]byte("open")); err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_ = held[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := held[0].Read(b[:]); err != nil {
		t.Fatal(err)
	}
	waitPending(t, e, 3)
	next := dialFrom(t, "127.0.0.2", addr)
	waitPending(t, e, 4)
	for i, c := range append(held, other, next) {
		if closedByServer(c, 50*time.Millisecond) {
			t.Errorf("connection %d closed, want it kept", i)
		}
	}
}

// TestPendingOldestShed: with MaxPending connections pending, one more
// closes the oldest (ErrHandshakeShed), not the newcomer.
func TestPendingOldestShed(t *testing.T) {
	e, h, addr := pendingEngine(t, Config{MaxPending: 4})
	var conns []net.Conn
	for range 4 {
		conns = append(conns, dialFrom(t, "127.0.0.2", addr))
		waitPending(t, e, len(conns))
	}
	conns = append(conns, dialFrom(t, "127.0.0.4", addr))
	if !closedByServer(conns[0], 10*time.Second) {
		t.Fatal("the oldest pending connection was kept")
	}
	for i, c := range conns[1:] {
		if closedByServer(c, 50*time.Millisecond) {
			t.Errorf("connection %d closed, want it kept", i+1)
		}
	}
	waitPending(t, e, 4)
	if _, oldest, _ := e.HandshakesShed(); oldest != 1 {
		t.Errorf("%d shed as oldest, want 1", oldest)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.shed() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := h.shed(); n != 1 {
		t.Errorf("OnClose saw ErrHandshakeShed %d times, want 1", n)
	}
}

// TestPendingKey groups IPv6 addresses by network and keeps IPv4 ones
// apart.
func TestPendingKey(t *testing.T) {
	p := newPendingSet(Config{MaxPendingPerIP: 1})
	k := func(s string) netip.Addr { return p.key(netip.MustParseAddr(s)) }
	if k("2001:db8:1:2::1") != k("2001:db8:1:2:ffff::9") {
		t.Error("two addresses of one /64 have different keys")
	}
	if k("2001:db8:1:2::1") == k("2001:db8:1:3::1") {
		t.Error("two /64 networks share a key")
	}
	if k("10.0.0.1") == k("10.0.0.2") || k("::ffff:10.0.0.1") != k("10.0.0.1") {
		t.Error("IPv4 keys wrong")
	}
}
