package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// client is a hand-rolled WebSocket client: the floor is tested with bytes
// written out in full, not with another implementation of the same code.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, s *server) *client {
	t.Helper()
	c, err := net.Dial("tcp", s.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	// The request arrives in two writes, so the server must carry the
	// first part over to the next read.
	req := "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for _, part := range []string{req[:30], req[30:]} {
		if _, err := io.WriteString(c, part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	br := bufio.NewReader(c)
	var head strings.Builder
	for !strings.HasSuffix(head.String(), "\r\n\r\n") {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the 101: %v (so far %q)", err, head.String())
		}
		head.WriteString(line)
	}
	if !strings.HasPrefix(head.String(), "HTTP/1.1 101 ") || !strings.Contains(head.String(), "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") {
		t.Fatalf("handshake answer: %q", head.String())
	}
	return &client{t: t, c: c, br: br}
}

// frame builds a masked client frame.
func frame(first byte, payload []byte) []byte {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = append(b, first, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, first, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, first, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i&3])
	}
	return b
}

// read returns the next server frame's first byte and payload.
func (c *client) read() (byte, []byte) {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatal(err)
	}
	if h[1]&0x80 != 0 {
		c.t.Fatal("server frame is masked")
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		_, _ = io.ReadFull(c.br, e[:])
		n = int(e[0])<<8 | int(e[1])
	case 127:
		var e [8]byte
		_, _ = io.ReadFull(c.br, e[:])
		n = 0
		for _, b := range e {
			n = n<<8 | int(b)
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatal(err)
	}
	return h[0], p
}

func testServer(t *testing.T, ring bool) *server {
	t.Helper()
	s, err := listen("127.0.0.1:0", 2, ring)
	if errors.Is(err, errRing) {
		t.Skipf("this kernel refuses io_uring: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

func TestEcho(t *testing.T) {
	for _, mode := range []struct {
		name string
		ring bool
	}{{"syscall", false}, {"ring", true}} {
		t.Run(mode.name, func(t *testing.T) {
			s := testServer(t, mode.ring)
			var clients []*client
			for range 8 {
				clients = append(clients, dial(t, s))
			}
			for round := range 50 {
				for i, c := range clients {
					size := []int{1, 64, 125, 126, 1024, 65535, 65536}[(round+i)%7]
					msg := bytes.Repeat([]byte{byte('a' + i), byte(round)}, size/2+1)[:size]
					if _, err := c.c.Write(frame(0x82, msg)); err != nil {
						t.Fatal(err)
					}
					first, got := c.read()
					if first != 0x82 || !bytes.Equal(got, msg) {
						t.Fatalf("round %d client %d: echo of %d bytes came back as %#x with %d bytes", round, i, size, first, len(got))
					}
				}
			}
			// A frame split across writes, two frames in one write, a
			// ping, then a close.
			c := clients[0]
			f := frame(0x81, []byte("split across two writes"))
			_, _ = c.c.Write(f[:5])
			time.Sleep(10 * time.Millisecond)
			_, _ = c.c.Write(append(f[5:], frame(0x89, []byte("ping?"))...))
			if first, got := c.read(); first != 0x81 || string(got) != "split across two writes" {
				t.Fatalf("split frame: %#x %q", first, got)
			}
			if first, got := c.read(); first != 0x8A || string(got) != "ping?" {
				t.Fatalf("ping answered with %#x %q", first, got)
			}
			_, _ = c.c.Write(frame(0x88, []byte{0x03, 0xe8}))
			if first, got := c.read(); first != 0x88 || !bytes.Equal(got, []byte{0x03, 0xe8}) {
				t.Fatalf("close answered with %#x %v", first, got)
			}
			if _, err := c.br.ReadByte(); err != io.EOF {
				t.Fatalf("after the close: %v, want end of stream", err)
			}
			// The others carry on.
			for i, c := range clients[1:] {
				if _, err := c.c.Write(frame(0x82, []byte("still here"))); err != nil {
					t.Fatal(err)
				}
				if _, got := c.read(); string(got) != "still here" {
					t.Fatalf("client %d after another closed: %q", i+1, got)
				}
			}
		})
	}
}

// An unmasked client frame is refused by closing the socket.
func TestUnmaskedFrameCloses(t *testing.T) {
	s := testServer(t, false)
	c := dial(t, s)
	if _, err := c.c.Write([]byte{0x82, 0x02, 'h', 'i'}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Fatalf("after an unmasked frame: %v, want end of stream", err)
	}
}
