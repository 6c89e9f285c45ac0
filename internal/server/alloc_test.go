package server

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/config"
)

// rawUpgrade dials addr and completes a handshake by hand, returning the
// raw connection ready for frames.
func rawUpgrade(t testing.TB, addr, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if br.Buffered() != 0 {
		t.Fatal("unexpected bytes after the 101 response")
	}
	return c
}

func startTestServer(t testing.TB, mod func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin = "127.0.0.1:0"
	cfg.Anonymous, cfg.NoLimits = true, true // core tests: no token, no rate limits
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestEchoAllocatesNothing runs whole echo round trips over a real socket
// and counts every allocation in the process (client and server): in
// steady state there are none.
func TestEchoAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	s := startTestServer(t, nil)
	c := rawUpgrade(t, s.Addr().String(), "/echo")
	defer c.Close()
	for _, size := range []int{16, 1024, 16 << 10} {
		if n := echoAllocs(t, c, size); n != 0 {
			t.Errorf("echo of %d bytes: %.2f allocations per round trip, want 0", size, n)
		}
	}
}

// echoAllocs echoes a text message of size bytes over the upgraded c once
// to warm up, then returns the allocations per round trip (client and
// server) over 200 more; a corrupted echo fails the test.
func echoAllocs(t *testing.T, c net.Conn, size int) float64 {
	t.Helper()
	payload := []byte(strings.Repeat("x", size))
	out := frame.AppendMaskedFrame(nil, true, 0, frame.OpText, [4]byte{1, 2, 3, 4}, payload)
	in := make([]byte, frame.HeaderSize(size, false)+size)
	roundTrip := func() {
		if _, err := c.Write(out); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip()
	c.SetDeadline(time.Time{})
	n := testing.AllocsPerRun(200, roundTrip)
	if string(in[len(in)-size:]) != string(payload) {
		t.Fatalf("echo of %d bytes corrupted", size)
	}
	return n
}

// TestCompressedEchoAllocatesNothing is TestEchoAllocatesNothing with
// permessage-deflate negotiated: a compressed message is inflated and its
// echo deflated with pooled codecs, and in steady state that allocates
// nothing either (the client side here uses pooled codecs too).
func TestCompressedEchoAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	s := startTestServer(t, nil)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	io.WriteString(c, "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReaderSize(c, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Fatal("permessage-deflate not negotiated")
	}
	payload := []byte(strings.Repeat(`{"type":"update","value":12345,"label":"ünïcødé"},`, 40))
	z := deflate.Compress(nil, payload, 1, 15)
	out := frame.AppendMaskedFrame(nil, true, frame.RSV1, frame.OpText, [4]byte{9, 8, 7, 6}, z)
	var hdr [10]byte
	in := make([]byte, 0, 64<<10)
	var inflated []byte
	roundTrip := func() {
		if _, err := c.Write(out); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			t.Fatal(err)
		}
		if hdr[0] != 0x80|frame.RSV1|byte(frame.OpText) || hdr[1] >= 126 {
			t.Fatalf("unexpected echo header %x", hdr[:2])
		}
		in = in[:hdr[1]]
		if _, err := io.ReadFull(br, in); err != nil {
			t.Fatal(err)
		}
		if inflated, err = deflate.Decompress(inflated[:0], in, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip()
	if string(inflated) != string(payload) {
		t.Fatal("compressed echo corrupted")
	}
	if n := testing.AllocsPerRun(200, roundTrip); n != 0 {
		t.Errorf("compressed echo: %.2f allocations per round trip, want 0", n)
	}
}

// TestRateLimitedEchoAllocatesNothing is the echo round trip with the
// per-connection and per-user rate limits on (rates high enough never to
// refuse): checking two token buckets and the user's shared bucket per
// message allocates nothing.
func TestRateLimitedEchoAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	s := startTestServer(t, func(c *config.Config) {
		c.NoLimits, c.DevMode = false, true // dev: the user id comes from ?user=
		c.RateMsgs, c.RateMsgsBurst = 1e6, 1e6
		c.UserRateMsgs, c.UserRateMsgsBurst = 1e6, 1e6
		c.RateBytes, c.RateBytesBurst = 1<<30, 1<<30
		c.UserRateBytes, c.UserRateBytesBurst = 1<<30, 1<<30
	})
	c := rawUpgrade(t, s.Addr().String(), "/echo?user=alice")
	defer c.Close()
	if n := echoAllocs(t, c, 512); n != 0 {
		t.Errorf("rate-limited echo: %.2f allocations per round trip, want 0", n)
	}
	if st := s.Stats(); st.Users != 1 {
		t.Errorf("users = %d, want 1 (alice)", st.Users)
	}
}

// TestConnSize keeps the per-connection struct in the 112-byte size class:
// idle memory per connection is a tracked target (bench/idle), and one
// more field would move every connection to the 128-byte class.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 112 {
		t.Errorf("server.conn is %d bytes, want at most 112 (see bench/idle's struct layout)", n)
	}
}

// TestTagPacking: the endpoint kind and the deflate window bits share
// poller.Conn's Tag byte without disturbing each other.
func TestTagPacking(t *testing.T) {
	var c conn
	for _, k := range []endpointKind{1, 2, 7, maxEndpoints} {
		for _, bits := range []int{0, 8, 9, 12, 15} {
			c.setEndpoint(k)
			c.setDfl(bits)
			if c.endpoint() != k || int(c.dflBits()) != bits {
				t.Fatalf("set %d/%d, got %d/%d", k, bits, c.endpoint(), c.dflBits())
			}
			c.setEndpoint(k)
			if int(c.dflBits()) != bits {
				t.Fatalf("setEndpoint(%d) changed the window bits %d to %d", k, bits, c.dflBits())
			}
		}
	}
	c.storeState(stateOpen)
	c.gate.Or(gatePinged)
	c.setReason(reasonIdle)
	if !c.casState(stateOpen, stateClosing) || c.loadState() != stateClosing ||
		c.closeReason() != reasonIdle || c.gate.Load()&gatePinged == 0 {
		t.Fatal("state transitions disturbed the other gate bits")
	}
	if c.casState(stateOpen, stateClosed) || c.swapState(stateClosed) != stateClosing {
		t.Fatal("casState from a wrong state succeeded, or swapState lost the previous state")
	}
}
