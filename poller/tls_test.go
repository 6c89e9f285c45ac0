package poller

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/internal/wstest"
)

func startTLSEngine(t testing.TB, h Handler, open time.Duration) (*Engine, string, *x509.CertPool) {
	t.Helper()
	cert, pool := wstest.NewTestCert(t, 1)
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 2, Tick: 20 * time.Millisecond,
		OpenTimeout: open, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e, e.Addrs()[0].String(), pool
}

func dialTLS(t testing.TB, addr string, pool *x509.CertPool) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func echoOnce(c net.Conn, msg []byte) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	errc := make(chan error, 1)
	go func() { _, err := c.Write(msg); errc <- err }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo mismatch")
	}
	return nil
}

func TestTLSConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n != 64 {
		t.Fatalf("poller.Conn is %d bytes, want 64", n)
	}
}

// TestTLSEcho echoes small and large messages through TLS, with 200
// clients connected at once. They connect 16 at a time: under the race
// detector a handshake costs tens of milliseconds of CPU.
func TestTLSEcho(t *testing.T) {
	e, addr, pool := startTLSEngine(t, &testHandler{echo: true}, time.Minute)
	const clients = 200
	conns := make([]*tls.Conn, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	sem := make(chan struct{}, 16)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", addr,
				&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB: many records
	for round := 0; round < 3; round++ {
		errs := make(chan error, clients)
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := []byte("hello from client " + string(rune('A'+i%26)))
				if i%50 == 0 {
					msg = big
				}
				if err := echoOnce(c, msg); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if ok, failed := e.TLSHandshakes(); ok != clients || failed != 0 {
		t.Fatalf("handshakes ok=%d failed=%d, want %d and 0", ok, failed, clients)
	}
}

// byteConn writes one byte per write, pausing between them, so the
// server sees every handshake message split across reads.
type byteConn struct{ net.Conn }

func (b byteConn) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := b.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		time.Sleep(50 * time.Microsecond)
	}
	return len(p), nil
}

func TestTLSHandshakeByteAtATime(t *testing.T) {
	_, addr, pool := startTLSEngine(t, &testHandler{echo: true}, 0)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := tls.Client(byteConn{raw}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: v})
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatalf("version %x: %v", v, err)
		}
		if got := c.ConnectionState().Version; got != v {
			t.Fatalf("negotiated %x, want %x", got, v)
		}
		if err := echoOnce(c, []byte("split handshake, then echo")); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

func TestTLS11Refused(t *testing.T) {
	e, addr, pool := startTLSEngine(t, &testHandler{echo: true}, 0)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1",
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	err = c.Handshake()
	if err == nil {
		t.Fatalf("a TLS 1.1 handshake succeeded (version %x)", c.ConnectionState().Version)
	}
	t.Logf("TLS 1.1 client: %v", err)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, failed := e.TLSHandshakes(); failed == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ok, failed := e.TLSHandshakes(); ok != 0 || failed != 1 {
		t.Fatalf("handshakes ok=%d failed=%d, want 0 and 1", ok, failed)
	}
	// A TLS 1.2 client is still served.
	if err := echoOnce(dialTLS(t, addr, pool), []byte("still serving")); err != nil {
		t.Fatal(err)
	}
}

