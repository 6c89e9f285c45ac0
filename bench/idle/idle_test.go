package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

const goodResponse = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

// fakeServer accepts connections on 127.0.0.1 and runs serve on each.
func fakeServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// wsServe answers the upgrade with resp, then unmasks one client frame and
// sends back its payload in a frame whose first byte is op.
func wsServe(resp string, op byte) func(c net.Conn) {
	return func(c net.Conn) {
		var buf [1024]byte
		if _, _, err := readHead(c, buf[:]); err != nil {
			return
		}
		if _, err := io.WriteString(c, resp); err != nil {
			return
		}
		var hdr [6]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		p := make([]byte, hdr[1]&0x7f)
		if _, err := io.ReadFull(c, p); err != nil {
			return
		}
		for i := range p {
			p[i] ^= hdr[2+i%4]
		}
		_, _ = c.Write(append([]byte{op, byte(len(p))}, p...))
		_, _ = c.Read(buf[:]) // hold until the client hangs up
	}
}

func dialTest(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestWSExchange(t *testing.T) {
	cases := []struct {
		name    string
		resp    string
		op      byte
		echo    bool
		wantErr error
	}{
		{"echo", goodResponse, 0x81, true, nil},
		{"handshake only", goodResponse, 0x81, false, nil},
		{"wrong accept key", strings.Replace(goodResponse, "s3pP", "AAAA", 1), 0x81, true, errBadHandshake},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0x81, true, errBadHandshake},
		{"binary echo", goodResponse, 0x82, true, errBadEcho},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, wsServe(tc.resp, tc.op))
			err := wsExchange(addr, "/echo", tc.echo)(dialTest(t, addr))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestWSExchangeNoEchoServer(t *testing.T) {
	// A server that upgrades and then never answers a frame: the exchange
	// must fail at the deadline, not hang.
	addr := fakeServer(t, func(c net.Conn) {
		var buf [1024]byte
		if _, _, err := readHead(c, buf[:]); err == nil {
			_, _ = io.WriteString(c, goodResponse)
			_, _ = io.Copy(io.Discard, c)
		}
	})
	c := dialTest(t, addr)
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if err := wsExchange(addr, "/echo", true)(c); err == nil {
		t.Fatal("exchange with a server that does not echo succeeded")
	}
}

func TestWSEchoEarlyBytes(t *testing.T) {
	// The echo arrived in the same read as the 101: wsEcho gets its first
	// bytes as early and must read only the rest.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		var f [10]byte
		_, _ = io.ReadFull(b, f[:])
		_, _ = b.Write([]byte("dle"))
	}()
	if err := wsEcho(a, []byte{0x81, 4, 'i'}); err != nil {
		t.Fatal(err)
	}
}

func TestTCPExchange(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
	if err := tcpExchange(dialTest(t, addr)); err != nil {
		t.Fatal(err)
	}
	bad := fakeServer(t, func(c net.Conn) {
		var p [4]byte
		_, _ = io.ReadFull(c, p[:])
		_, _ = c.Write([]byte("nope"))
	})
	if err := tcpExchange(dialTest(t, bad)); !errors.Is(err, errBadEcho) {
		t.Fatalf("err = %v, want errBadEcho", err)
	}
}

func TestDialAllSpreadsAndHolds(t *testing.T) {
	var mu sync.Mutex
	var server []net.Conn
	addr := fakeServer(t, func(c net.Conn) {
		var p [4]byte
		if _, err := io.ReadFull(c, p[:]); err != nil {
			return
		}
		_, _ = c.Write(p[:])
		mu.Lock()
		server = append(server, c)
		mu.Unlock()
		_, _ = c.Read(p[:]) // hold until the client hangs up
	})
	conns, err := dialAll(dialPlan{addr: addr, n: 30, sources: 3, workers: 4, timeout: 5 * time.Second, ex: tcpExchange})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(conns)
	seen := map[string]int{}
	for _, c := range conns {
		seen[c.LocalAddr().(*net.TCPAddr).IP.String()]++
	}
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		if seen[ip] != 10 {
			t.Fatalf("connections per source address = %v, want 10 from each of 127.0.0.2-4", seen)
		}
	}
	if err := stillOpen(conns); err != nil {
		t.Fatalf("stillOpen on idle connections: %v", err)
	}
	mu.Lock()
	_, _ = server[0].Write([]byte("x"))
	server[1].Close()
	mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	err = stillOpen(conns)
	if err == nil || !strings.Contains(err.Error(), "closed 1 and sent unexpected bytes on 1") {
		t.Fatalf("stillOpen after one close and one stray byte = %v", err)
	}
}

func TestDialAllFails(t *testing.T) {
	addr := fakeServer(t, func(c net.Conn) {}) // hangs up at once
	conns, err := dialAll(dialPlan{addr: addr, n: 20, sources: 2, workers: 4, timeout: 5 * time.Second, ex: tcpExchange})
	if err == nil || conns != nil {
		t.Fatalf("dialAll against a server that hangs up: conns %d, err %v", len(conns), err)
	}
}

func TestSourceIP(t *testing.T) {
	if got := sourceIP(0, 4).String(); got != "127.0.0.2" {
		t.Fatalf("sourceIP(0, 4) = %s", got)
	}
	if got := sourceIP(7, 4).String(); got != "127.0.0.5" {
		t.Fatalf("sourceIP(7, 4) = %s", got)
	}
}

