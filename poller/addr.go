package poller

// Compact connection addresses.
//
// For every accepted connection nbio keeps the two net.Addr values the
// standard library's listener made: a *net.TCPAddr (48 B) for each end,
// whose IP slice points into the syscall.Sockaddr (32 B) the address was
// decoded from. That is 160 B per connection, about 40 % of everything an
// idle connection costs the event loop, to remember two addresses of which
// one is the same for every connection of a listener and the other fits in
// 8 bytes.
//
// When a connection opens, before any handler sees it, the Engine replaces
// both: the local address by one shared value per distinct local address
// (interned, bounded), the remote address by an 8-byte (IPv4) or 24-byte
// (IPv6) value; nbio's originals become garbage. A zoned IPv6 address
// (link-local) keeps nbio's value.
//
// nbio.Conn has no setter for its addresses, so the Engine writes its two
// unexported fields, found by name and type with reflect when the package
// loads. Should an nbio release rename or retype them, compaction turns
// itself off (CompactAddrs reports false and TestCompactAddrsEnabled
// fails) and connections simply keep nbio's values.

import (
	"net"
	"net/netip"
	"reflect"
	"sync"
	"unsafe"

	"github.com/lesismal/nbio"
)

// nbioAddrFields are the offsets of nbio.Conn's local and remote address
// fields; ok is false when they were not found with the expected type.
var nbioAddrFields = findNbioAddrFields()

type addrFields struct {
	local, remote uintptr
	ok            bool
}

func findNbioAddrFields() addrFields {
	t := reflect.TypeFor[nbio.Conn]()
	addrT := reflect.TypeFor[net.Addr]()
	l, okL := t.FieldByName("lAddr")
	r, okR := t.FieldByName("rAddr")
	if !okL || !okR || l.Type != addrT || r.Type != addrT || len(l.Index) != 1 || len(r.Index) != 1 {
		return addrFields{}
	}
	return addrFields{local: l.Offset, remote: r.Offset, ok: true}
}

// CompactAddrs reports whether the Engine stores connections' addresses in
// compact form (see the comment at the top of addr.go). It is false only
// if the nbio in the build no longer has the fields it rewrites.
func CompactAddrs() bool { return nbioAddrFields.ok }

// maxInterned bounds the shared local addresses an Engine keeps. A server
// has one per listening address (a wildcard listener: one per local IP
// clients reach it on); past the bound, local addresses are stored like
// remote ones.
const maxInterned = 64

// addrIntern is an Engine's set of shared local addresses.
type addrIntern struct {
	mu sync.Mutex
	m  map[netip.AddrPort]net.Addr
}

// compactAddrs replaces nc's addresses by compact ones. It must run before
// nc is visible to any other goroutine (nbio calls OnOpen before it
// registers the descriptor with epoll).
func (e *Engine) compactAddrs(nc *nbio.Conn) {
	f := nbioAddrFields
	if !f.ok {
		return
	}
	base := unsafe.Pointer(nc)
	if l, ok := nc.LocalAddr().(*net.TCPAddr); ok && l.Zone == "" {
		*(*net.Addr)(unsafe.Add(base, f.local)) = e.interned.get(l)
	}
	if r, ok := nc.RemoteAddr().(*net.TCPAddr); ok && r.Zone == "" {
		*(*net.Addr)(unsafe.Add(base, f.remote)) = compactTCP(r.AddrPort())
	}
}

// get returns the shared value for a, or a compact copy of it once the set
// is full.
func (in *addrIntern) get(a *net.TCPAddr) net.Addr { return in.getPort(a.AddrPort()) }

// getPort is get for an address given as a netip.AddrPort.
func (in *addrIntern) getPort(ap netip.AddrPort) net.Addr {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.m[ap]; ok {
		return v
	}
	v := compactTCP(ap)
	if len(in.m) < maxInterned {
		if in.m == nil {
			in.m = make(map[netip.AddrPort]net.Addr)
		}
		in.m[ap] = v
	}
	return v
}

// compactTCP returns ap as the smallest net.Addr that holds it.
func compactTCP(ap netip.AddrPort) net.Addr {
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		return &tcpAddr4{ip: ip.As4(), port: ap.Port()}
	}
	return &tcpAddr6{ip: ip.As16(), port: ap.Port()}
}

// tcpAddr4 is an IPv4 TCP address in 8 bytes.
type tcpAddr4 struct {
	ip   [4]byte
	port uint16
}

// Network returns "tcp".
func (a *tcpAddr4) Network() string { return "tcp" }

// String returns "ip:port", as *net.TCPAddr does.
func (a *tcpAddr4) String() string { return a.AddrPort().String() }

// AddrPort returns the address as a netip.AddrPort.
func (a *tcpAddr4) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(a.ip), a.port)
}

// tcpAddr6 is an IPv6 TCP address without a zone in 18 bytes.
type tcpAddr6 struct {
	ip   [16]byte
	port uint16
}

// Network returns "tcp".
func (a *tcpAddr6) Network() string { return "tcp" }

// String returns "[ip]:port", as *net.TCPAddr does.
func (a *tcpAddr6) String() string { return a.AddrPort().String() }

// AddrPort returns the address as a netip.AddrPort.
func (a *tcpAddr6) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(a.ip), a.port)
}

// AddrPort returns a TCP address as a netip.AddrPort without allocating:
// the compact addresses the Engine stores and *net.TCPAddr alike. IPv4
// addresses come back unmapped. It returns the zero AddrPort for any other
// net.Addr.
func AddrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch t := a.(type) {
	case *tcpAddr4:
		return t.AddrPort()
	case *tcpAddr6:
		ap = t.AddrPort()
	case *net.TCPAddr:
		ap = t.AddrPort()
	default:
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// RemoteAddrPort returns the peer's address and port.
func (c *Conn) RemoteAddrPort() netip.AddrPort { return AddrPort(c.nc.RemoteAddr()) }
