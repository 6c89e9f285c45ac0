package server_test

import (
	"fmt"
	"testing"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/wstest"
)

// utf8Case is one text payload and whether it is valid UTF-8 (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF).
type utf8Case struct {
	name  string
	text  string
	valid bool
}

var utf8Cases = []utf8Case{
	{"greek_kosme", "κόσμε", true},
	{"mixed", "Hello-µ@ßöäüàá-UTF-8!!", true},
	{"2_byte", "ü", true},
	{"3_byte", "€", true},
	{"4_byte", "𝄞", true},
	{"first_of_each_length", "\x00\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80", true},
	{"last_of_each_length", "\x7f\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf", true},
	{"around_surrogates", "\xed\x9f\xbf\xee\x80\x80", true},
	{"replacement_and_noncharacters", "\xef\xbf\xbd\xef\xbf\xbe\xef\xbf\xbf", true},

	{"lone_continuation", "\x80", false},
	{"continuations", "a\x80\xbfb", false},
	{"lone_2_byte_start", "\xc3 ", false},
	{"lone_3_byte_start", "\xe0 ", false},
	{"5_byte_start", "\xf8\x88\x80\x80\x80", false},
	{"byte_fe", "\xfe", false},
	{"byte_ff", "\xff", false},
	{"overlong_slash_2", "\xc0\xaf", false},
	{"overlong_slash_3", "\xe0\x80\xaf", false},
	{"overlong_slash_4", "\xf0\x80\x80\xaf", false},
	{"overlong_max_2", "\xc1\xbf", false},
	{"overlong_max_3", "\xe0\x9f\xbf", false},
	{"overlong_max_4", "\xf0\x8f\xbf\xbf", false},
	{"overlong_nul", "\xc0\x80", false},
	{"surrogate_high", "\xed\xa0\x80", false},
	{"surrogate_low", "\xed\xbf\xbf", false},
	{"surrogate_pair", "\xed\xa0\x80\xed\xb0\x80", false},
	{"above_10ffff", "\xf4\x90\x80\x80", false},
	{"start_f5", "\xf5\x80\x80\x80", false},
	{"start_f7", "\xf7\xbf\xbf\xbf", false},
	{"invalid_mid_message", "κόσμε\xed\xa0\x80edited", false},
	{"truncated_2_at_end", "κόσμε\xce", false},
	{"truncated_3_at_end", "ab\xe2\x82", false},
	{"truncated_4_at_end", "ab\xf0\x9d\x84", false},
}

// Category 6: UTF-8 handling of text messages.
func TestConformanceUTF8(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, nil)
	expect := func(c *wstest.Conn, tc utf8Case) {
		if tc.valid {
			c.ExpectMessage(frame.OpText, []byte(tc.text))
			return
		}
		c.ExpectClose(frame.CloseInvalidPayload)
	}
	for _, tc := range utf8Cases {
		t.Run("6_utf8/"+tc.name+"/one_frame", func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.Send(true, 0, frame.OpText, []byte(tc.text))
			expect(c, tc)
		})
		t.Run("6_utf8/"+tc.name+"/one_byte_writes", func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			err := c.WriteChunked(wstest.AppendFrame(nil, true, 0, frame.OpText, []byte(tc.text), true), 1, 0)
			// An invalid message may fail the connection before its last
			// byte is written.
			if err != nil && tc.valid {
				t.Fatal(err)
			}
			expect(c, tc)
		})
		t.Run("6_utf8/"+tc.name+"/one_byte_fragments", func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.SendRaw(appendFragments(nil, frame.OpText, []byte(tc.text), len(tc.text)))
			expect(c, tc)
		})
	}
	// Fail fast: the invalid byte is in the first fragment, so the server
	// must close before the rest is sent.
	for _, first := range []string{"κόσμε\xed\xa0\x80edited", "\xf5", "ab\xc0\xaf"} {
		t.Run(fmt.Sprintf("6_utf8/fail_fast/first_fragment_%q", first), func(t *testing.T) {
			t.Parallel()
			c := wstest.Dial(t, addr, "/echo")
			c.Send(false, 0, frame.OpText, []byte(first))
			c.ExpectClose(frame.CloseInvalidPayload)
		})
	}
	t.Run("6_utf8/fail_fast/second_fragment", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(false, 0, frame.OpText, []byte("κόσμε"))
		c.Send(false, 0, frame.OpContinuation, []byte("\xed\xa0\x80"))
		c.ExpectClose(frame.CloseInvalidPayload)
	})
	t.Run("6_utf8/fail_fast/inside_one_frame", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		// A 200-byte frame whose first 20 bytes hold an invalid sequence;
		// only those 20 bytes are sent.
		text := []byte("κόσμε\xed\xa0\x80edited")
		text = append(text, payloadOf(frame.OpText, 200-len(text))...)
		wire := wstest.AppendFrame(nil, true, 0, frame.OpText, text, true)
		c.SendRaw(wire[:frame.HeaderSize(len(text), true)+20])
		c.ExpectClose(frame.CloseInvalidPayload)
	})
	t.Run("6_utf8/code_point_split_across_fragments", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(false, 0, frame.OpText, []byte("a\xf0\x9d"))
		c.Send(true, 0, frame.OpPing, []byte("open"))
		c.ExpectFrame(frame.OpPong, []byte("open"))
		c.Send(false, 0, frame.OpContinuation, []byte("\x84"))
		c.Send(true, 0, frame.OpContinuation, []byte("\x9eb"))
		c.ExpectMessage(frame.OpText, []byte("a𝄞b"))
	})
	t.Run("6_utf8/truncated_at_end_of_fragmented_message", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Send(false, 0, frame.OpText, []byte("κόσμε\xce"))
		c.Send(true, 0, frame.OpPing, []byte("open"))
		c.ExpectFrame(frame.OpPong, []byte("open"))
		c.Send(true, 0, frame.OpContinuation, nil)
		c.ExpectClose(frame.CloseInvalidPayload)
	})
	t.Run("6_utf8/binary_is_not_checked", func(t *testing.T) {
		t.Parallel()
		c := wstest.Dial(t, addr, "/echo")
		c.Echo(frame.OpBinary, []byte("\xed\xa0\x80\xff\xfe\xc0\xaf"))
	})
}
