package poller

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/wstest"
)

// slotsEngine starts a TLS engine with 2 handshake slots.
func slotsEngine(t *testing.T, cfg func(*Engine)) (*Engine, string, func() []byte, *x509.CertPool) {
	t.Helper()
	cert, pool := wstest.NewTestCert(t, 1)
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 2, OpenTimeout: time.Minute,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, TLSHandshakes: 2}, &testHandler{echo: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		cfg(e)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	hello := func() []byte {
		var b bytes.Buffer
		_ = tls.Client(recorder{w: &b}, &tls.Config{ServerName: "x"}).Handshake()
		return b.Bytes()
	}
	return e, e.Addrs()[0].String(), hello, pool
}

// stallTLS opens a connection that sends p and nothing more.
func stallTLS(t *testing.T, addr string, p []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(p); err != nil {
		t.Fatal(err)
	}
	return c
}

// honestTLS runs n TLS clients at once, each echoing a message, and
// returns their errors joined.
func honestTLS(t *testing.T, addr string, pool *x509.CertPool, n int) error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", addr,
				&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			errs[i] = echoOnce(c, []byte("honest"))
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// expectClosed reads c until the server closes it.
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Errorf("%s: %v, want the server to close it", what, err)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// TestTLSShedsStalledHello occupies both handshake slots with clients
// stalled halfway through their ClientHello: twenty honest clients that
// connect meanwhile take their slots (the stalled two are closed and
// counted as shed) instead of waiting for them.
func TestTLSShedsStalledHello(t *testing.T) {
	e, addr, hello, pool := slotsEngine(t, nil)
	h := hello()
	a, b := stallTLS(t, addr, h[:30]), stallTLS(t, addr, h[:30])
	waitSlots(t, e, "two stalled handshakes", func(r, _ int) bool { return r == 2 })
	if err := honestTLS(t, addr, pool, 20); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, a, "first stalled client")
	expectClosed(t, b, "second stalled client")
	if _, _, shed := e.HandshakesShed(); shed != 2 {
		t.Errorf("%d handshakes shed, want 2", shed)
	}
	if ok, failed := e.TLSHandshakes(); ok != 20 || failed != 2 {
		t.Errorf("handshakes ok=%d failed=%d, want 20 and 2", ok, failed)
	}
	waitSlots(t, e, "the handshake goroutines to end", func(r, q int) bool { return r == 0 && q == 0 })
}

// TestTLSShedsStalledFlight occupies both slots with clients that sent a
// whole ClientHello and never answer the server's flight: they are not
// stalled until stalledAfter (300 ms here), so honest clients queue at
// first, and then get the slots when the recheck finds the two stalled.
func TestTLSShedsStalledFlight(t *testing.T) {
	e, addr, hello, pool := slotsEngine(t, func(e *Engine) { e.tls.hs.after = 300 * time.Millisecond })
	h := hello()
	a, b := stallTLS(t, addr, h), stallTLS(t, addr, h)
	waitSlots(t, e, "two stalled handshakes", func(r, _ int) bool { return r == 2 })
	start := time.Now()
	if err := honestTLS(t, addr, pool, 5); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, a, "first stalled client")
	expectClosed(t, b, "second stalled client")
	if _, _, shed := e.HandshakesShed(); shed != 2 {
		t.Errorf("%d handshakes shed, want 2", shed)
	}
	t.Logf("5 honest handshakes behind 2 stalled after their flight: %v", time.Since(start))
	waitSlots(t, e, "the handshake goroutines to end", func(r, q int) bool { return r == 0 && q == 0 })
}

// waitSlots waits until cond holds for the running and queued handshakes.
func waitSlots(t *testing.T, e *Engine, what string, cond func(running, queued int) bool) {
	t.Helper()
	get := func() (int, int) {
		e.tls.hs.mu.Lock()
		defer e.tls.hs.mu.Unlock()
		return e.tls.hs.running, len(e.tls.hs.wait)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !cond(get()) {
		if time.Now().After(deadline) {
			r, q := get()
			t.Fatalf("%s: running %d, queued %d", what, r, q)
		}
		time.Sleep(time.Millisecond)
	}
}
