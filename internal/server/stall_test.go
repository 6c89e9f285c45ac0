package server_test

// Stalled handshakes: connections that start a handshake (a partial HTTP
// request, a partial TLS ClientHello, or nothing at all) and never finish
// it must not delay an honest client's handshake. The per-address cap
// refuses most of them at accept; when the TLS handshake slots are all
// taken by stalled ones, the oldest is shed for a newcomer instead of
// making the newcomer wait for a slot.

import (
	"crypto/x509"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
	"github.com/wsgate/wsgate/internal/wstest"
)

// stallSources are the attacker's source addresses.
var stallSources = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}

// stall opens n connections to addr spread over stallSources, 8 at a time
// per source, each sending first (which may be empty) and nothing more.
// It returns them once every one is connected and has written.
func stall(t *testing.T, addr string, n int, first []byte) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8*len(stallSources))
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(stallSources[i%len(stallSources)])}}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Errorf("stalled connection %d: %v", i, err)
				return
			}
			conns[i] = c
			if len(first) > 0 {
				_, _ = c.Write(first) // a refused connection may already be reset
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	return conns
}

// honestHandshakes runs n handshakes one after another from 127.0.0.1
// (dial, TLS when roots is not nil, upgrade, one echo) and returns their
// durations.
func honestHandshakes(t *testing.T, addr string, roots *x509.CertPool, n int) []time.Duration {
	t.Helper()
	var lat []time.Duration
	for i := range n {
		t0 := time.Now()
		var c *wstest.Conn
		var err error
		if roots != nil {
			c, err = wstest.ConnectTLS(addr, "/echo", roots)
		} else {
			c, err = wstest.Connect(addr, "/echo")
		}
		if err != nil {
			t.Fatalf("honest handshake %d: %v", i, err)
		}
		d := time.Since(t0)
		c.Bind(t).Echo(frame.OpText, []byte("honest"))
		c.Close()
		lat = append(lat, d)
	}
	return lat
}

// partialRequest is an upgrade request without its final CRLF.
var partialRequest = []byte("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")

// partialHello is a TLS record header announcing a ClientHello and its
// first byte.
var partialHello = []byte{0x16, 0x03, 0x01, 0x00, 0x80, 0x01}

// TestStalledHandshakesSpareHonestOnes opens 2,000 stalled handshakes
// from four addresses, then times 100 honest handshakes from a fifth:
// against a plain listener (half-sent requests), and against a TLS
// listener with 128 handshake slots (half-sent ClientHellos, and
// connections that send nothing). The honest handshakes' p99 is printed
// and must stay under 1 s (2.5 s under the race detector; the target is
// 100 ms, the bound is loose for a busy machine), half the handshake
// timeout (5 s) at most: an honest client that waited for a stalled one's
// slot would wait for that timeout. The server must keep at most 64
// stalled connections per address.
func TestStalledHandshakesSpareHonestOnes(t *testing.T) {
	const stalled, honest = 2000, 100
	limits := func(c *config.Config) {
		c.NoLimits = false
		c.ConnRate, c.MaxConnsPerIP = 0, 0 // the honest client's 100 handshakes
		c.HandshakeTimeout = 5 * time.Second
	}
	t.Run("plain", func(t *testing.T) {
		srv, addr := startServer(t, limits)
		base := honestHandshakes(t, addr, nil, 20)
		conns := stall(t, addr, stalled, partialRequest)
		admin := "http://" + srv.AdminAddr().String()
		waitStallAccepted(t, srv, admin, stalled)
		checkStallHeld(t, conns, 64)
		lat := honestHandshakes(t, addr, nil, honest)
		reportStall(t, "plain", base, lat, len(conns), opsScrape(t, admin))
	})
	t.Run("tls", func(t *testing.T) {
		certFile, keyFile := tlsFiles(t)
		roots := wstest.WriteTestCert(t, certFile, keyFile, 11)
		srv, addr := startServer(t, func(c *config.Config) {
			limits(c)
			c.TLSCert, c.TLSKey = certFile, keyFile
			c.TLSHandshakes = 128
		})
		base := honestHandshakes(t, addr, roots, 20)
		conns := stall(t, addr, stalled*3/4, partialHello)
		conns = append(conns, stall(t, addr, stalled/4, nil)...)
		admin := "http://" + srv.AdminAddr().String()
		waitStallAccepted(t, srv, admin, stalled)
		checkStallHeld(t, conns, 64)
		lat := honestHandshakes(t, addr, roots, honest)
		reportStall(t, "tls", base, lat, len(conns), opsScrape(t, admin))
	})
}

// waitStallAccepted waits until the server has accepted (or refused at
// accept) every stalled connection.
func waitStallAccepted(t *testing.T, srv *server.Server, admin string, n int) {
	t.Helper()
	opened0 := srv.Stats().Accepted
	wstest.WaitFor(t, 60*time.Second, "every stalled connection accepted or refused", func() bool {
		p := opsScrape(t, admin)
		opened := p.sum("wsgate_connections_opened_total", nil) - float64(opened0)
		return opened+p.sum("wsgate_handshakes_shed_total", map[string]string{"reason": "per_ip"}) >= float64(n)
	})
}

// checkStallHeld: of the stalled connections, the server keeps at most
// perIP from each address open (the rest it closed at accept, or shed).
// It runs well before the handshake timeout, which would close them all.
func checkStallHeld(t *testing.T, conns []net.Conn, perIP int) {
	t.Helper()
	most := perIP * len(stallSources)
	open := 0
	for range 200 {
		open = 0
		for _, c := range conns {
			if c != nil && !peerClosed(c) {
				open++
			}
		}
		if open <= most {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the server keeps %d stalled handshakes open from %d addresses, want at most %d", open, len(stallSources), most)
}

// peerClosed reports, without waiting, whether the server has closed c
// (EOF or reset).
func peerClosed(c net.Conn) bool {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	_ = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || (err != nil && err != syscall.EAGAIN)
	})
	return closed
}

func reportStall(t *testing.T, name string, base, lat []time.Duration, stalled int, p *promScrape) {
	t.Helper()
	shed := func(reason string) float64 {
		return p.sum("wsgate_handshakes_shed_total", map[string]string{"reason": reason})
	}
	p99 := percentile(lat, 0.99)
	t.Logf("%s: honest handshakes alone p50 %v p99 %v; beside %d stalled: p50 %v p90 %v p99 %v max %v; shed: %v per address, %v oldest, %v stalled TLS",
		name, percentile(base, 0.5), percentile(base, 0.99), stalled,
		percentile(lat, 0.5), percentile(lat, 0.9), p99, slices.Max(lat), shed("per_ip"), shed("oldest"), shed("tls_stalled"))
	bound := time.Second
	if underRace {
		bound = 2500 * time.Millisecond // TLS under the race detector: 20 ms a handshake alone
	}
	if p99 > bound {
		t.Errorf("%s: honest handshake p99 %v beside %d stalled ones, want well under %v (the target is 100 ms)", name, p99, stalled, bound)
	}
}
