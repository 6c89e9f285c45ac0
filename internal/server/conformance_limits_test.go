package server_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// Category 9 (limits and volume, not speed: nothing here asserts a time).
func TestConformanceLimits(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, nil) // MaxMessage 64 KiB
	const limit = 64 << 10
	t.Run("9_limits/10000_small_messages_pipelined", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Timeout = 20 * time.Second
		const n = 10000
		var wire []byte
		for i := range n {
			op := frame.OpText
			if i%2 == 1 {
				op = frame.OpBinary
			}
			wire = wstest.AppendFrame(wire, true, 0, op, strconv.AppendInt([]byte("message "), int64(i), 10), true)
		}
		done := writeAsync(c, wire, 16<<10)
		for i := range n {
			op, got, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			want := strconv.AppendInt([]byte("message "), int64(i), 10)
			if wantOp := frame.Opcode(1 + i%2); op != wantOp || !bytes.Equal(got, want) {
				t.Fatalf("message %d: got %v %q, want %v %q", i, op, got, wantOp, want)
			}
		}
		waitWrite(t, done)
	})
	t.Run("9_limits/exactly_max_message", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Echo(frame.OpBinary, payloadOf(frame.OpBinary, limit))
	})
	for _, op := range []frame.Opcode{frame.OpText, frame.OpBinary} {
		t.Run(fmt.Sprintf("9_limits/%v_over_max_message_header_only", op), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			key := [4]byte{1, 2, 3, 4}
			c.SendRaw(frame.AppendHeader(nil, true, 0, op, limit+1, &key))
			c.ExpectClose(frame.CloseMessageTooBig)
		})
	}
	t.Run("9_limits/huge_length_header_only", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		key := [4]byte{1, 2, 3, 4}
		c.SendRaw(frame.AppendHeader(nil, true, 0, frame.OpBinary, 1<<40, &key))
		c.ExpectClose(frame.CloseMessageTooBig)
	})
	t.Run("9_limits/over_max_message_in_fragments", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		half := payloadOf(frame.OpBinary, limit/2)
		c.Send(false, 0, frame.OpBinary, half)
		c.Send(false, 0, frame.OpContinuation, half)
		key := [4]byte{1, 2, 3, 4}
		c.SendRaw(frame.AppendHeader(nil, true, 0, frame.OpContinuation, 1, &key))
		c.ExpectClose(frame.CloseMessageTooBig)
	})
}

// TestConformanceFrameLimit runs with MaxFrame below MaxMessage: big
// messages pass in small frames, a big frame fails on its header.
func TestConformanceFrameLimit(t *testing.T) {
	t.Parallel()
	const maxFrame = 16 << 10
	_, addr := startServer(t, func(c *config.Config) { c.MaxFrame = maxFrame })
	t.Run("9_limits/frame_at_limit", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Echo(frame.OpBinary, payloadOf(frame.OpBinary, maxFrame))
	})
	t.Run("9_limits/frame_over_limit_header_only", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		key := [4]byte{9, 8, 7, 6}
		c.SendRaw(frame.AppendHeader(nil, true, 0, frame.OpText, maxFrame+1, &key))
		c.ExpectClose(frame.CloseMessageTooBig)
	})
	t.Run("9_limits/message_of_frames_at_limit", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		msg := payloadOf(frame.OpText, 4*maxFrame)
		c.SendRaw(appendFragments(nil, frame.OpText, msg, 4))
		c.ExpectMessage(frame.OpText, msg)
	})
}

// TestConformanceBigMessages echoes messages of 1 to 16 MiB (Autobahn
// 9.1-9.6 sizes) with MaxMessage 16 MiB, whole, fragmented (up to 16,384
// fragments, so MaxFragments is raised to that) and chopped.
func TestConformanceBigMessages(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, func(c *config.Config) { bigMessages(c); c.MaxFragments = 16 << 10 })
	type big struct {
		op  frame.Opcode
		mib int
	}
	bigs := []big{{frame.OpText, 1}, {frame.OpBinary, 1}, {frame.OpText, 4}, {frame.OpBinary, 4}, {frame.OpText, 16}, {frame.OpBinary, 16}}
	frags := []int{256, 4 << 10, 64 << 10, 1 << 20}
	chops := []int{64, 1 << 10, 16 << 10, 128 << 10}
	if underRace {
		bigs = []big{{frame.OpText, 1}, {frame.OpBinary, 16}}
		frags = []int{4 << 10, 1 << 20}
		chops = []int{64, 16 << 10}
	}
	for _, b := range bigs {
		t.Run(fmt.Sprintf("9_big/%v/%dMiB", b.op, b.mib), func(t *testing.T) {
			c := wstest.Dial(t, addr, "/echo")
			c.Timeout = 30 * time.Second
			msg := payloadOf(b.op, b.mib<<20)
			done := writeAsync(c, wstest.AppendFrame(nil, true, 0, b.op, msg, true), 1<<30)
			c.ExpectMessage(b.op, msg)
			waitWrite(t, done)
		})
	}
	msg := payloadOf(frame.OpText, 4<<20)
	for _, frag := range frags {
		t.Run(fmt.Sprintf("9_big/text/4MiB/fragments_of_%d", frag), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.Timeout = 30 * time.Second
			done := writeAsync(c, appendFragments(nil, frame.OpText, msg, len(msg)/frag), 1<<30)
			c.ExpectMessage(frame.OpText, msg)
			waitWrite(t, done)
		})
	}
	bin := payloadOf(frame.OpBinary, 1<<20)
	wire := wstest.AppendFrame(nil, true, 0, frame.OpBinary, bin, true)
	for _, chop := range chops {
		t.Run(fmt.Sprintf("9_big/binary/1MiB/chopped_%d", chop), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.Timeout = 30 * time.Second
			done := writeAsync(c, wire, chop)
			c.ExpectMessage(frame.OpBinary, bin)
			waitWrite(t, done)
		})
	}
}

// TestEndpointSizeLimits: the fan-out endpoints have their own message
// limit (-room-max-message): a message queued once per member may be held
// smaller than an echo. The same 4 KiB message passes /echo and closes a
// /room member with 1009, whose room-mate carries on.
func TestEndpointSizeLimits(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, func(c *config.Config) { c.RoomMaxMessage = 2 << 10 })
	msg := payloadOf(frame.OpBinary, 4<<10)
	e := wstest.Dial(t, addr, "/echo")
	e.Echo(frame.OpBinary, msg)
	mate := wstest.Dial(t, addr, "/room/limits")
	r := wstest.Dial(t, addr, "/room/limits")
	r.Send(true, 0, frame.OpBinary, msg[:2<<10]) // at the limit: delivered
	mate.ExpectMessage(frame.OpBinary, msg[:2<<10])
	r.Send(true, 0, frame.OpBinary, msg)
	r.ExpectClose(frame.CloseMessageTooBig)
	mate.Send(true, 0, frame.OpText, []byte("still here"))
	e.Echo(frame.OpText, []byte("echo unaffected"))
}
