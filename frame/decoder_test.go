package frame

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unsafe"
)

// raw builds a frame from explicit header bytes; the payload is masked with
// testKey (and the key written) when b1 has the mask bit.
func raw(b0, b1 byte, ext []byte, payload string) []byte {
	f := append([]byte{b0, b1}, ext...)
	if b1&0x80 != 0 {
		f = append(f, testKey[:]...)
		start := len(f)
		f = append(f, payload...)
		Mask(f[start:], testKey, 0)
		return f
	}
	return append(f, payload...)
}

// decodeCase is a shared round-trip case: a byte stream, a decoder
// configuration and the expected callbacks and error.
type decodeCase struct {
	name   string
	cfg    decodeConfig
	stream []byte
	want   []event
	err    error
}

var (
	kosme     = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" // κόσμε
	big126    = strings.Repeat("x", 126)
	big64K    = strings.Repeat("0123456789abcdef", 4096) // 65536 bytes
	max125    = strings.Repeat("p", 125)
	server    = decodeConfig{}
	clientCfg = decodeConfig{client: true}
	deflate   = decodeConfig{allowRSV1: true}
)

func validCases() []decodeCase {
	return []decodeCase{
		{"empty text", server, cf(true, 0, OpText, ""), []event{msg(OpText, "")}, nil},
		{"text", server, cf(true, 0, OpText, "Hello"), []event{msg(OpText, "Hello")}, nil},
		{"text multibyte", server, cf(true, 0, OpText, kosme), []event{msg(OpText, kosme)}, nil},
		{"binary invalid utf8 ok", server, cf(true, 0, OpBinary, "\xff\xfe"), []event{msg(OpBinary, "\xff\xfe")}, nil},
		{"binary 126", server, cf(true, 0, OpBinary, big126), []event{msg(OpBinary, big126)}, nil},
		{"binary 64K", server, cf(true, 0, OpBinary, big64K), []event{msg(OpBinary, big64K)}, nil},
		{"ping", server, cf(true, 0, OpPing, "hi"), []event{ctl(OpPing, "hi")}, nil},
		{"ping 125", server, cf(true, 0, OpPing, max125), []event{ctl(OpPing, max125)}, nil},
		{"pong empty", server, cf(true, 0, OpPong, ""), []event{ctl(OpPong, "")}, nil},
		{"close empty", server, cf(true, 0, OpClose, ""), []event{ctl(OpClose, "")}, nil},
		{"close reason", server, cf(true, 0, OpClose, "\x03\xe8bye"), []event{ctl(OpClose, "\x03\xe8bye")}, nil},
		{"close 4999", server, cf(true, 0, OpClose, "\x13\x87"), []event{ctl(OpClose, "\x13\x87")}, nil},
		{"sequence", server, cat(cf(true, 0, OpText, "a"), cf(true, 0, OpPing, ""), cf(true, 0, OpBinary, "bc")),
			[]event{msg(OpText, "a"), ctl(OpPing, ""), msg(OpBinary, "bc")}, nil},
		{"fragmented", server, cat(cf(false, 0, OpText, "Hel"), cf(false, 0, OpContinuation, "lo, "), cf(true, 0, OpContinuation, "world")),
			[]event{msg(OpText, "Hello, world")}, nil},
		{"fragmented ping interleaved", server, cat(cf(false, 0, OpBinary, "ab"), cf(true, 0, OpPing, "p1"),
			cf(false, 0, OpContinuation, "cd"), cf(true, 0, OpPong, ""), cf(true, 0, OpClose, "\x03\xe8"),
			cf(true, 0, OpContinuation, "ef"), cf(true, 0, OpText, "next")),
			[]event{ctl(OpPing, "p1"), ctl(OpPong, ""), ctl(OpClose, "\x03\xe8"), msg(OpBinary, "abcdef"), msg(OpText, "next")}, nil},
		{"fragmented empty parts", server, cat(cf(false, 0, OpText, ""), cf(true, 0, OpPing, "x"), cf(false, 0, OpContinuation, ""),
			cf(true, 0, OpContinuation, "")), []event{ctl(OpPing, "x"), msg(OpText, "")}, nil},
		{"fragmented rune split", server, cat(cf(false, 0, OpText, kosme[:2]), cf(false, 0, OpContinuation, kosme[2:3]),
			cf(true, 0, OpContinuation, kosme[3:])), []event{msg(OpText, kosme)}, nil},
		{"fragmented big", server, cat(cf(false, 0, OpBinary, big64K), cf(true, 0, OpPing, max125), cf(true, 0, OpContinuation, big126)),
			[]event{ctl(OpPing, max125), msg(OpBinary, big64K+big126)}, nil},
		{"non-minimal 16-bit length", server, raw(0x81, 0x80|126, []byte{0, 5}, "Hello"), []event{msg(OpText, "Hello")}, nil},
		{"non-minimal 64-bit length", server, raw(0x82, 0x80|127, []byte{0, 0, 0, 0, 0, 0, 0, 3}, "abc"), []event{msg(OpBinary, "abc")}, nil},
		{"client role", clientCfg, cat(sf(true, 0, OpText, "hi"), sf(false, 0, OpBinary, "a"), sf(true, 0, OpPing, ""),
			sf(true, 0, OpContinuation, "b")), []event{msg(OpText, "hi"), ctl(OpPing, ""), msg(OpBinary, "ab")}, nil},
		{"rsv1 compressed", deflate, cat(cf(true, RSV1, OpText, "\xff\x00"), cf(true, 0, OpText, "plain")),
			[]event{cmsg(OpText, "\xff\x00"), msg(OpText, "plain")}, nil},
		{"rsv1 fragmented", deflate, cat(cf(false, RSV1, OpBinary, "ab"), cf(true, 0, OpPing, ""), cf(true, 0, OpContinuation, "cd")),
			[]event{ctl(OpPing, ""), cmsg(OpBinary, "abcd")}, nil},
		{"limits exact", decodeConfig{lim: &Limits{MaxFrame: 5, MaxMessage: 10}},
			cat(cf(true, 0, OpText, "12345"), cf(false, 0, OpText, "12345"), cf(true, 0, OpContinuation, "67890")),
			[]event{msg(OpText, "12345"), msg(OpText, "1234567890")}, nil},
		{"limits ignore control", decodeConfig{lim: &Limits{MaxMessage: 4}},
			cat(cf(false, 0, OpText, "1234"), cf(true, 0, OpPing, "pingping"), cf(true, 0, OpContinuation, "")),
			[]event{ctl(OpPing, "pingping"), msg(OpText, "1234")}, nil},
	}
}