// TestTLSStalledHandshakesTimeOut opens a connection that never sends and
// one that stops halfway through its ClientHello: both are closed at the
// open timeout, their handshake goroutine (if any) ends, and clients that
// handshake meanwhile are served.
func TestTLSStalledHandshakesTimeOut(t *testing.T) {
	h := &testHandler{echo: true}
	_, addr, pool := startTLSEngine(t, h, 300*time.Millisecond)
	before := runtime.NumGoroutine()
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	half, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	// The first 30 bytes of a real ClientHello.
	var hello bytes.Buffer
	rec := recorder{w: &hello}
	_ = tls.Client(rec, &tls.Config{ServerName: "x"}).Handshake()
	if _, err := half.Write(hello.Bytes()[:30]); err != nil {
		t.Fatal(err)
	}
	// Others are served while these two stall.
	for i := 0; i < 5; i++ {
		if err := echoOnce(dialTLS(t, addr, pool), []byte("not blocked")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []net.Conn{silent, half} {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(make([]byte, 1))
		if n != 0 || !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("stalled handshake: read %d, %v; want the server to close it", n, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines: %d before, %d after: a handshake goroutine leaked", before, n)
	}
}

// recorder is a net.Conn that records what a client writes and fails its
// reads, to capture a ClientHello.
type recorder struct {
	net.Conn
	w io.Writer
}

func (r recorder) Write(p []byte) (int, error)      { return r.w.Write(p) }
func (r recorder) Read([]byte) (int, error)         { return 0, io.EOF }
func (r recorder) Close() error                     { return nil }
func (r recorder) SetDeadline(time.Time) error      { return nil }
func (r recorder) SetReadDeadline(time.Time) error  { return nil }
func (r recorder) SetWriteDeadline(time.Time) error { return nil }

// TestTLSQueueSurvivesFullSocket is TestQueueSurvivesFullSocket over TLS:
// far more than the socket holds is queued to a client that does not read;
// the flush waits for EPOLLOUT, and every byte arrives in order.
func TestTLSQueueSurvivesFullSocket(t *testing.T) {
	h := &testHandler{opened: make(chan *testSession, 1)}
	e, addr, pool := startTLSEngine(t, h, 0)
	c := dialTLS(t, addr, pool)
	if _, err := c.Write([]byte("!")); err != nil {
		t.Fatal(err)
	}
	s := <-h.opened

	const chunk = 16 << 10
	const n = 1000 // 16 MiB
	shared := sendPattern(t, s, chunk, n)
	// Small Bufs coalesce into records.
	for i := 0; i < 100; i++ {
		b := NewBuf(3)
		b.B = append(b.B, 'x', 'y', byte(i))
		s.Send(b)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if s.Queued() == 0 || s.BlockedSince() == 0 {
		t.Fatalf("queued %d, blocked since %d: want a full socket", s.Queued(), s.BlockedSince())
	}
	if e.QueuedBytes() <= 0 {
		t.Fatal("engine gauge shows nothing queued")
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	readPattern(t, c, chunk, n)
	tail := make([]byte, 300)
	if _, err := io.ReadFull(c, tail); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if tail[3*i] != 'x' || tail[3*i+1] != 'y' || tail[3*i+2] != byte(i) {
			t.Fatalf("small message %d: %q", i, tail[3*i:3*i+3])
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for (s.Queued() != 0 || e.QueuedBytes() != 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if q, g := s.Queued(), e.QueuedBytes(); q != 0 || g != 0 {
		t.Fatalf("queued = %d, gauge = %d after draining", q, g)
	}
	if r := shared.refs.Load(); r != 1 {
		t.Fatalf("shared buffer refs = %d, want 1 (only ours)", r)
	}
	shared.Release()
}

// TestTLSPipeHandsOneRecordAtATime feeds a stream of records split at
// every offset, with small and large read buffers: the pipe never hands
// crypto/tls bytes past the end of the record it is in, always makes
// progress, and ends at a record boundary.
func TestTLSPipeHandsOneRecordAtATime(t *testing.T) {
	var stream []byte
	var ends []int
	for _, l := range []int{0, 3, 300, 1, 17000} {
		stream = append(stream, 23, 3, 3, byte(l>>8), byte(l))
		stream = append(stream, make([]byte, l)...)
		ends = append(ends, len(stream))
	}
	nextEnd := func(pos int) int {
		for _, e := range ends {
			if e > pos {
				return e
			}
		}
		return len(stream)
	}
	for _, bufSize := range []int{2, 7, 64 << 10} {
		buf := make([]byte, bufSize)
		for split := 1; split < len(stream); split += 1 + split/64 {
			ts := &tlsConn{}
			pos := 0
			for _, part := range [][]byte{stream[:split], stream[split:]} {
				for len(part) > 0 {
					n := ts.take(buf, part)
					if n <= 0 {
						t.Fatalf("buf %d split %d at %d: no progress", bufSize, split, pos)
					}
					if end := nextEnd(pos); pos+n > end {
						t.Fatalf("buf %d split %d: handed %d..%d across the record end %d", bufSize, split, pos, pos+n, end)
					}
					part = part[n:]
					pos += n
					if at := slices.Contains(ends, pos); at != (ts.hdrN == 0 && ts.recLeft == 0) {
						t.Fatalf("buf %d split %d at %d: boundary %v but hdrN %d recLeft %d", bufSize, split, pos, at, ts.hdrN, ts.recLeft)
					}
				}
			}
		}
	}
}

// TestTLSHandshakeQueue caps handshakes at 2 and occupies both with
// clients stalled halfway through their ClientHello, with shedding put
// off for an hour: twenty clients that connect meanwhile wait in the
// queue; when the stalled ones go away the twenty are all served, never
// more than 2 handshakes at once, and no handshake goroutine outlives its
// work.
func TestTLSHandshakeQueue(t *testing.T) {
	cert, pool := wstest.NewTestCert(t, 1)
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 2, OpenTimeout: time.Minute,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, TLSHandshakes: 2}, &testHandler{echo: true})
	if err != nil {
		t.Fatal(err)
	}
	e.tls.hs.before, e.tls.hs.after = time.Hour, time.Hour
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	addr := e.Addrs()[0].String()
	before := runtime.NumGoroutine()
	limiter := func() (running, queued int) {
		e.tls.hs.mu.Lock()
		defer e.tls.hs.mu.Unlock()
		return e.tls.hs.running, len(e.tls.hs.wait)
	}
	waitLimiter := func(what string, cond func(running, queued int) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond(limiter()) {
			if time.Now().After(deadline) {
				r, q := limiter()
				t.Fatalf("%s: running %d, queued %d", what, r, q)
			}
			time.Sleep(time.Millisecond)
		}
	}
	var hello bytes.Buffer
	_ = tls.Client(recorder{w: &hello}, &tls.Config{ServerName: "x"}).Handshake()
	var stalled []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(hello.Bytes()[:30]); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, c)
	}
	waitLimiter("two stalled handshakes", func(r, _ int) bool { return r == 2 })

	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", addr,
				&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			errs[i] = echoOnce(c, []byte("queued"))
		})
	}
	waitLimiter("twenty queued", func(r, q int) bool { return r == 2 && q == 20 })
	for _, c := range stalled {
		c.Close()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if ok, failed := e.TLSHandshakes(); ok != 20 || failed != 2 {
		t.Fatalf("handshakes ok=%d failed=%d, want 20 and 2", ok, failed)
	}
	waitLimiter("the handshake goroutines to end", func(r, q int) bool { return r == 0 && q == 0 })
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines: %d before, %d after", before, n)
	}
}

