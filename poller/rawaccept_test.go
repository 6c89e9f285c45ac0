package poller

import (
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestRawAcceptEnabled fails when the nbio in go.mod no longer has the
// fields the listeners fill in: accepting has fallen back to the standard
// library's Accept, eleven more syscalls and allocations per connection
// (see rawaccept_linux.go).
func TestRawAcceptEnabled(t *testing.T) {
	if !RawAccept() {
		t.Fatal("nbio.Conn has no fd/typ fields of the expected types any more: raw accept is off")
	}
}

// optsHandler reports, for each connection's first read, its socket
// options and addresses as the server sees them.
type optsHandler struct {
	testHandler
	seen chan acceptedConn
}

type acceptedConn struct {
	nodelay, keepalive, idle, intvl, cnt int
	local, remote                        net.Addr
}

func (h *optsHandler) OnData(_ *Loop, ps Session, data []byte) {
	c := ps.PollerConn()
	get := func(level, opt int) int {
		v, err := syscall.GetsockoptInt(c.FD(), level, opt)
		if err != nil {
			return -1
		}
		return v
	}
	h.seen <- acceptedConn{
		nodelay:   get(syscall.IPPROTO_TCP, syscall.TCP_NODELAY),
		keepalive: get(syscall.SOL_SOCKET, syscall.SO_KEEPALIVE),
		idle:      get(syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE),
		intvl:     get(syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL),
		cnt:       get(syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT),
		local:     c.LocalAddr(),
		remote:    c.RemoteAddr(),
	}
	_ = c.Write(data) // echo, so the client knows the server read it
}

// TestAcceptedConnections: an accepted connection has the options the
// standard library would have set (no Nagle, its keepalive defaults),
// inherited from the listening socket; the addresses are right for a
// listener on one address and on the wildcard; and StopAccepting makes
// the kernel refuse new connections while the open ones carry on.
func TestAcceptedConnections(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", "0.0.0.0:0"} {
		t.Run(listen, func(t *testing.T) {
			h := &optsHandler{seen: make(chan acceptedConn, 4)}
			e, err := New(Config{Addrs: []string{listen}, Pollers: 2}, h)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Stop)
			_, port, _ := net.SplitHostPort(e.Addrs()[0].String())
			target := net.JoinHostPort("127.0.0.1", port)
			c, err := net.DialTimeout("tcp", target, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echo(t, c, "x")
			var got acceptedConn
			select {
			case got = <-h.seen:
			case <-time.After(10 * time.Second):
				t.Fatal("OnData not called")
			}
			want := acceptedConn{nodelay: 1, keepalive: 1, idle: keepAliveIdle, intvl: keepAliveInterval, cnt: keepAliveCount}
			if got.nodelay != want.nodelay || got.keepalive != want.keepalive || got.idle != want.idle ||
				got.intvl != want.intvl || got.cnt != want.cnt {
				t.Errorf("socket options %+v, want nodelay 1, keepalive 1 (%d/%d/%d)", got, keepAliveIdle, keepAliveInterval, keepAliveCount)
			}
			if got.local.String() != target {
				t.Errorf("local address %v, want %s", got.local, target)
			}
			if got.remote.String() != c.LocalAddr().String() {
				t.Errorf("remote address %v, want %v", got.remote, c.LocalAddr())
			}

			e.StopAccepting()
			if c2, err := net.DialTimeout("tcp", target, 10*time.Second); err == nil {
				c2.Close()
				t.Error("a connection was accepted after StopAccepting")
			}
			echo(t, c, "still open")
		})
	}
}

// echo writes s to c and reads the echo back.
func echo(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, len(s))
	for n := 0; n < len(s); {
		m, err := c.Read(buf[n:])
		if err != nil {
			t.Fatal(err)
		}
		n += m
	}
	if string(buf) != s {
		t.Fatalf("echo %q, want %q", buf, s)
	}
}

// TestStopReleasesListener: after Stop the engine holds no descriptor,
// the listening socket's included, whether or not StopAccepting came
// first.
func TestStopReleasesListener(t *testing.T) {
	for _, drain := range []bool{false, true} {
		before := openFDs(t)
		e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 2}, &testHandler{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		if drain {
			e.StopAccepting()
		}
		e.Stop()
		deadline := time.Now().Add(10 * time.Second)
		for openFDs(t) > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := openFDs(t); n > before {
			t.Errorf("drain=%v: %d descriptors open after Stop, %d before New", drain, n, before)
		}
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

// TestRawListenerCloseWhileAccepting: Close while two Accept calls are
// blocked in accept4 wakes both with net.ErrClosed, returns only after
// they have left accept4 (TestStopReleasesListener checks that the
// descriptor is released); a later
// Accept fails at once and a second Close is a no-op.
func TestRawListenerCloseWhileAccepting(t *testing.T) {
	if !RawAccept() {
		t.Skip("raw accept is off")
	}
	std, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r, err := newRawListener(std, &addrIntern{})
	if err != nil {
		std.Close()
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			c, err := r.Accept()
			if c != nil {
				c.Close()
			}
			errs <- err
		}()
	}
	// Wait until both are inside accept4.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		busy := r.busy
		r.mu.Unlock()
		if busy == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Accept calls blocked, want 2", busy)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-errs:
			if err != net.ErrClosed {
				t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Accept still blocked after Close")
		}
	}
	if _, err := r.Accept(); err != net.ErrClosed {
		t.Errorf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