func errorCases() []decodeCase {
	ping := cf(true, 0, OpPing, "")
	pingEv := []event{ctl(OpPing, "")}
	cases := []decodeCase{
		{"unmasked client frame", server, sf(true, 0, OpText, "a"), nil, ErrUnmasked},
		{"masked server frame", clientCfg, cf(true, 0, OpText, "a"), nil, ErrMaskedServerFrame},
		{"rsv1 not negotiated", server, cf(true, RSV1, OpText, "a"), nil, ErrReservedBits},
		{"rsv2", deflate, cf(true, RSV2, OpText, "a"), nil, ErrReservedBits},
		{"rsv3", server, cf(true, RSV3, OpBinary, "a"), nil, ErrReservedBits},
		{"rsv1 on control", deflate, cf(true, RSV1, OpPing, ""), nil, ErrReservedBits},
		{"rsv1 on continuation", deflate, cat(cf(false, RSV1, OpText, "a"), cf(true, RSV1, OpContinuation, "b")), nil, ErrReservedBits},
		{"control 126", server, cf(true, 0, OpPing, big126), nil, ErrControlTooLong},
		{"control 64-bit length", server, raw(0x89, 0x80|127, []byte{0, 0, 0, 0, 0, 0, 0, 1}, "a"), nil, ErrControlTooLong},
		{"fragmented ping", server, cat(ping, cf(false, 0, OpPing, "")), pingEv, ErrFragmentedControl},
		{"fragmented close", server, cf(false, 0, OpClose, ""), nil, ErrFragmentedControl},
		{"continuation alone", server, cat(ping, cf(true, 0, OpContinuation, "a")), pingEv, ErrUnexpectedContinuation},
		{"continuation after message", server, cat(cf(true, 0, OpText, "a"), cf(true, 0, OpContinuation, "a")),
			[]event{msg(OpText, "a")}, ErrUnexpectedContinuation},
		{"text inside fragmented", server, cat(cf(false, 0, OpText, "a"), ping, cf(true, 0, OpText, "b")), pingEv, ErrExpectedContinuation},
		{"binary inside fragmented", server, cat(cf(false, 0, OpBinary, "a"), cf(false, 0, OpBinary, "b")), nil, ErrExpectedContinuation},
		{"length top bit", server, raw(0x82, 0x80|127, []byte{0x80, 0, 0, 0, 0, 0, 0, 1}, ""), nil, ErrLengthTopBit},
		{"close 1 byte", server, cf(true, 0, OpClose, "\x03"), nil, ErrBadClosePayload},
		{"close 1005", server, cf(true, 0, OpClose, "\x03\xed"), nil, ErrBadCloseCode},
		{"close 999", server, cf(true, 0, OpClose, "\x03\xe7"), nil, ErrBadCloseCode},
		{"close 5000", server, cf(true, 0, OpClose, "\x13\x88"), nil, ErrBadCloseCode},
		{"close reason utf8", server, cf(true, 0, OpClose, "\x03\xe8\xc0\xaf"), nil, ErrInvalidUTF8},
		{"text invalid byte", server, cf(true, 0, OpText, "ab\xffcd"), nil, ErrInvalidUTF8},
		{"text overlong", server, cf(true, 0, OpText, "\xc0\xaf"), nil, ErrInvalidUTF8},
		{"text overlong 3", server, cf(true, 0, OpText, "\xe0\x80\xaf"), nil, ErrInvalidUTF8},
		{"text surrogate", server, cf(true, 0, OpText, "\xed\xa0\x80"), nil, ErrInvalidUTF8},
		{"text above max", server, cf(true, 0, OpText, "\xf4\x90\x80\x80"), nil, ErrInvalidUTF8},
		{"text truncated rune", server, cf(true, 0, OpText, "ab\xce"), nil, ErrInvalidUTF8},
		{"fragmented truncated rune", server, cat(cf(false, 0, OpText, kosme[:2]), cf(true, 0, OpContinuation, kosme[2:4])),
			nil, ErrInvalidUTF8},
		{"fragmented invalid first", server, cat(cf(false, 0, OpText, "ok\xed\xa0\x80"), cf(true, 0, OpContinuation, "rest")),
			nil, ErrInvalidUTF8},
		{"fragmented invalid later", server, cat(cf(false, 0, OpText, "ok"), ping, cf(true, 0, OpContinuation, "\x80")),
			pingEv, ErrInvalidUTF8},
		{"frame too big", decodeConfig{lim: &Limits{MaxFrame: 4}}, cat(ping, cf(true, 0, OpBinary, "12345")), pingEv, ErrFrameTooBig},
		{"message too big single", decodeConfig{lim: &Limits{MaxMessage: 4}}, cf(true, 0, OpBinary, "12345"), nil, ErrMessageTooBig},
		{"message too big fragments", decodeConfig{lim: &Limits{MaxMessage: 10}},
			cat(cf(false, 0, OpText, "123456"), ping, cf(true, 0, OpContinuation, "789012")), pingEv, ErrMessageTooBig},
		{"too many fragments", decodeConfig{lim: &Limits{MaxFragments: 3}},
			cat(cf(false, 0, OpText, "a"), ping, cf(false, 0, OpContinuation, ""), cf(false, 0, OpContinuation, "b"), ping, cf(true, 0, OpContinuation, "")),
			[]event{ctl(OpPing, ""), ctl(OpPing, "")}, ErrTooManyFragments},
		{"too many empty fragments", decodeConfig{lim: &Limits{MaxFragments: 2}},
			cat(cf(false, 0, OpBinary, ""), cf(false, 0, OpContinuation, ""), cf(false, 0, OpContinuation, "")), nil, ErrTooManyFragments},
		{"message too big huge header", decodeConfig{lim: &Limits{MaxMessage: DefaultMaxMessage}},
			raw(0x82, 0x80|127, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ""), nil, ErrMessageTooBig},
	}
	for _, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		cases = append(cases, decodeCase{"reserved opcode " + Opcode(op).String(), server,
			cat(ping, raw(0x80|op, 0x80, nil, "")), pingEv, ErrReservedOpcode})
	}
	return cases
}

