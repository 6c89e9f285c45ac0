package poller

// Accepting without the standard library's connection.
//
// nbio accepts through a net.Listener and turns each net.Conn into its own
// connection by duplicating the descriptor and closing the original. Per
// connection that costs, beside accept4 and nbio's own epoll_ctl: the Go
// runtime's poller registering the socket and removing it again (two
// epoll_ctl), getsockname, TCP_NODELAY and four keepalive options (five
// setsockopt), dup and close: eleven syscalls and eleven allocations
// before nbio sees the connection.
//
// The Engine's listeners do less. The socket options are set once, on the
// listening socket: Linux copies TCP_NODELAY and the keepalive settings to
// every socket accept returns. The acceptor goroutine blocks in accept4 on
// a blocking listening socket (the kernel wakes it when a connection is
// ready; it does not wait for the Go runtime's poller to be polled) and
// builds the nbio connection around the new descriptor directly. A
// connection then costs accept4 and nbio's epoll_ctl (and getsockname for
// a listener on a wildcard address).
//
// nbio.Conn has no constructor taking a descriptor, so the Engine fills
// its four fields (fd, typ, lAddr, rAddr), found by name and type with
// reflect when the package loads, as addr.go does for the addresses. If an
// nbio release renames or retypes them, RawAccept reports false (and
// TestRawAcceptEnabled fails) and listeners fall back to the standard
// library's Accept.

import (
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"github.com/lesismal/nbio"
)

// nbioConnFields are the offsets of nbio.Conn's descriptor and type fields.
var nbioConnFields = findNbioConnFields()

type connFields struct {
	fd, typ uintptr
	ok      bool
}

func findNbioConnFields() connFields {
	t := reflect.TypeFor[nbio.Conn]()
	fd, okFD := t.FieldByName("fd")
	typ, okTyp := t.FieldByName("typ")
	if !okFD || !okTyp || fd.Type != reflect.TypeFor[int]() || typ.Type != reflect.TypeFor[nbio.ConnType]() ||
		len(fd.Index) != 1 || len(typ.Index) != 1 || !nbioAddrFields.ok {
		return connFields{}
	}
	return connFields{fd: fd.Offset, typ: typ.Offset, ok: true}
}

// RawAccept reports whether listeners accept connections without the
// standard library's net.Conn (see the top of rawaccept_linux.go). It is
// false only if the nbio in the build no longer has the fields it fills.
func RawAccept() bool { return nbioConnFields.ok }

// newNbioConn returns an nbio TCP connection for the accepted descriptor
// fd, as nbio's own conversion of a *net.TCPConn would.
func newNbioConn(fd int, local, remote net.Addr) *nbio.Conn {
	c := new(nbio.Conn)
	base := unsafe.Pointer(c)
	*(*int)(unsafe.Add(base, nbioConnFields.fd)) = fd
	*(*nbio.ConnType)(unsafe.Add(base, nbioConnFields.typ)) = nbio.ConnTypeTCP
	*(*net.Addr)(unsafe.Add(base, nbioAddrFields.local)) = local
	*(*net.Addr)(unsafe.Add(base, nbioAddrFields.remote)) = remote
	raceHandoff(c) // our stores, seen by the poller goroutine
	return c
}

// The keepalive settings accepted connections inherit: the standard
// library's defaults for accepted connections.
const (
	keepAliveIdle     = 15 // seconds
	keepAliveInterval = 15 // seconds
	keepAliveCount    = 9
)

// setInheritedOptions sets on a listening socket the options every socket
// it accepts inherits.
func setInheritedOptions(fd int) error {
	for _, o := range [...]struct{ level, opt, v int }{
		{syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1},
		{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, keepAliveIdle},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, keepAliveInterval},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
	} {
		if err := syscall.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			return err
		}
	}
	return nil
}

