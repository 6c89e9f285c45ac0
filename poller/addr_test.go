package poller

import (
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"
)

// TestCompactAddrsEnabled fails when the nbio in go.mod no longer has the
// address fields the Engine rewrites: compaction has switched itself off
// and every idle connection costs 150 B more (see addr.go).
func TestCompactAddrsEnabled(t *testing.T) {
	if !CompactAddrs() {
		t.Fatal("nbio.Conn has no lAddr/rAddr net.Addr fields any more: address compaction is off")
	}
}

// addrHandler records each connection's addresses as the handler sees
// them when its first bytes arrive.
type addrHandler struct {
	testHandler
	seen chan [2]net.Addr
}

func (h *addrHandler) OnData(_ *Loop, ps Session, _ []byte) {
	c := ps.PollerConn()
	h.seen <- [2]net.Addr{c.LocalAddr(), c.RemoteAddr()}
}

// TestCompactAddrs opens connections over IPv4 and IPv6 from known source
// addresses and checks that the server sees the right addresses, in
// compact form, with one shared local address per listening address.
func TestCompactAddrs(t *testing.T) {
	cases := []struct {
		listen, source string
		v4             bool
	}{
		{"127.0.0.1:0", "127.0.0.3", true},
		{"[::1]:0", "::1", false},
	}
	for _, tc := range cases {
		t.Run(tc.listen, func(t *testing.T) {
			h := &addrHandler{seen: make(chan [2]net.Addr, 4)}
			e, err := New(Config{Addrs: []string{tc.listen}, Pollers: 1}, h)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Skipf("cannot listen on %s: %v", tc.listen, err)
			}
			t.Cleanup(e.Stop)
			target := e.Addrs()[0].String()
			var locals []net.Addr
			for range 3 {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.source)}, Timeout: 5 * time.Second}
				c, err := d.Dial("tcp", target)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
				var got [2]net.Addr
				select {
				case got = <-h.seen:
				case <-time.After(5 * time.Second):
					t.Fatal("OnData not called")
				}
				if got[0].String() != target || got[0].Network() != "tcp" {
					t.Errorf("local %q (%s), want %q (tcp)", got[0], got[0].Network(), target)
				}
				if got[1].String() != c.LocalAddr().String() || got[1].Network() != "tcp" {
					t.Errorf("remote %q (%s), want the client's %q", got[1], got[1].Network(), c.LocalAddr())
				}
				if want := c.LocalAddr().(*net.TCPAddr).AddrPort(); AddrPort(got[1]) != want {
					t.Errorf("AddrPort(remote) = %v, want %v", AddrPort(got[1]), want)
				}
				if _, isStd := got[1].(*net.TCPAddr); isStd {
					t.Errorf("remote address kept nbio's %T", got[1])
				}
				if _, is4 := got[1].(*tcpAddr4); is4 != tc.v4 {
					t.Errorf("remote address is %T", got[1])
				}
				locals = append(locals, got[0])
			}
			for _, l := range locals[1:] {
				if l != locals[0] {
					t.Errorf("local addresses not shared: %p and %p", l, locals[0])
				}
			}
		})
	}
}

// TestAddrPort covers the conversions servers use for per-address limits.
func TestAddrPort(t *testing.T) {
	mapped := &net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 80}
	if got, want := AddrPort(mapped), netip.MustParseAddrPort("10.1.2.3:80"); got != want {
		t.Errorf("AddrPort(mapped) = %v, want %v", got, want)
	}
	if got := AddrPort(compactTCP(netip.MustParseAddrPort("[::ffff:10.1.2.3]:80"))); got != netip.MustParseAddrPort("10.1.2.3:80") {
		t.Errorf("compact mapped = %v", got)
	}
	v6 := netip.MustParseAddrPort("[2001:db8::1]:443")
	if got := AddrPort(compactTCP(v6)); got != v6 {
		t.Errorf("compact v6 = %v", got)
	}
	if got := compactTCP(v6).String(); got != "[2001:db8::1]:443" {
		t.Errorf("v6 String = %q", got)
	}
	if got := AddrPort(&net.UnixAddr{Name: "x"}); got.IsValid() {
		t.Errorf("unix address gave %v", got)
	}
	if s4, s6 := unsafe.Sizeof(tcpAddr4{}), unsafe.Sizeof(tcpAddr6{}); s4 > 8 || s6 > 24 {
		t.Errorf("compact addresses grew: %d and %d B", s4, s6)
	}
}

// TestInternBounded shows the shared set stops growing at maxInterned
// (a client engine sees a new local port per connection).
func TestInternBounded(t *testing.T) {
	var in addrIntern
	for p := range maxInterned + 50 {
		a := in.get(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1000 + p})
		if AddrPort(a).Port() != uint16(1000+p) {
			t.Fatalf("port %d came back as %v", 1000+p, a)
		}
	}
	if len(in.m) != maxInterned {
		t.Fatalf("interned %d addresses, want %d", len(in.m), maxInterned)
	}
}
