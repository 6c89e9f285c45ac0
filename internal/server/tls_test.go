package server_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
	"github.com/wsgate/wsgate/internal/wstest"
)

// tlsFiles returns cert and key paths in a fresh temporary directory.
func tlsFiles(tb testing.TB) (certFile, keyFile string) {
	dir := tb.TempDir()
	return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
}

func withTLS(certFile, keyFile string) func(*config.Config) {
	return func(c *config.Config) {
		c.TLSCert, c.TLSKey = certFile, keyFile
		c.HandshakeTimeout = 30 * time.Second // handshakes are slow under -race
	}
}

// dialWSS opens a wss connection to path and returns it with the serial
// of the certificate the server presented.
func dialWSS(addr, path string, roots *x509.CertPool) (*wstest.Conn, int64, error) {
	c, err := wstest.ConnectTLS(addr, path, roots)
	if err != nil {
		return nil, 0, err
	}
	return c, c.PeerSerial(), nil
}

// dialMany opens n wss connections, 16 handshakes at a time (the race
// detector makes each one slow), all of which must see the certificate
// with serial want.
func dialMany(tb testing.TB, addr, path string, roots *x509.CertPool, n int, want int64) []*wstest.Conn {
	tb.Helper()
	conns := make([]*wstest.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, serial, err := dialWSS(addr, path, roots)
			if err == nil && serial != want {
				err = fmt.Errorf("certificate serial %d, want %d", serial, want)
			}
			conns[i], errs[i] = c, err
		})
	}
	wg.Wait()
	tb.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	return conns
}

