package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/wstest"
)

// Category 7: the close handshake.
func TestConformanceClose(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, nil)
	t.Run("7_close/empty", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(true, 0, frame.OpClose, nil)
		c.ExpectClose(frame.CloseNoStatus)
	})
	t.Run("7_close/1000_with_reason", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		if err := c.WriteClose(1000, "bye now"); err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(frame.CloseNormal)
	})
	t.Run("7_close/after_messages", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Echo(frame.OpText, []byte("before close"))
		if err := c.WriteClose(1000, ""); err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(frame.CloseNormal)
	})
	t.Run("7_close/one_byte_payload", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(true, 0, frame.OpClose, []byte{0x03})
		c.ExpectClose(frame.CloseProtocolError)
	})
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		t.Run(fmt.Sprintf("7_close/invalid_code_%d", code), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.Send(true, 0, frame.OpClose, []byte{byte(code >> 8), byte(code)})
			c.ExpectClose(frame.CloseProtocolError)
		})
	}
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		t.Run(fmt.Sprintf("7_close/valid_code_%d", code), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			if err := c.WriteClose(code, "reason"); err != nil {
				t.Fatal(err)
			}
			c.ExpectClose(frame.CloseCode(code))
		})
	}
	t.Run("7_close/reason_invalid_utf8", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		if err := c.WriteClose(1000, "κόσμε\xed\xa0\x80edited"); err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(frame.CloseInvalidPayload)
	})
	t.Run("7_close/reason_123_bytes", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		if err := c.WriteClose(1000, strings.Repeat("r", 123)); err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(frame.CloseNormal)
	})
	t.Run("7_close/reason_124_bytes", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		if err := c.WriteClose(1000, strings.Repeat("r", 124)); err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(frame.CloseProtocolError)
	})
	t.Run("7_close/data_after_close_ignored", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		wire := wstest.AppendFrame(nil, true, 0, frame.OpClose, []byte{0x03, 0xe8}, true)
		wire = wstest.AppendFrame(wire, true, 0, frame.OpText, []byte("after close"), true)
		wire = wstest.AppendFrame(wire, true, 0, frame.OpPing, []byte("after close"), true)
		c.SendRaw(wire)
		c.ExpectClose(frame.CloseNormal)
	})
	t.Run("7_close/data_after_close_separate_write", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		if err := c.WriteClose(1000, ""); err != nil {
			t.Fatal(err)
		}
		// The server may already have closed TCP; a failed write is fine.
		_ = c.WriteFrame(true, 0, frame.OpText, []byte("after close"), true)
		c.ExpectClose(frame.CloseNormal)
	})
	t.Run("7_close/close_mid_fragmented_message", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(false, 0, frame.OpText, []byte("never finished"))
		if err := c.WriteClose(1000, ""); err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(frame.CloseNormal)
	})
	t.Run("7_close/one_byte_writes", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		wire := wstest.AppendFrame(nil, true, 0, frame.OpClose, []byte("\x0f\xa0goodbye"), true)
		if err := c.WriteChunked(wire, 1, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		c.ExpectClose(4000)
	})
	t.Run("7_close/tcp_closed_after_handshake", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		if err := c.WriteClose(1001, ""); err != nil {
			t.Fatal(err)
		}
		c.ExpectCloseFrame(frame.CloseGoingAway)
		// The client does not close its side: the server must.
		c.ExpectEOF()
	})
}