// rawListener is a listening socket the acceptor goroutine blocks on,
// as a net.Listener whose Accept returns *nbio.Conn values. The descriptor
// is a duplicate of one the standard library opened (so address
// resolution, dual-stack and port 0 behave as with net.Listen), whose
// original is closed at once.
type rawListener struct {
	addr  net.Addr
	local net.Addr // shared local address; nil for a wildcard listener
	in    *addrIntern

	mu     sync.Mutex
	fd     int
	busy   int // Accept calls in accept4 (net.Listener allows several at once)
	closed bool
	idle   sync.Cond // signalled when an Accept leaves accept4 after Close
}

// newRawListener takes over ln's socket. On error ln is left open.
func newRawListener(ln net.Listener, in *addrIntern) (*rawListener, error) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil, errors.New("poller: not a TCP listener")
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = dupCloexec(int(s))
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	r := &rawListener{fd: fd, addr: ln.Addr(), in: in}
	r.idle.L = &r.mu
	if ta, ok := r.addr.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() && ta.Zone == "" {
		r.local = in.get(ta)
	}
	_ = ln.Close() // the duplicate keeps the socket listening
	return r, nil
}

func dupCloexec(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// Addr implements net.Listener.
func (r *rawListener) Addr() net.Addr { return r.addr }

// Accept implements net.Listener: it blocks until a connection arrives
// and returns it as an *nbio.Conn.
func (r *rawListener) Accept() (net.Conn, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, net.ErrClosed
	}
	r.busy++
	fd := r.fd
	r.mu.Unlock()
	c, err := r.accept(fd)
	r.mu.Lock()
	r.busy--
	closed := r.closed
	if closed && r.busy == 0 {
		r.idle.Broadcast()
	}
	r.mu.Unlock()
	if err != nil {
		if closed {
			// Close's shutdown woke accept4 (EINVAL): say so plainly.
			return nil, net.ErrClosed
		}
		return nil, err
	}
	return c, nil
}

// Close implements net.Listener: the kernel refuses new connections at
// once, a blocked Accept returns, and then the descriptor is released
// (never while an accept4 might still use it).
func (r *rawListener) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	_ = syscall.Shutdown(r.fd, syscall.SHUT_RDWR)
	for r.busy > 0 {
		r.idle.Wait()
	}
	return syscall.Close(r.fd)
}

// accept waits in accept4 for a connection on the listening socket fd.
// After Close's shutdown it fails at once.
func (r *rawListener) accept(fd int) (*nbio.Conn, error) {
	for {
		var rsa syscall.RawSockaddrAny
		n := uint32(syscall.SizeofSockaddrAny)
		nfd, _, errno := syscall.Syscall6(syscall.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
			uintptr(unsafe.Pointer(&n)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
		case syscall.EINTR, syscall.ECONNABORTED, syscall.EAGAIN:
			continue
		default:
			return nil, errno
		}
		local := r.local
		if local == nil {
			sa, err := syscall.Getsockname(int(nfd))
			if err != nil {
				syscall.Close(int(nfd))
				continue
			}
			local = r.in.getPort(sockaddrToAddrPort(sa))
		}
		return newNbioConn(int(nfd), local, remoteAddr(&rsa)), nil
	}
}

// remoteAddr decodes the peer address accept4 filled in, in compact form;
// a link-local IPv6 peer keeps its zone in a *net.TCPAddr.
func remoteAddr(rsa *syscall.RawSockaddrAny) net.Addr {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		p := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return &tcpAddr4{ip: p.Addr, port: ntohs(p.Port)}
	case syscall.AF_INET6:
		p := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		if p.Scope_id != 0 {
			return &net.TCPAddr{IP: append(net.IP(nil), p.Addr[:]...), Port: int(ntohs(p.Port)), Zone: zoneName(p.Scope_id)}
		}
		return compactTCP(netip.AddrPortFrom(netip.AddrFrom16(p.Addr), ntohs(p.Port)))
	}
	return &net.TCPAddr{}
}

// zoneName names an IPv6 scope as the standard library does: by its
// interface's name, or its number.
func zoneName(id uint32) string {
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(id), 10)
}

func sockaddrToAddrPort(sa syscall.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// ntohs reads a port stored in network byte order.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
