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

	"github.com/wsgate/wsgate/frame"
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
		if n := testing.AllocsPerRun(200, roundTrip); n != 0 {
			t.Errorf("echo of %d bytes: %.2f allocations per round trip, want 0", size, n)
		}
		if string(in[len(in)-size:]) != string(payload) {
			t.Fatalf("echo of %d bytes corrupted", size)
		}
	}
}
