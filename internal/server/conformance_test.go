package server_test

// Conformance tests over real sockets, in the spirit of the Autobahn
// testsuite (case categories 1-7 and 9), run against the /echo endpoint of
// an in-process server. Each top-level test starts its own server; the
// clients are internal/wstest connections driven from the test goroutine.
// Test names carry the Autobahn category ("1_framing", "2_ping", ...).

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
	"github.com/wsgate/wsgate/internal/wstest"
)

// startServer starts a server on a free loopback port with the default
// configuration changed by mod (may be nil) and stops it when the test
// ends. It returns the server and its host:port.
func startServer(tb testing.TB, mod func(*config.Config)) (*server.Server, string) {
	tb.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin = "127.0.0.1:0"
	cfg.Anonymous, cfg.NoLimits = true, true // core tests: no token, no rate limits
	if mod != nil {
		mod(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv, srv.Addr().String()
}

// bigMessages raises the message limit to 16 MiB.
func bigMessages(c *config.Config) { c.MaxMessage = 16 << 20 }

// payloadOf returns n bytes suitable for op: printable ASCII for text, all
// byte values for binary.
func payloadOf(op frame.Opcode, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		if op == frame.OpText {
			p[i] = 'a' + byte(i%26)
		} else {
			p[i] = byte(i*7 + i>>8)
		}
	}
	return p
}

// writeAsync writes b in chunks of at most chunk bytes on another
// goroutine, so the test goroutine can read the echo while a large write is
// still in progress. Wait for the result with waitWrite.
func writeAsync(c *wstest.Conn, b []byte, chunk int) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- c.WriteChunked(b, chunk, 0) }()
	return ch
}

func waitWrite(tb testing.TB, ch <-chan error) {
	tb.Helper()
	if err := <-ch; err != nil {
		tb.Fatalf("write: %v", err)
	}
}

// writeSplit writes b so the server sees every header byte on its own,
// then the payload in chunks of chunk bytes.
func writeSplit(tb testing.TB, c *wstest.Conn, b []byte, chunk int) {
	tb.Helper()
	head := min(len(b), 14)
	if err := c.WriteChunked(b[:head], 1, 0); err != nil {
		tb.Fatal(err)
	}
	if err := c.WriteChunked(b[head:], chunk, 0); err != nil {
		tb.Fatal(err)
	}
}

// Category 1: framing. Text and binary messages of boundary lengths, in one
// write and split across many writes.
func TestConformanceFraming(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, bigMessages)
	few := 3 << 20 // "a few MB"
	if underRace {
		few = 1 << 20
	}
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536, few}
	for _, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
		for _, n := range sizes {
			payload := payloadOf(op, n)
			wire := wstest.AppendFrame(nil, true, 0, op, payload, true)
			t.Run(fmt.Sprintf("1_framing/%v/len=%d/one_write", op, n), func(t *testing.T) {
				t.Parallel()
				c := wstest.Dial(t, addr, "/echo")
				c.Timeout = 20 * time.Second
				done := writeAsync(c, wire, len(wire))
				c.ExpectMessage(op, payload)
				waitWrite(t, done)
			})
			t.Run(fmt.Sprintf("1_framing/%v/len=%d/chunked", op, n), func(t *testing.T) {
				t.Parallel()
				c := wstest.Dial(t, addr, "/echo")
				c.Timeout = 20 * time.Second
				chunk := 1
				if n > 128 {
					chunk = 4093
				}
				writeSplit(t, c, wire, chunk)
				c.ExpectMessage(op, payload)
			})
		}
	}
	t.Run("1_framing/many_frames_one_write", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		var wire []byte
		for _, n := range sizes[:7] {
			wire = wstest.AppendFrame(wire, true, 0, frame.OpBinary, payloadOf(frame.OpBinary, n), true)
		}
		c.SendRaw(wire)
		for _, n := range sizes[:7] {
			c.ExpectMessage(frame.OpBinary, payloadOf(frame.OpBinary, n))
		}
	})
	t.Run("1_framing/unmasked_client_frame", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		if err := c.WriteFrame(true, 0, frame.OpText, []byte("hello"), false); err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(frame.CloseProtocolError)
	})
	t.Run("1_framing/length_top_bit", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		// 64-bit length with the most significant bit set (RFC 6455 5.2).
		c.SendRaw([]byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4})
		c.ExpectClose(frame.CloseProtocolError)
	})
}