func TestSizeClass(t *testing.T) {
	for n, want := range map[int64]int64{1: 8, 8: 8, 88: 96, 192: 192, 193: 208, 200: 208, 2048: 2048, 5000: 5000} {
		if got := sizeClass(n); got != want {
			t.Errorf("sizeClass(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestSummarize(t *testing.T) {
	r := &report{Runs: []runResult{
		{Server: kindFloor, RSSPerConn: 500, AnonPerConn: 400, HeapPerConn: 300, MarginalPerConn: 400},
		{Server: kindWSGate, RSSPerConn: 700, AnonPerConn: 600, HeapPerConn: 290, MarginalPerConn: 600},
		{Server: kindFloor, RSSPerConn: 520, AnonPerConn: 420, HeapPerConn: 310},
		{Server: kindWSGate, RSSPerConn: 730, AnonPerConn: 620, HeapPerConn: 320},
	}, Rounds: 2}
	r.summarize()
	if r.FloorRSS != 510 || r.WSGateRSS != 715 || r.FloorHeap != 305 {
		t.Fatalf("means: floor %v wsgate %v heap %v", r.FloorRSS, r.WSGateRSS, r.FloorHeap)
	}
	if r.FloorMarginal != 200 || r.WSGateMarginal != 300 || r.RatioMarginal != 1.5 {
		t.Fatalf("marginal: floor %v wsgate %v ratio %v", r.FloorMarginal, r.WSGateMarginal, r.RatioMarginal)
	}
	if r.RatioRSS < 1.4019 || r.RatioRSS > 1.402 || r.RatioAnon != 610.0/410.0 {
		t.Fatalf("ratios: rss %v anon %v", r.RatioRSS, r.RatioAnon)
	}
	if r.WSGateHeap != 305 || r.RatioHeap != 1 {
		t.Fatalf("heap: wsgate %v ratio %v", r.WSGateHeap, r.RatioHeap)
	}
	var out bytes.Buffer
	writeReport(&out, r)
	if !strings.Contains(out.String(), "ratio wsgate/floor: 1.40x RSS") || !strings.Contains(out.String(), "1.00x heap in use") {
		t.Fatalf("report lacks the ratio:\n%s", out.String())
	}
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both servers and runs them")
	}
	o, err := parseFlags([]string{"-conns", "200", "-rounds", "1", "-samples", "2", "-interval", "100ms",
		"-settle", "100ms", "-idle", "200ms", "-wsgate-flags", "-pollers 2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := measureAll(o, io.Discard)
	if err != nil && strings.Contains(err.Error(), "go build ./cmd/wsgate") {
		// The harness's subject is measuring; a server that does not
		// build right now is for the server's own tests to report.
		t.Skipf("cmd/wsgate does not build: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2 || rep.Runs[0].Server != kindFloor || rep.Runs[1].Server != kindWSGate {
		t.Fatalf("runs = %+v, want floor then wsgate", rep.Runs)
	}
	for _, x := range rep.Runs {
		if x.Before.RSS <= 0 || x.Half.RSS <= 0 || x.After.RSS <= 0 || len(x.Samples) != 2 {
			t.Fatalf("%s: implausible samples %+v", x.Server, x)
		}
	}
	for _, x := range rep.Runs {
		if x.HeapBefore == nil || x.HeapAfter == nil || x.HeapAfter.Conns != 200 || x.HeapAfter.HeapInuse == 0 {
			t.Fatalf("%s heap figures missing: %+v, %+v", x.Server, x.HeapBefore, x.HeapAfter)
		}
	}
	if rep.StructsErr != nil || len(rep.Structs) == 0 || rep.Structs[0].Name != perConnStructs[0] || rep.Structs[0].Size == 0 {
		t.Fatalf("struct sizes: %+v, %v", rep.Structs, rep.StructsErr)
	}
	if !strings.HasPrefix(rep.Echo, "on") && !strings.HasPrefix(rep.Echo, "NOT WORKING") {
		t.Fatalf("echo state %q", rep.Echo)
	}
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{{"-conns", "0"}, {"-conns", "30000"}, {"-sources", "0"}, {"-rounds", "0"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.conns != 10000 || o.rounds != 2 || !o.echo || len(o.extra) != 0 {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	o, err = parseFlags([]string{"-wsgate-flags", " -metrics=false  -workers 1 "}, io.Discard)
	if err != nil || strings.Join(o.extra, "|") != "-metrics=false|-workers|1" {
		t.Fatalf("-wsgate-flags: %q, %v", o.extra, err)
	}
}

func TestWarmUpDetectsBrokenEcho(t *testing.T) {
	// The server upgrades but answers the text frame with a binary one:
	// the first warm-up finds echo broken, reports why, and the run goes
	// on with handshakes only.
	addr := fakeServer(t, wsServe(goodResponse, 0x82))
	p := &proc{kind: kindWSGate, addr: addr, stderr: &tailBuffer{max: 100}}
	o, err := parseFlags([]string{"-sources", "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	echo := echoState{want: true}
	ex, err := warmUp(p, o, &echo)
	if err != nil {
		t.Fatal(err)
	}
	if !echo.checked || echo.works || !strings.Contains(echo.reason, "echo") {
		t.Fatalf("echo state after a broken echo: %+v", echo)
	}
	if !strings.HasPrefix(echo.describe(), "NOT WORKING") {
		t.Fatalf("describe = %q", echo.describe())
	}
	if err := ex(dialTest(t, addr)); err != nil {
		t.Fatalf("the exchange chosen after a broken echo fails: %v", err)
	}
	// Later rounds keep the verdict and do not retry echo.
	if _, err := warmUp(p, o, &echo); err != nil || echo.works {
		t.Fatalf("second warm-up: %v, %+v", err, echo)
	}

	good := fakeServer(t, wsServe(goodResponse, 0x81))
	p.addr = good
	echo = echoState{want: true}
	if _, err := warmUp(p, o, &echo); err != nil || !echo.works {
		t.Fatalf("warm-up against a working echo: %v, %+v", err, echo)
	}
}
