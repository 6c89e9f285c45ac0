package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// appendFragments appends msg as n fragments of (nearly) equal size, the
// first with op, the rest continuations, the last final.
func appendFragments(dst []byte, op frame.Opcode, msg []byte, n int) []byte {
	size := (len(msg) + n - 1) / n
	for i := range n {
		lo := min(i*size, len(msg))
		hi := min(lo+size, len(msg))
		fop := frame.OpContinuation
		if i == 0 {
			fop = op
		}
		dst = wstest.AppendFrame(dst, i == n-1, 0, fop, msg[lo:hi], true)
	}
	return dst
}

// Category 5: fragmentation.
func TestConformanceFragmentation(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, nil)
	for _, op := range []frame.Opcode{frame.OpPing, frame.OpPong, frame.OpClose} {
		t.Run(fmt.Sprintf("5_frag/%v_fin=0", op), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			payload := []byte("fragmented control")
			if op == frame.OpClose {
				payload = []byte{0x03, 0xe8}
			}
			c.Send(false, 0, op, payload)
			c.TrySend(true, 0, frame.OpContinuation, []byte("rest"))
			c.ExpectClose(frame.CloseProtocolError)
		})
	}
	msg := []byte("Hello, fragmented world: κόσμε €𝄞")
	for _, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
		for _, n := range []int{2, 3, 10, len(msg)} {
			t.Run(fmt.Sprintf("5_frag/%v/%d_fragments/one_write", op, n), func(t *testing.T) {
				t.Parallel()
				c := wstest.Dial(t, addr, "/echo")
				c.SendRaw(appendFragments(nil, op, msg, n))
				c.ExpectMessage(op, msg)
			})
			t.Run(fmt.Sprintf("5_frag/%v/%d_fragments/one_byte_writes", op, n), func(t *testing.T) {
				t.Parallel()
				c := wstest.Dial(t, addr, "/echo")
				if err := c.WriteChunked(appendFragments(nil, op, msg, n), 1, 0); err != nil {
					t.Fatal(err)
				}
				c.ExpectMessage(op, msg)
			})
			t.Run(fmt.Sprintf("5_frag/%v/%d_fragments/frame_per_write", op, n), func(t *testing.T) {
				t.Parallel()
				c := wstest.Dial(t, addr, "/echo")
				wire := appendFragments(nil, op, msg, n)
				for len(wire) > 0 {
					size := frameSize(wire)
					c.SendRaw(wire[:size])
					wire = wire[size:]
					time.Sleep(time.Millisecond)
				}
				c.ExpectMessage(op, msg)
			})
		}
	}
	t.Run("5_frag/empty_fragments", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(false, 0, frame.OpText, nil)
		c.Send(false, 0, frame.OpContinuation, []byte("middle"))
		c.Send(false, 0, frame.OpContinuation, nil)
		c.Send(true, 0, frame.OpContinuation, nil)
		c.ExpectMessage(frame.OpText, []byte("middle"))
		c.Send(false, 0, frame.OpBinary, nil)
		c.Send(true, 0, frame.OpContinuation, nil)
		c.ExpectMessage(frame.OpBinary, []byte{})
	})
	t.Run("5_frag/pings_between_fragments", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(false, 0, frame.OpText, []byte("fragment1 "))
		c.Send(true, 0, frame.OpPing, []byte("ping1"))
		c.ExpectFrame(frame.OpPong, []byte("ping1"))
		c.Send(false, 0, frame.OpContinuation, []byte("fragment2 "))
		c.Send(true, 0, frame.OpPong, []byte("unsolicited"))
		c.Send(false, 0, frame.OpContinuation, []byte("fragment3 "))
		c.Send(true, 0, frame.OpPing, []byte("ping2"))
		c.ExpectFrame(frame.OpPong, []byte("ping2"))
		c.Send(true, 0, frame.OpContinuation, []byte("fragment4"))
		c.ExpectMessage(frame.OpText, []byte("fragment1 fragment2 fragment3 fragment4"))
	})
	t.Run("5_frag/pings_between_fragments/one_byte_writes", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		wire := wstest.AppendFrame(nil, false, 0, frame.OpText, []byte("fragment1 "), true)
		wire = wstest.AppendFrame(wire, true, 0, frame.OpPing, []byte("ping1"), true)
		wire = wstest.AppendFrame(wire, false, 0, frame.OpContinuation, []byte("fragment2 "), true)
		wire = wstest.AppendFrame(wire, true, 0, frame.OpPing, []byte("ping2"), true)
		wire = wstest.AppendFrame(wire, true, 0, frame.OpContinuation, []byte("fragment3"), true)
		if err := c.WriteChunked(wire, 1, 0); err != nil {
			t.Fatal(err)
		}
		c.ExpectFrame(frame.OpPong, []byte("ping1"))
		c.ExpectFrame(frame.OpPong, []byte("ping2"))
		c.ExpectMessage(frame.OpText, []byte("fragment1 fragment2 fragment3"))
	})
	for _, fin := range []bool{true, false} {
		t.Run(fmt.Sprintf("5_frag/continuation_without_start/fin=%v", fin), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.Send(fin, 0, frame.OpContinuation, []byte("nothing to continue"))
			c.TrySend(true, 0, frame.OpText, []byte("not echoed"))
			c.ExpectClose(frame.CloseProtocolError)
		})
		t.Run(fmt.Sprintf("5_frag/continuation_after_complete_message/fin=%v", fin), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			wire := appendFragments(nil, frame.OpText, []byte("complete message"), 2)
			wire = wstest.AppendFrame(wire, fin, 0, frame.OpContinuation, []byte("stray"), true)
			wire = wstest.AppendFrame(wire, true, 0, frame.OpText, []byte("not echoed"), true)
			c.SendRaw(wire)
			c.ExpectMessage(frame.OpText, []byte("complete message"))
			c.ExpectClose(frame.CloseProtocolError)
		})
	}
	for _, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
		t.Run(fmt.Sprintf("5_frag/new_%v_mid_message", op), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.Send(false, 0, frame.OpText, []byte("first fragment"))
			c.Send(true, 0, op, []byte("new message"))
			c.ExpectClose(frame.CloseProtocolError)
		})
	}
	t.Run("5_frag/one_byte_fragments", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.SendRaw(appendFragments(nil, frame.OpText, msg, len(msg)))
		c.ExpectMessage(frame.OpText, msg)
	})
}