// TestTLSKeyUpdateFromPeer has OpenSSL's s_client request a TLS 1.3 key
// update mid-stream: crypto/tls answers with its own KeyUpdate from inside
// Read, on the event loop, and the echo carries on under the new keys.
// It is skipped when openssl is not installed.
func TestTLSKeyUpdateFromPeer(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	cert, _ := wstest.NewTestCert(t, 1)
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 2,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, &testHandler{echo: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", e.Addrs()[0].String(),
		"-CAfile", caFile, "-verify_return_error", "-tls1_3", "-msg")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// s_client reads its commands ("K": key update, peer asked to update
	// too) from whole lines; give each step time to go out on its own.
	for _, line := range []string{"before-update\n", "K\n", "after-update\n"} {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(in, line)
	}
	time.Sleep(500 * time.Millisecond)
	in.Close()
	_ = cmd.Wait()
	got := out.String()
	sent := strings.Count(got, ">>> TLS 1.3, Handshake [length 0005], KeyUpdate")
	answered := strings.Count(got, "<<< TLS 1.3, Handshake [length 0005], KeyUpdate")
	before, upd, after := strings.Index(got, "before-update"), strings.Index(got, "<<< TLS 1.3, Handshake [length 0005], KeyUpdate"), strings.Index(got, "after-update")
	if sent != 1 || answered != 1 || before < 0 || after < upd || upd < before {
		t.Fatalf("key update: sent %d, answered %d; want the echo of both lines around it\n%s", sent, answered, got)
	}
}