// checkCase decodes c whole, byte by byte and split at every offset (or at
// sampled offsets for long streams) and requires identical results.
func checkCase(t *testing.T, c decodeCase, buffered bool) {
	t.Helper()
	whole := decodeWhole(c.cfg, c.stream)
	want := result{events: c.want, err: c.err, buffered: buffered}
	if !sameResult(whole, want) {
		t.Fatalf("whole:\n got %v\nwant %v", whole, want)
	}
	if r := decodeBytewise(c.cfg, c.stream); !sameResult(r, whole) {
		t.Fatalf("byte by byte:\n got %v\nwant %v", r, whole)
	}
	step := 1
	if len(c.stream) > 4096 {
		step = 997
	}
	for i := 0; i <= len(c.stream); i += step {
		if r := decodeChunks(c.cfg, c.stream, i); !sameResult(r, whole) {
			t.Fatalf("split at %d:\n got %v\nwant %v", i, r, whole)
		}
	}
}

func TestDecodeValid(t *testing.T) {
	for _, c := range validCases() {
		t.Run(c.name, func(t *testing.T) { checkCase(t, c, false) })
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range errorCases() {
		t.Run(c.name, func(t *testing.T) {
			checkCase(t, c, false)
			var pe *ProtocolError
			if !errors.As(c.err, &pe) {
				t.Fatal("not a ProtocolError")
			}
		})
	}
}

// TestDecodeTruncated: input ending inside a frame keeps a buffer exactly
// when payload bytes (not just header bytes) are pending.
func TestDecodeTruncated(t *testing.T) {
	cases := []struct {
		c        decodeCase
		buffered bool
	}{
		{decodeCase{"frame", server, cf(true, 0, OpText, "Hello")[:8], nil, nil}, true},
		{decodeCase{"fragmented", server, cat(cf(false, 0, OpText, "He"), cf(true, 0, OpPing, ""),
			cf(true, 0, OpContinuation, "llo")[:6]), []event{ctl(OpPing, "")}, nil}, true},
		{decodeCase{"header", server, cat(cf(true, 0, OpText, "a"), cf(true, 0, OpBinary, big126)[:3]),
			[]event{msg(OpText, "a")}, nil}, false},
	}
	for _, tc := range cases {
		t.Run(tc.c.name, func(t *testing.T) { checkCase(t, tc.c, tc.buffered) })
	}
}

// TestDecodeRoundTrip encodes every valid case's messages with the encoder
// in both roles and checks they decode to the same events.
func TestDecodeRoundTrip(t *testing.T) {
	for _, c := range validCases() {
		if c.err != nil || c.cfg.lim != nil {
			continue
		}
		var srv, cli []byte
		for _, e := range c.want {
			op, rsv := e.op, byte(0)
			if e.compressed {
				rsv = RSV1
			}
			srv = AppendFrame(srv, true, rsv, op, []byte(e.payload))
			cli = AppendMaskedFrame(cli, true, rsv, op, testKey, []byte(e.payload))
		}
		for _, rc := range []struct {
			client bool
			stream []byte
		}{{true, srv}, {false, cli}} {
			cfg := decodeConfig{client: rc.client, allowRSV1: true}
			r := decodeWhole(cfg, rc.stream)
			if !sameResult(r, result{events: c.want}) {
				t.Errorf("%s client=%v: got %v want %v", c.name, rc.client, r, c.want)
			}
		}
	}
}

func TestDecoderSize(t *testing.T) {
	if s := unsafe.Sizeof(Decoder{}); s > 64 {
		t.Fatalf("Decoder is %d bytes, want <= 64", s)
	}
}

func TestDecoderBuffered(t *testing.T) {
	var d Decoder
	d.Init(nil, false, false)
	var rec recorder
	f := cf(true, 0, OpBinary, big126)
	if err := d.Feed(bytes.Clone(f), &rec); err != nil || d.Buffered() {
		t.Fatalf("complete frame: err %v buffered %v", err, d.Buffered())
	}
	f = bytes.Clone(f)
	if err := d.Feed(f[:1], &rec); err != nil || d.Buffered() {
		t.Fatalf("partial header must not take a buffer: err %v buffered %v", err, d.Buffered())
	}
	if err := d.Feed(f[1:50], &rec); err != nil || !d.Buffered() {
		t.Fatalf("partial payload: err %v buffered %v", err, d.Buffered())
	}
	if err := d.Feed(f[50:], &rec); err != nil || d.Buffered() {
		t.Fatalf("completed frame: err %v buffered %v", err, d.Buffered())
	}
	frag := cat(cf(false, 0, OpText, "abc"), cf(true, 0, OpPing, ""))
	if err := d.Feed(frag, &rec); err != nil || !d.Buffered() {
		t.Fatalf("fragmented message in progress: err %v buffered %v", err, d.Buffered())
	}
	if err := d.Feed(cf(true, 0, OpContinuation, "d"), &rec); err != nil || d.Buffered() {
		t.Fatalf("fragmented message done: err %v buffered %v", err, d.Buffered())
	}
	if err := d.Feed(cf(false, 0, OpText, "abc"), &rec); err != nil || !d.Buffered() {
		t.Fatal("setup")
	}
	d.Release()
	if d.Buffered() {
		t.Fatal("Release kept the buffer")
	}
	want := []event{msg(OpBinary, big126), msg(OpBinary, big126), ctl(OpPing, ""), msg(OpText, "abcd")}
	if !sameResult(result{events: rec.events}, result{events: want}) {
		t.Fatalf("events %v", rec.events)
	}
}

func TestDecoderDeadAfterError(t *testing.T) {
	var d Decoder
	d.Init(nil, false, false)
	var rec recorder
	err := d.Feed(cat(cf(false, 0, OpText, "abc"), sf(true, 0, OpContinuation, "x")), &rec)
	if err != ErrUnmasked || d.Buffered() {
		t.Fatalf("err %v buffered %v", err, d.Buffered())
	}
	if err := d.Feed(cf(true, 0, OpText, "x"), &rec); err != ErrDecoderFailed {
		t.Fatalf("after error: %v", err)
	}
	d.Init(nil, false, false)
	if err := d.Feed(cf(true, 0, OpText, "x"), &rec); err != nil || len(rec.events) != 1 {
		t.Fatalf("after Init: %v %v", err, rec.events)
	}
}

func TestDecoderHandlerError(t *testing.T) {
	stream := cat(cf(true, 0, OpText, "a"), cf(true, 0, OpPing, ""), cf(true, 0, OpText, "b"))
	for fail := 1; fail <= 2; fail++ {
		var d Decoder
		d.Init(nil, false, false)
		rec := recorder{failOn: fail}
		if err := d.Feed(bytes.Clone(stream), &rec); err != errHandler || len(rec.events) != fail {
			t.Fatalf("failOn %d: err %v events %v", fail, err, rec.events)
		}
	}
}

// TestUTF8FailFast checks invalid UTF-8 is reported by the Feed call that
// carries it, before the rest of the message arrives.
func TestUTF8FailFast(t *testing.T) {
	first := cf(false, 0, OpText, "valid \xce\xba then \xc0\xaf")
	var d Decoder
	d.Init(nil, false, false)
	var rec recorder
	if err := d.Feed(first, &rec); err != ErrInvalidUTF8 {
		t.Fatalf("first fragment: %v", err)
	}
	// Within a single frame split across Feed calls: the partial payload is
	// validated when it arrives.
	f := cf(true, 0, OpText, "abc\xed\xa0\x80"+strings.Repeat("z", 1000))
	d.Init(nil, false, false)
	if err := d.Feed(f[:6+6], &rec); err != nil {
		t.Fatalf("valid prefix: %v", err)
	}
	if err := d.Feed(f[12:20], &rec); err != ErrInvalidUTF8 {
		t.Fatalf("split frame: %v", err)
	}
	// A truncated sequence is fine mid-message and fails at its end.
	d.Init(nil, false, false)
	if err := d.Feed(cf(false, 0, OpText, "\xe2\x82"), &rec); err != nil {
		t.Fatalf("partial rune: %v", err)
	}
	if err := d.Feed(cf(true, 0, OpContinuation, ""), &rec); err != ErrInvalidUTF8 {
		t.Fatalf("end of message: %v", err)
	}
}

// TestManyFragments: a 4 MiB message in 65,536 fragments of 64 bytes with
// MaxMessage 4 MiB passes; one more byte fails.
func TestManyFragments(t *testing.T) {
	const n, size = 65536, 64
	part := strings.Repeat("é", size/2)
	var stream []byte
	for i := 0; i < n; i++ {
		op := OpContinuation
		if i == 0 {
			op = OpText
		}
		stream = AppendMaskedFrame(stream, i == n-1, 0, op, testKey, []byte(part))
		if i == n/2 {
			stream = AppendMaskedFrame(stream, true, 0, OpPing, testKey, nil)
		}
	}
	cfg := decodeConfig{lim: &Limits{MaxMessage: n * size}}
	r := decodeChunks(cfg, stream, len(stream)/3, len(stream)/3+1, 2*len(stream)/3)
	if r.err != nil || len(r.events) != 2 || len(r.events[1].payload) != n*size || r.buffered {
		t.Fatalf("got err %v, %d events, buffered %v", r.err, len(r.events), r.buffered)
	}
	if r.events[1].payload != strings.Repeat(part, n) {
		t.Fatal("payload mismatch")
	}
	cfg.lim.MaxMessage--
	if r := decodeWhole(cfg, stream); r.err != ErrMessageTooBig {
		t.Fatalf("one byte over: %v", r.err)
	}
}

// TestMaxFragments: a message of exactly MaxFragments frames passes, and
// the count starts again with the next message.
func TestMaxFragments(t *testing.T) {
	lim := &Limits{MaxFragments: 3}
	msg3 := cat(cf(false, 0, OpText, "a"), cf(false, 0, OpContinuation, "b"), cf(true, 0, OpContinuation, "c"))
	c := decodeCase{"three fragments twice", decodeConfig{lim: lim}, cat(msg3, cf(true, 0, OpPing, ""), msg3),
		[]event{msg(OpText, "abc"), ctl(OpPing, ""), msg(OpText, "abc")}, nil}
	checkCase(t, c, false)
}

// TestTakeFrames counts frame headers, whole or split across Feed calls,
// data and control, and resets on each call.
func TestTakeFrames(t *testing.T) {
	var d Decoder
	d.Init(nil, false, false)
	var h recorder
	stream := cat(cf(false, 0, OpText, "a"), cf(true, 0, OpPing, "p"), cf(false, 0, OpContinuation, ""), cf(true, 0, OpContinuation, "b"), cf(true, 0, OpPong, ""))
	if err := d.Feed(append([]byte(nil), stream[:8]...), &h); err != nil {
		t.Fatal(err)
	}
	if n := d.TakeFrames(); n != 1 {
		t.Fatalf("after the first frame's header: %d frames, want 1", n)
	}
	if err := d.Feed(append([]byte(nil), stream[8:]...), &h); err != nil {
		t.Fatal(err)
	}
	if n := d.TakeFrames(); n != 4 {
		t.Fatalf("after the rest: %d frames, want 4", n)
	}
	if n := d.TakeFrames(); n != 0 {
		t.Fatalf("second TakeFrames: %d, want 0", n)
	}
}

// releasingHandler calls Release on its decoder from inside OnControl, as a
// server closing the connection from a callback would.
type releasingHandler struct {
	recorder
	d *Decoder
}

func (h *releasingHandler) OnControl(op Opcode, p []byte) error {
	h.d.Release()
	return h.recorder.OnControl(op, p)
}

func TestDecoderReleaseInCallback(t *testing.T) {
	stream := cat(cf(false, 0, OpText, "abc"), cf(true, 0, OpPing, "x"), cf(true, 0, OpContinuation, "d"), cf(true, 0, OpText, "e"))
	for cut := 0; cut <= len(stream); cut++ {
		var d Decoder
		d.Init(nil, false, false)
		h := releasingHandler{d: &d}
		data := bytes.Clone(stream)
		err := d.Feed(data[:cut], &h)
		if err == nil {
			err = d.Feed(data[cut:], &h)
		}
		if len(h.events) != 1 || d.Buffered() {
			t.Fatalf("cut %d: events %v buffered %v", cut, h.events, d.Buffered())
		}
		if err != nil && err != ErrDecoderFailed {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if err := d.Feed(cf(true, 0, OpText, "x"), &h); err != ErrDecoderFailed {
			t.Fatalf("cut %d: Feed after Release: %v", cut, err)
		}
	}
}

// aliasHandler records where the payload of the last message lives.
type aliasHandler struct{ p []byte }

func (h *aliasHandler) OnMessage(op Opcode, compressed bool, p []byte) error {
	h.p = p
	return nil
}
func (h *aliasHandler) OnControl(op Opcode, p []byte) error { h.p = p; return nil }

// TestZeroCopy: a frame complete in the data, or whose header ended the
// previous data, is delivered as a sub-slice of the data.
func TestZeroCopy(t *testing.T) {
	for _, op := range []Opcode{OpText, OpPing} {
		f := cf(true, 0, op, "payload bytes")
		hs := HeaderSize(13, true)
		var d Decoder
		d.Init(nil, false, false)
		var h aliasHandler
		data := bytes.Clone(f)
		if err := d.Feed(data, &h); err != nil || &h.p[0] != &data[hs] {
			t.Fatalf("%v complete frame: err %v, payload not aliased", op, err)
		}
		data = bytes.Clone(f)
		h.p = nil
		if err := d.Feed(data[:hs], &h); err != nil || h.p != nil || d.Buffered() {
			t.Fatalf("%v header only: err %v buffered %v", op, err, d.Buffered())
		}
		if err := d.Feed(data[hs:], &h); err != nil || &h.p[0] != &data[hs] || string(h.p) != "payload bytes" {
			t.Fatalf("%v payload after header: err %v, payload %q not aliased", op, err, h.p)
		}
	}
}

// TestHugeHeaderNoLimits: with no limits, a header announcing 1 GiB followed
// by a few bytes must not make the decoder allocate anywhere near that.
func TestHugeHeaderNoLimits(t *testing.T) {
	var d Decoder
	d.Init(nil, true, false)
	defer d.Release()
	f := AppendHeader(nil, true, 0, OpBinary, 1<<30, nil)
	f = append(f, "some payload"...)
	if err := d.Feed(f, &recorder{}); err != nil {
		t.Fatal(err)
	}
	if !d.Buffered() || cap(*d.st.buf) > 2*maxPrealloc {
		t.Fatalf("buffered %v cap %d", d.Buffered(), cap(*d.st.buf))
	}
}
