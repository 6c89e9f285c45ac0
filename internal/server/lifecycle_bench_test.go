package server

import (
	"bytes"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// BenchmarkConnLifecycle measures one whole connection as the server sees
// it, over real loopback sockets: accept, the upgrade request read, the
// 101 written, then the client's hang-up and the close. The client is
// raw syscalls (socket, connect, write, read, close) and allocates
// nothing, so allocs/op and B/op are the server's cost per connection.
// ns/op is one handshake's latency, client included: a sequential loop,
// so wake-ups dominate it.
func BenchmarkConnLifecycle(b *testing.B) {
	s := startTestServer(b, func(c *config.Config) { c.Admin = "" })
	ap := netip.MustParseAddrPort(s.Addr().String())
	sa := &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	req := wstest.Request(s.Addr().String(), "/echo", wstest.NewKey(),
		"Origin: http://"+s.Addr().String(),
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	resp := make([]byte, 1024)
	dial := func() {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := syscall.Connect(fd, sa); err != nil {
			b.Fatal(err)
		}
		if _, err := syscall.Write(fd, req); err != nil {
			b.Fatal(err)
		}
		n := 0
		for !bytes.Contains(resp[:n], []byte("\r\n\r\n")) {
			m, err := syscall.Read(fd, resp[n:])
			if err != nil || m <= 0 {
				b.Fatalf("read: %d %v", m, err)
			}
			n += m
		}
		if !bytes.HasPrefix(resp[:n], []byte("HTTP/1.1 101 ")) {
			b.Fatalf("no 101: %q", resp[:n])
		}
		syscall.Close(fd)
	}
	waitClosed := func() {
		wstest.WaitFor(b, time.Minute, "every connection closed", func() bool { return s.open.Load() == 0 })
	}
	for i := 0; i < 200; i++ { // warm the pools
		dial()
	}
	waitClosed()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dial()
	}
	waitClosed()
}