// TestConformanceManyFragments sends a 4 MiB message as 65,536 fragments
// of 64 bytes to a server whose limits are exactly 4 MiB and 65,536
// fragments.
func TestConformanceManyFragments(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, func(c *config.Config) { c.MaxMessage, c.MaxFragments = 4<<20, 65536 })
	ops := []frame.Opcode{frame.OpText, frame.OpBinary}
	if underRace {
		ops = ops[1:]
	}
	for _, op := range ops {
		t.Run(fmt.Sprintf("5_frag/%v/65536_fragments_4MiB", op), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.Timeout = 30 * time.Second
			msg := payloadOf(op, 4<<20)
			wire := appendFragments(make([]byte, 0, len(msg)+65536*6), op, msg, 65536)
			done := writeAsync(c, wire, 256<<10)
			c.ExpectMessage(op, msg)
			waitWrite(t, done)
			c.Echo(frame.OpText, []byte("still open"))
		})
	}
	t.Run("9_limits/4MiB_plus_one_in_fragments", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Timeout = 30 * time.Second
		chunk := payloadOf(frame.OpBinary, 64<<10)
		var wire []byte
		for i := range 64 {
			op := frame.OpContinuation
			if i == 0 {
				op = frame.OpBinary
			}
			wire = wstest.AppendFrame(wire, false, 0, op, chunk, true)
		}
		c.SendRaw(wire)
		// Exactly 4 MiB so far: still acceptable.
		c.Send(true, 0, frame.OpPing, []byte("at the limit"))
		c.ExpectFrame(frame.OpPong, []byte("at the limit"))
		c.Send(true, 0, frame.OpContinuation, []byte{1})
		c.ExpectClose(frame.CloseMessageTooBig)
	})
}

// frameSize returns the length of the first client frame in wire.
func frameSize(wire []byte) int {
	n := int(wire[1] & 0x7F)
	h := 2
	switch n {
	case 126:
		n = int(wire[2])<<8 | int(wire[3])
		h = 4
	case 127:
		n = 0
		for _, b := range wire[2:10] {
			n = n<<8 | int(b)
		}
		h = 10
	}
	if wire[1]&0x80 != 0 {
		h += 4
	}
	return h + n
}