// Category 2: pings and pongs.
func TestConformancePing(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, nil)
	t.Run("2_ping/payload_0_to_125", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		for n := 0; n <= frame.MaxControlPayload; n++ {
			p := payloadOf(frame.OpBinary, n)
			c.Send(true, 0, frame.OpPing, p)
			c.ExpectFrame(frame.OpPong, p)
		}
		c.Echo(frame.OpText, []byte("still open"))
	})
	t.Run("2_ping/125_bytes_one_byte_writes", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		p := payloadOf(frame.OpBinary, 125)
		if err := c.WriteChunked(wstest.AppendFrame(nil, true, 0, frame.OpPing, p, true), 1, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		c.ExpectFrame(frame.OpPong, p)
	})
	t.Run("2_ping/126_bytes", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(true, 0, frame.OpPing, payloadOf(frame.OpBinary, 126))
		c.ExpectClose(frame.CloseProtocolError)
	})
	t.Run("2_ping/unsolicited_pong_ignored", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(true, 0, frame.OpPong, nil)
		c.Send(true, 0, frame.OpPong, []byte("unsolicited"))
		c.Send(true, 0, frame.OpPing, []byte("solicited"))
		c.ExpectFrame(frame.OpPong, []byte("solicited"))
		c.Echo(frame.OpText, []byte("after pongs"))
	})
	t.Run("2_ping/ten_in_a_row", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		var wire []byte
		for i := range 10 {
			wire = wstest.AppendFrame(wire, true, 0, frame.OpPing, fmt.Appendf(nil, "ping %d", i), true)
		}
		c.SendRaw(wire)
		for i := range 10 {
			c.ExpectFrame(frame.OpPong, fmt.Appendf(nil, "ping %d", i))
		}
	})
	t.Run("2_ping/ten_in_a_row_one_byte_writes", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		var wire []byte
		for i := range 10 {
			wire = wstest.AppendFrame(wire, true, 0, frame.OpPing, fmt.Appendf(nil, "ping %d", i), true)
		}
		if err := c.WriteChunked(wire, 1, 0); err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			c.ExpectFrame(frame.OpPong, fmt.Appendf(nil, "ping %d", i))
		}
	})
	t.Run("2_ping/during_fragmented_message", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(false, 0, frame.OpText, []byte("frag1 "))
		c.Send(true, 0, frame.OpPing, []byte("mid-message"))
		c.ExpectFrame(frame.OpPong, []byte("mid-message"))
		c.Send(true, 0, frame.OpContinuation, []byte("frag2"))
		c.ExpectMessage(frame.OpText, []byte("frag1 frag2"))
	})
}

// Category 3: reserved bits without a negotiated extension fail the
// connection with 1002; a valid message sent before the bad frame is echoed
// first, and nothing after it is answered.
func TestConformanceReservedBits(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, nil)
	ops := []frame.Opcode{frame.OpText, frame.OpBinary, frame.OpPing, frame.OpPong, frame.OpClose}
	for _, op := range ops {
		for rsv := byte(1); rsv <= 7; rsv++ {
			payload := []byte("reserved")
			if op == frame.OpClose {
				payload = []byte{0x03, 0xe8}
			}
			t.Run(fmt.Sprintf("3_rsv/%v/rsv=%d", op, rsv), func(t *testing.T) {
				t.Parallel()
				c := wstest.Dial(t, addr, "/echo")
				c.Send(true, rsv<<4, op, payload)
				c.ExpectClose(frame.CloseProtocolError)
			})
			t.Run(fmt.Sprintf("3_rsv/%v/rsv=%d/after_valid_then_ping", op, rsv), func(t *testing.T) {
				t.Parallel()
				c := wstest.Dial(t, addr, "/echo")
				wire := wstest.AppendFrame(nil, true, 0, frame.OpText, []byte("valid"), true)
				wire = wstest.AppendFrame(wire, true, rsv<<4, op, payload, true)
				wire = wstest.AppendFrame(wire, true, 0, frame.OpPing, []byte("unanswered"), true)
				c.SendRaw(wire)
				c.ExpectMessage(frame.OpText, []byte("valid"))
				c.ExpectClose(frame.CloseProtocolError)
			})
		}
	}
	t.Run("3_rsv/text/rsv=4/one_byte_writes", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		wire := wstest.AppendFrame(nil, true, 0, frame.OpText, []byte("valid"), true)
		wire = wstest.AppendFrame(wire, true, frame.RSV1, frame.OpText, []byte("reserved"), true)
		// The server may fail the connection before the last byte.
		_ = c.WriteChunked(wire, 1, 0)
		c.ExpectMessage(frame.OpText, []byte("valid"))
		c.ExpectClose(frame.CloseProtocolError)
	})
	t.Run("3_rsv/continuation_with_rsv", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(false, 0, frame.OpText, []byte("a"))
		c.Send(true, frame.RSV2, frame.OpContinuation, []byte("b"))
		c.ExpectClose(frame.CloseProtocolError)
	})
}

// Category 4: reserved opcodes fail the connection with 1002.
func TestConformanceOpcodes(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, nil)
	reserved := []frame.Opcode{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}
	for _, op := range reserved {
		t.Run(fmt.Sprintf("4_opcode/%#x/empty", byte(op)), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.Send(true, 0, op, nil)
			c.ExpectClose(frame.CloseProtocolError)
		})
		t.Run(fmt.Sprintf("4_opcode/%#x/after_valid_then_ping", byte(op)), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			wire := wstest.AppendFrame(nil, true, 0, frame.OpBinary, []byte("valid"), true)
			wire = wstest.AppendFrame(wire, true, 0, op, []byte("reserved opcode"), true)
			wire = wstest.AppendFrame(wire, true, 0, frame.OpPing, nil, true)
			c.SendRaw(wire)
			c.ExpectMessage(frame.OpBinary, []byte("valid"))
			c.ExpectClose(frame.CloseProtocolError)
		})
	}
}

// waitOpen polls srv until its open connection count is want, failing tb
// after d.
func waitOpen(tb testing.TB, srv *server.Server, want int64, d time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		got := srv.Stats().Open
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("server has %d open connections after %v, want %d", got, d, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawRoundTrip writes req on a fresh TCP connection and reads the HTTP
// response and its body.
func rawRoundTrip(tb testing.TB, addr string, req []byte) (*http.Response, string) {
	tb.Helper()
	c := wstest.NewConn(wstest.DialTCP(tb, addr)).Bind(tb)
	c.SendRaw(req)
	return readResponse(tb, c)
}

func readResponse(tb testing.TB, c *wstest.Conn) (*http.Response, string) {
	tb.Helper()
	resp, body, err := c.ReadHTTPResponse()
	if err != nil {
		tb.Fatalf("reading response: %v", err)
	}
	return resp, body
}