// echoAll makes every connection echo a text and a binary message at the
// same time; none may be lost.
func echoAll(tb testing.TB, conns []*wstest.Conn, round int) {
	tb.Helper()
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			text := fmt.Appendf(nil, "round %d client %d", round, i)
			bin := payloadOf(frame.OpBinary, 100+i*37)
			for _, m := range []struct {
				op frame.Opcode
				p  []byte
			}{{frame.OpText, text}, {frame.OpBinary, bin}} {
				if err := c.WriteMessage(m.op, m.p); err != nil {
					errs[i] = err
					return
				}
				op, got, err := c.ReadMessage()
				if err != nil || op != m.op || string(got) != string(m.p) {
					errs[i] = fmt.Errorf("client %d: echo %v %d bytes: got %v %d bytes, %v", i, m.op, len(m.p), op, len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatalf("round %d: %v", round, err)
	}
}

// TestTLSEchoAndReload: 200 wss clients connected at once echo text and
// binary; a reload serves the new certificate to new connections while the
// 200 keep echoing; a reload from a bad file keeps the current certificate.
func TestTLSEchoAndReload(t *testing.T) {
	certFile, keyFile := tlsFiles(t)
	roots1 := wstest.WriteTestCert(t, certFile, keyFile, 1)
	srv, addr := startServer(t, withTLS(certFile, keyFile))
	const clients = 200
	conns := dialMany(t, addr, "/echo", roots1, clients, 1)
	echoAll(t, conns, 0)

	roots2 := wstest.WriteTestCert(t, certFile, keyFile, 2)
	if err := srv.ReloadTLS(); err != nil {
		t.Fatalf("ReloadTLS: %v", err)
	}
	if got := srv.TLSCertificate().Leaf.SerialNumber.Int64(); got != 2 {
		t.Fatalf("serving serial %d after reload, want 2", got)
	}
	fresh := dialMany(t, addr, "/echo", roots2, 10, 2)
	echoAll(t, conns, 1)
	echoAll(t, fresh, 1)
	// A client that only trusts the old certificate is refused now.
	if _, _, err := dialWSS(addr, "/echo", roots1); err == nil {
		t.Fatal("a client trusting only the old certificate connected after the reload")
	}

	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.ReloadTLS(); err == nil {
		t.Fatal("ReloadTLS accepted a broken certificate file")
	}
	dialMany(t, addr, "/echo", roots2, 5, 2)
	echoAll(t, conns, 2)
	if open := srv.Stats().Open; open < clients+10 {
		t.Fatalf("open = %d: connections were dropped", open)
	}

	// Handshake rejections are real HTTP answers over TLS too.
	nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots2, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := wstest.NewConn(nc)
	if err := c.WriteRaw(wstest.Request(addr, "/nowhere", wstest.NewKey())); err != nil {
		t.Fatal(err)
	}
	if resp, _, err := c.ReadHTTPResponse(); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown path over wss: %v %v", resp, err)
	}
}

func TestTLSReloadWithoutTLS(t *testing.T) {
	srv, _ := startServer(t, nil)
	if err := srv.ReloadTLS(); !errors.Is(err, server.ErrNoTLS) {
		t.Fatalf("ReloadTLS on a plain server: %v", err)
	}
	if srv.TLSCertificate() != nil {
		t.Fatal("plain server reports a certificate")
	}
}

func TestTLSBadFilesRefuseToStart(t *testing.T) {
	certFile, keyFile := tlsFiles(t)
	cfg := config.Default()
	cfg.Listen, cfg.Admin, cfg.Anonymous = "127.0.0.1:0", "127.0.0.1:0", true
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	if _, err := server.New(cfg); err == nil {
		t.Fatal("server.New accepted missing certificate files")
	}
}

// BenchmarkTLSEcho compares wss round trips with ws round trips for a
// 128-byte and a 16 KiB binary message, client and server in this process.
func BenchmarkTLSEcho(b *testing.B) {
	certFile, keyFile := tlsFiles(b)
	roots := wstest.WriteTestCert(b, certFile, keyFile, 1)
	for _, size := range []int{128, 16 << 10} {
		msg := payloadOf(frame.OpBinary, size)
		run := func(b *testing.B, c *wstest.Conn) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if err := c.WriteMessage(frame.OpBinary, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(fmt.Sprintf("ws/%d", size), func(b *testing.B) {
			_, addr := startServer(b, nil)
			c, err := wstest.Connect(addr, "/echo")
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			run(b, c)
		})
		b.Run(fmt.Sprintf("wss/%d", size), func(b *testing.B) {
			_, addr := startServer(b, withTLS(certFile, keyFile))
			c, _, err := dialWSS(addr, "/echo", roots)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			run(b, c)
		})
	}
}

// BenchmarkTLSConnect measures one wss connection set-up (TCP, TLS 1.3
// handshake with ECDSA P-256, WebSocket upgrade) and close against one ws
// set-up, client and server in this process.
func BenchmarkTLSConnect(b *testing.B) {
	certFile, keyFile := tlsFiles(b)
	roots := wstest.WriteTestCert(b, certFile, keyFile, 1)
	for _, wss := range []bool{false, true} {
		name, mod := "ws", func(*config.Config) {}
		if wss {
			name, mod = "wss", withTLS(certFile, keyFile)
		}
		b.Run(name, func(b *testing.B) {
			_, addr := startServer(b, mod)
			b.ReportAllocs()
			for b.Loop() {
				var c *wstest.Conn
				var err error
				if wss {
					c, err = wstest.ConnectTLS(addr, "/echo", roots)
				} else {
					c, err = wstest.Connect(addr, "/echo")
				}
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// BenchmarkIdleConnMemory measures the server's heap per idle connection
// after the WebSocket handshake, ws against wss. The clients live in a
// child process (this test binary running TestHoldConnsHelper), so only
// the server's memory is counted. It reports heap-B/conn and
// goroutines/conn; b.N is ignored.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 2000
	certFile, keyFile := tlsFiles(b)
	wstest.WriteTestCert(b, certFile, keyFile, 1)
	for _, wss := range []bool{false, true} {
		name := "ws"
		mod := func(*config.Config) {}
		if wss {
			name, mod = "wss", withTLS(certFile, keyFile)
		}
		var heapPer, gPer float64
		measured := false
		b.Run(name, func(b *testing.B) {
			if !measured { // once: the framework reruns a fast benchmark with a larger b.N
				srv, addr := startServer(b, mod)
				base, gbase := heapInUse(), runtime.NumGoroutine()
				stop := holdConns(b, addr, n, wss, certFile)
				waitOpen(b, srv, n, 60*time.Second)
				heap, g := heapInUse(), runtime.NumGoroutine()
				stop()
				heapPer, gPer, measured = float64(heap-base)/n, float64(g-gbase)/n, true
			}
			b.ReportMetric(heapPer, "heap-B/conn")
			b.ReportMetric(gPer, "goroutines/conn")
		})
	}
}

func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// holdConns starts a child process holding n idle connections to addr and
// returns once they are upgraded; the returned func ends the child.
func holdConns(tb testing.TB, addr string, n int, wss bool, caFile string) func() {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldConnsHelper$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "WSGATE_HOLD_ADDR="+addr, "WSGATE_HOLD_N="+strconv.Itoa(n),
		"WSGATE_HOLD_CA="+caFile, "WSGATE_HOLD_TLS="+strconv.FormatBool(wss))
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	stop := func() { in.Close(); _ = cmd.Wait() }
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "ready" {
			return stop
		}
	}
	stop()
	tb.Fatal("holder exited before its connections were ready")
	return nil
}

// TestHoldConnsHelper is the child process of holdConns; it does nothing
// in a normal test run.
func TestHoldConnsHelper(t *testing.T) {
	addr := os.Getenv("WSGATE_HOLD_ADDR")
	if addr == "" {
		t.Skip("helper process for BenchmarkIdleConnMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("WSGATE_HOLD_N"))
	var roots *x509.CertPool
	if os.Getenv("WSGATE_HOLD_TLS") == "true" {
		pemBytes, err := os.ReadFile(os.Getenv("WSGATE_HOLD_CA"))
		if err != nil {
			t.Fatal(err)
		}
		roots = x509.NewCertPool()
		roots.AppendCertsFromPEM(pemBytes)
	}
	conns := make([]*wstest.Conn, 0, n)
	for len(conns) < n {
		var c *wstest.Conn
		var err error
		if roots != nil {
			c, _, err = dialWSS(addr, "/echo", roots)
		} else {
			c, err = wstest.Connect(addr, "/echo")
		}
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	for _, c := range conns {
		c.Close()
	}
}

// TestTLSEchoAllocatesNothing runs wss echo round trips with every
// allocation profiled and fails when wsgate's own code allocates per
// message (client and server are both in this process). The
// standard library's crypto/tls allocates a little on its own (a 24-byte
// atLeastReader per record it reads from the pipe, on both ends); those
// are logged, not counted.
func TestTLSEchoAllocatesNothing(t *testing.T) {
	if underRace {
		t.Skip("allocation counts are meaningless under -race")
	}
	certFile, keyFile := tlsFiles(t)
	roots := wstest.WriteTestCert(t, certFile, keyFile, 1)
	_, addr := startServer(t, withTLS(certFile, keyFile))
	c, _, err := dialWSS(addr, "/echo", roots)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nc := c.NC
	_ = nc.SetDeadline(time.Time{})
	for _, size := range []int{16, 1024, 16 << 10, 60 << 10} {
		payload := payloadOf(frame.OpBinary, size)
		out := frame.AppendMaskedFrame(nil, true, 0, frame.OpBinary, [4]byte{1, 2, 3, 4}, payload)
		in := make([]byte, frame.HeaderSize(size, false)+size)
		roundTrip := func() {
			if _, err := nc.Write(out); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(nc, in); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			roundTrip()
		}
		const runs = 100
		sites := allocSites(runs, roundTrip)
		// A per-message allocation shows at least once per round trip;
		// below half are pools refilling after the profile's collections.
		for site, n := range sites {
			per := float64(n) / runs
			switch {
			case per < 0.5:
			case strings.HasPrefix(site, "github.com/wsgate/"):
				t.Errorf("wss echo of %d bytes: %s allocates %.2f times per round trip", size, site, per)
			default:
				t.Logf("wss echo of %d bytes: %s (standard library) allocates %.2f times per round trip", size, site, per)
			}
		}
		if string(in[len(in)-size:]) != string(payload) {
			t.Fatalf("wss echo of %d bytes corrupted", size)
		}
	}
}

// allocSites runs fn runs times with every allocation profiled and returns
// the allocations made, by the first function outside the runtime on the
// allocating stack.
func allocSites(runs int, fn func()) map[string]int64 {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	snap := func() map[[32]uintptr]int64 {
		runtime.GC()
		runtime.GC() // the profile is published up to two cycles late
		recs := make([]runtime.MemProfileRecord, 1<<14)
		n, ok := runtime.MemProfile(recs, true)
		for !ok {
			recs = make([]runtime.MemProfileRecord, n+1024)
			n, ok = runtime.MemProfile(recs, true)
		}
		m := make(map[[32]uintptr]int64, n)
		for _, r := range recs[:n] {
			m[r.Stack0] += r.AllocObjects
		}
		return m
	}
	before := snap()
	for range runs {
		fn()
	}
	after := snap()
	sites := map[string]int64{}
	for stk, n := range after {
		if d := n - before[stk]; d > 0 {
			sites[allocSite(stk[:])] += d
		}
	}
	for site := range sites {
		if strings.Contains(site, "server_test.allocSites") {
			delete(sites, site) // the snapshots themselves
		}
	}
	return sites
}

func allocSite(stk []uintptr) string {
	frames := runtime.CallersFrames(stk)
	for {
		f, more := frames.Next()
		if f.Function != "" && !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, "internal/runtime/") {
			return f.Function
		}
		if !more {
			return "runtime"
		}
	}
}

// TestTLSRoomFanOut: 200 wss clients in one room; three of them publish
// 20 messages each (every fifth one 40 KiB, so records split and the flush
// encrypts in chunks) at the same time. Every member gets every message of
// the others in each publisher's order: a broadcast, framed once into a
// shared buffer, is encrypted per connection without loss.
func TestTLSRoomFanOut(t *testing.T) {
	certFile, keyFile := tlsFiles(t)
	roots := wstest.WriteTestCert(t, certFile, keyFile, 1)
	srv, addr := startServer(t, func(c *config.Config) {
		withTLS(certFile, keyFile)(c)
		c.PingInterval, c.IdleTimeout = 0, 0
	})
	const clients, publishers, perPub = 200, 3, 20
	conns := dialMany(t, addr, "/room/tls", roots, clients, 1)
	for _, c := range conns {
		// 96 MB of TLS records under the race detector on a busy 2-core
		// machine: reads wait on the data, however long it takes.
		c.Timeout = 3 * time.Minute
	}
	errs := make([]error, clients)
	var wg sync.WaitGroup
	waitOpen(t, srv, clients, 10*time.Second)
	msg := func(p, k int) []byte {
		b := fmt.Appendf(nil, "%d:%d:", p, k)
		if k%5 == 0 {
			b = append(b, payloadOf(frame.OpText, 40<<10)...)
		}
		return b
	}
	for i, c := range conns {
		wg.Go(func() {
			if i < publishers {
				for k := range perPub {
					if err := c.WriteMessage(frame.OpText, msg(i, k)); err != nil {
						errs[i] = err
						return
					}
				}
			}
			next := make([]int, publishers)
			want := publishers * perPub
			if i < publishers {
				want -= perPub // not its own
			}
			for range want {
				_, got, err := c.ReadMessage()
				if err != nil {
					errs[i] = fmt.Errorf("client %d: %v", i, err)
					return
				}
				var p, k int
				if _, err := fmt.Sscanf(string(got), "%d:%d:", &p, &k); err != nil || p == i || k != next[p] || string(got) != string(msg(p, k)) {
					errs[i] = fmt.Errorf("client %d: got message %d:%d (%d bytes), want %d:%d", i, p, k, len(got), p, next[p])
					return
				}
				next[p]++
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestTLSHandshakeMetrics: completed and failed TLS handshakes are counted
// in wsgate_tls_handshakes_total{result}; a client speaking plain HTTP to
// the wss listener is a failed handshake, and the server carries on.
func TestTLSHandshakeMetrics(t *testing.T) {
	certFile, keyFile := tlsFiles(t)
	roots := wstest.WriteTestCert(t, certFile, keyFile, 7)
	srv, addr := startServer(t, withTLS(certFile, keyFile))
	admin := "http://" + srv.AdminAddr().String()
	for i := 0; i < 3; i++ {
		c, _, err := dialWSS(addr, "/echo", roots)
		if err != nil {
			t.Fatal(err)
		}
		c.Bind(t).Echo(frame.OpText, []byte("counted"))
		c.Close()
	}
	plain := wstest.DialTCP(t, addr)
	plain.Write([]byte("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"))
	plain.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, plain) // the server hangs up
	var ok, failed float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		p := opsScrape(t, admin)
		ok = p.sum("wsgate_tls_handshakes_total", map[string]string{"result": "ok"})
		failed = p.sum("wsgate_tls_handshakes_total", map[string]string{"result": "failed"})
		if ok == 3 && failed == 1 {
			return
		}
	}
	t.Fatalf("wsgate_tls_handshakes_total ok=%v failed=%v, want 3 and 1", ok, failed)
}

// TestTLSHandshakeTimeoutReason: a client that opens TCP to the wss
// listener and starts a ClientHello it never finishes is closed at the
// handshake timeout and counted as a handshake timeout (not "peer gone").
func TestTLSHandshakeTimeoutReason(t *testing.T) {
	certFile, keyFile := tlsFiles(t)
	wstest.WriteTestCert(t, certFile, keyFile, 8)
	srv, addr := startServer(t, func(c *config.Config) {
		c.TLSCert, c.TLSKey = certFile, keyFile
		c.HandshakeTimeout = 300 * time.Millisecond
		c.Tick = 20 * time.Millisecond
	})
	admin := "http://" + srv.AdminAddr().String()
	nc := wstest.DialTCP(t, addr)
	nc.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x80, 0x01}) // a record header and one byte of a ClientHello
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, nc) // the server hangs up at the timeout
	var timeouts, closed float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		p := opsScrape(t, admin)
		timeouts = p.sum("wsgate_handshakes_total", map[string]string{"result": "timeout"})
		closed = p.sum("wsgate_connections_closed_total", map[string]string{"reason": "handshake_timeout"})
		if timeouts == 1 && closed == 1 {
			return
		}
	}
	t.Fatalf("handshakes_total{timeout}=%v closed_total{handshake_timeout}=%v, want 1 and 1", timeouts, closed)
}
