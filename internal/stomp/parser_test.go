package stomp

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

// parseCase is a stream and what parsing it must produce.
type parseCase struct {
	name     string
	cfg      parseConfig
	stream   string
	events   []event
	err      error
	buffered bool
}

// checkEverySplit parses c.stream whole, byte by byte, cut in two at every
// offset and in three at pairs of offsets, and wants c's result each time.
func checkEverySplit(t *testing.T, c parseCase) {
	t.Helper()
	want := result{events: c.events, err: c.err, buffered: c.buffered}
	stream := []byte(c.stream)
	if got := parseWhole(c.cfg, stream); !sameResult(got, want) {
		t.Fatalf("whole:\n got %v\nwant %v", got, want)
	}
	if got := parseBytewise(c.cfg, stream); !sameResult(got, want) {
		t.Fatalf("byte by byte:\n got %v\nwant %v", got, want)
	}
	for i := 0; i <= len(stream); i++ {
		if got := parseChunks(c.cfg, stream, i); !sameResult(got, want) {
			t.Fatalf("split at %d:\n got %v\nwant %v", i, got, want)
		}
		for j := i; j <= len(stream) && len(stream) <= 200; j += 3 {
			if got := parseChunks(c.cfg, stream, i, j); !sameResult(got, want) {
				t.Fatalf("split at %d and %d:\n got %v\nwant %v", i, j, got, want)
			}
		}
	}
}

func validCases() []parseCase {
	return []parseCase{
		{name: "send without content-length",
			stream: "SEND\ndestination:/queue/a\n\nhello\x00",
			events: []event{fev(CmdSend, "hello", "destination", "/queue/a")}},
		{name: "content-length body with NULs",
			stream: "SEND\ndestination:/q\ncontent-length:5\n\na\x00b\x00c\x00",
			events: []event{fev(CmdSend, "a\x00b\x00c", "destination", "/q", "content-length", "5")}},
		{name: "content-length zero",
			stream: "SEND\ncontent-length:0\n\n\x00",
			events: []event{fev(CmdSend, "", "content-length", "0")}},
		{name: "content-length with leading zeros",
			stream: "MESSAGE\ncontent-length:003\n\nabc\x00",
			events: []event{fev(CmdMessage, "abc", "content-length", "003")}},
		{name: "CRLF everywhere",
			stream: "SEND\r\ndestination:/q\r\nx:y\r\n\r\nbody\r\n\x00\r\n",
			events: []event{fev(CmdSend, "body\r\n", "destination", "/q", "x", "y"), hb}},
		{name: "heart-beats only",
			stream: "\n\r\n\n",
			events: []event{hb, hb, hb}},
		{name: "frames and heart-beats",
			stream: "\nSUBSCRIBE\nid:0\ndestination:/t\n\n\x00\n\n\r\nSEND\ndestination:/t\n\nx\x00UNSUBSCRIBE\nid:0\n\n\x00",
			events: []event{hb, fev(CmdSubscribe, "", "id", "0", "destination", "/t"), hb, hb, hb,
				fev(CmdSend, "x", "destination", "/t"), fev(CmdUnsubscribe, "", "id", "0")}},
		{name: "trailing CR kept pending",
			stream: "SEND\n\n\x00\r",
			events: []event{fev(CmdSend, "")}},
		{name: "frame split at the end",
			stream:   "SEND\ndestination:/q\n\nhel",
			buffered: true},
		{name: "repeated headers kept in order",
			stream: "MESSAGE\nfoo:World\nfoo:Hello\n\n\x00",
			events: []event{fev(CmdMessage, "", "foo", "World", "foo", "Hello")}},
		{name: "escapes decoded",
			stream: "SEND\na\\cb:x\\ny\\\\z\\r\\c\n\n\x00",
			events: []event{fev(CmdSend, "", "a:b", "x\ny\\z\r:")}},
		{name: "escapes in 1.1",
			cfg:    parseConfig{ver: V11},
			stream: "SEND\nk:a\\nb\\cc\\\\\n\n\x00",
			events: []event{fev(CmdSend, "", "k", "a\nb:c\\")}},
		{name: "no escapes in 1.0",
			cfg:    parseConfig{ver: V10},
			stream: "SEND\nk:a\\tb\\\n\n\x00",
			events: []event{fev(CmdSend, "", "k", "a\\tb\\")}},
		{name: "CONNECT is not unescaped",
			stream: "CONNECT\naccept-version:1.2\npasscode:a\\tb\\\nhost:h:1\n\n\x00",
			events: []event{fev(CmdConnect, "", "accept-version", "1.2", "passcode", "a\\tb\\", "host", "h:1")}},
		{name: "STOMP and CONNECTED are not unescaped",
			stream: "STOMP\nlogin:\\x\n\n\x00CONNECTED\nserver:a\\b\n\n\x00",
			events: []event{fev(CmdStomp, "", "login", "\\x"), fev(CmdConnected, "", "server", "a\\b")}},
		{name: "empty value, colon in value, spaces kept",
			stream: "ERROR\nempty:\nurl:http://x\nmessage: malformed \n\n\x00",
			events: []event{fev(CmdError, "", "empty", "", "url", "http://x", "message", " malformed ")}},
		{name: "only one CR is an EOL",
			stream: "SEND\nk:v\r\r\n\n\x00",
			events: []event{fev(CmdSend, "", "k", "v\r")}},
		{name: "NUL where a header line starts ends the frame",
			stream: "DISCONNECT\nreceipt:77\n\x00RECEIPT\nreceipt-id:77\r\n\x00",
			events: []event{fev(CmdDisconnect, "", "receipt", "77"), fev(CmdReceipt, "", "receipt-id", "77")}},
		{name: "first content-length wins",
			stream: "SEND\ncontent-length:3\ncontent-length:junk\n\na\x00c\x00",
			events: []event{fev(CmdSend, "a\x00c", "content-length", "3", "content-length", "junk")}},
		{name: "escaped content-length name counts",
			stream: "SEND\ncontent-length:2\n\n\x00\x00\x00",
			events: []event{fev(CmdSend, "\x00\x00", "content-length", "2")}},
		{name: "body with EOLs and colons",
			stream: "SEND\n\n\na:b\r\n\\c\x00",
			events: []event{fev(CmdSend, "\na:b\r\n\\c")}},
		{name: "every command",
			stream: "CONNECT\n\n\x00STOMP\n\n\x00CONNECTED\n\n\x00SEND\n\n\x00SUBSCRIBE\n\n\x00UNSUBSCRIBE\n\n\x00" +
				"ACK\n\n\x00NACK\n\n\x00BEGIN\n\n\x00COMMIT\n\n\x00ABORT\n\n\x00DISCONNECT\n\n\x00" +
				"MESSAGE\n\n\x00RECEIPT\n\n\x00ERROR\n\n\x00",
			events: []event{fev(CmdConnect, ""), fev(CmdStomp, ""), fev(CmdConnected, ""), fev(CmdSend, ""),
				fev(CmdSubscribe, ""), fev(CmdUnsubscribe, ""), fev(CmdAck, ""), fev(CmdNack, ""),
				fev(CmdBegin, ""), fev(CmdCommit, ""), fev(CmdAbort, ""), fev(CmdDisconnect, ""),
				fev(CmdMessage, ""), fev(CmdReceipt, ""), fev(CmdError, "")}},
	}
}

func TestParseValid(t *testing.T) {
	for _, c := range validCases() {
		t.Run(c.name, func(t *testing.T) { checkEverySplit(t, c) })
	}
}

func errorCases() []parseCase {
	return []parseCase{
		{name: "unknown command", stream: "FOO\n\n\x00", err: ErrBadCommand},
		{name: "lower case command", stream: "send\n\n\x00", err: ErrBadCommand},
		{name: "command with trailing space", stream: "SEND \n\n\x00", err: ErrBadCommand},
		{name: "empty command line", stream: "SEND\n\n\x00\x00\n", events: []event{fev(CmdSend, "")}, err: ErrBadCommand},
		{name: "stray CR", stream: "\n\rSEND\n\n\x00", events: []event{hb}, err: ErrStrayCR},
		{name: "header without colon", stream: "SEND\nnocolon\n\n\x00", err: ErrBadHeader},
		{name: "empty header name", stream: "SEND\n:v\n\n\x00", err: ErrBadHeader},
		{name: "undefined escape", stream: "SEND\nk:\\t\n\n\x00", err: ErrBadEscape},
		{name: "undefined escape in name", stream: "SEND\n\\x:v\n\n\x00", err: ErrBadEscape},
		{name: "backslash at end of value", stream: "SEND\nk:v\\\n\n\x00", err: ErrBadEscape},
		{name: "backslash at end of name", stream: "SEND\nk\\:v\n\n\x00", err: ErrBadEscape},
		{name: "CR escape in 1.1", cfg: parseConfig{ver: V11}, stream: "SEND\nk:\\r\n\n\x00", err: ErrBadEscape},
		{name: "content-length not a number", stream: "SEND\ncontent-length:abc\n\n\x00", err: ErrBadContentLength},
		{name: "content-length negative", stream: "SEND\ncontent-length:-1\n\n\x00", err: ErrBadContentLength},
		{name: "content-length empty", stream: "SEND\ncontent-length:\n\n\x00", err: ErrBadContentLength},
		{name: "content-length with space", stream: "SEND\ncontent-length: 1\n\nx\x00", err: ErrBadContentLength},
		{name: "content-length overflow", stream: "SEND\ncontent-length:99999999999999999999999\n\n", err: ErrBodyTooLarge},
		{name: "content-length and NUL at line start", stream: "SEND\ncontent-length:2\n\x00", err: ErrBadContentLength},
		{name: "missing NUL", stream: "SEND\ncontent-length:3\n\nabcd\x00", err: ErrMissingNUL},
		{name: "body on SUBSCRIBE", stream: "SUBSCRIBE\nid:1\n\nbody\x00", err: ErrUnexpectedBody},
		{name: "content-length body on ACK", stream: "ACK\ncontent-length:1\n\nx\x00", err: ErrUnexpectedBody},
		{name: "EOL body on DISCONNECT", stream: "DISCONNECT\n\n\n\x00", err: ErrUnexpectedBody},
		{name: "error after a good frame",
			stream: "SEND\n\nok\x00\nBAD\n\n\x00", events: []event{fev(CmdSend, "ok"), hb}, err: ErrBadCommand},
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range errorCases() {
		t.Run(c.name, func(t *testing.T) { checkEverySplit(t, c) })
	}
}

func TestLimits(t *testing.T) {
	all := parseConfig{lim: &Limits{MaxFrame: 31, MaxHeaderLine: 10, MaxHeaders: 2, MaxBody: 3}}
	body := parseConfig{lim: &Limits{MaxBody: 3}}
	frame := parseConfig{lim: &Limits{MaxFrame: 40}}
	x := func(n int) string { return strings.Repeat("x", n) }
	cases := []parseCase{
		// 31 bytes; its longest line, "ab:defgh\r\n", is 10.
		{name: "at every limit", cfg: all, stream: "SEND\nab:defgh\r\nk:v\n\nxyz\x00\n",
			events: []event{fev(CmdSend, "xyz", "ab", "defgh", "k", "v"), hb}},
		{name: "header line too long", cfg: all, stream: "SEND\nab:defghi\r\n\n\x00", err: ErrHeaderTooLong},
		{name: "command line too long", cfg: all, stream: "UNSUBSCRIBE\n\n\x00", err: ErrHeaderTooLong},
		{name: "endless line", cfg: all, stream: "SEND\nabcdefghijklmnopqrstuvwxyz", err: ErrHeaderTooLong},
		{name: "too many headers", cfg: all, stream: "SEND\na:1\nb:2\nc:3\n\n\x00", err: ErrTooManyHeaders},
		{name: "frame too large in headers", cfg: all, stream: "SEND\na:1234567\nb:1234567\nc:123456", err: ErrFrameTooLarge},
		// The third line starts at 21: byte 31 crosses both limits; the
		// line's is reported.
		{name: "line and frame limits on the same byte", cfg: all, stream: "SEND\na:12345\nb:12345\nc:" + x(20),
			err: ErrHeaderTooLong},
		{name: "frame limit before line limit", cfg: all, stream: "SEND\na:123456\nb:123456\nc:" + x(20),
			err: ErrFrameTooLarge},
		{name: "body at its limit", cfg: body, stream: "SEND\n\nabc\x00", events: []event{fev(CmdSend, "abc")}},
		{name: "body too large", cfg: body, stream: "SEND\n\nabcd\x00", err: ErrBodyTooLarge},
		{name: "body too large, no NUL yet", cfg: body, stream: "SEND\n\nabcd", err: ErrBodyTooLarge},
		{name: "content-length too large", cfg: body, stream: "SEND\ncontent-length:4\n\n", err: ErrBodyTooLarge},
		{name: "body fills the frame", cfg: frame, stream: "SEND\n\n" + x(33) + "\x00", events: []event{fev(CmdSend, x(33))}},
		{name: "frame too large in body", cfg: frame, stream: "SEND\n\n" + x(40), err: ErrFrameTooLarge},
		{name: "frame too large at the NUL", cfg: frame, stream: "SEND\n\n" + x(34) + "\x00", err: ErrFrameTooLarge},
		{name: "frame too large at a NUL where a line starts", cfg: frame, stream: "SEND\nk:" + x(32) + "\n\x00",
			err: ErrFrameTooLarge},
		{name: "header fills the frame", cfg: frame, stream: "SEND\nk:" + x(31) + "\n\x00",
			events: []event{fev(CmdSend, "", "k", x(31))}},
		{name: "content-length makes the frame too large", cfg: frame, stream: "SEND\ncontent-length:30\n\n", err: ErrFrameTooLarge},
		{name: "content-length fills the frame", cfg: frame, stream: "SEND\ncontent-length:15\n\n" + x(15) + "\x00",
			events: []event{fev(CmdSend, x(15), "content-length", "15")}},
		{name: "content-length one byte too many", cfg: frame, stream: "SEND\ncontent-length:16\n\n", err: ErrFrameTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkEverySplit(t, c) })
	}
}

// An idle parser is its configuration alone; everything else is pooled.
func TestParserSize(t *testing.T) {
	if n := unsafe.Sizeof(Parser{}); n > 24 {
		t.Fatalf("Parser is %d bytes, want at most 24", n)
	}
}

// A split frame is held in a bounded buffer, released when it completes.
func TestSplitFrameBuffer(t *testing.T) {
	body := strings.Repeat("x", 3000)
	stream := []byte("SEND\ncontent-length:3000\n\n" + body + "\x00")
	var p Parser
	lim := DefaultLimits()
	p.Init(&lim)
	r := &recorder{p: &p}
	if err := p.Feed(append([]byte(nil), stream[:100]...), r); err != nil || !p.Buffered() {
		t.Fatalf("first part: err %v buffered %v", err, p.Buffered())
	}
	if c := cap(*p.st.buf); c < len(stream) || c > 2*len(stream)+1024 {
		t.Fatalf("buffer capacity %d for a %d-byte frame", c, len(stream))
	}
	if err := p.Feed(append([]byte(nil), stream[100:]...), r); err != nil {
		t.Fatal(err)
	}
	if p.Buffered() || p.st != nil {
		t.Fatalf("parser holds state after the frame completed")
	}
	if len(r.events) != 1 || r.events[0].body != body {
		t.Fatalf("got %v", r.events)
	}

	// Without content-length, with a frame limit: the buffer never grows
	// past the limit, whatever the peer sends.
	lim = Limits{MaxFrame: 1000}
	p.Init(&lim)
	if err := p.Feed([]byte("SEND\n\n"), r); err != nil {
		t.Fatal(err)
	}
	err := p.Feed([]byte(strings.Repeat("y", 5000)), r)
	if err != ErrFrameTooLarge {
		t.Fatalf("err %v, want ErrFrameTooLarge", err)
	}
	if p.Buffered() {
		t.Fatal("buffer kept after an error")
	}
}

func TestHandlerErrorAndRelease(t *testing.T) {
	stream := []byte("SEND\n\na\x00\nSEND\n\nb\x00")
	var p Parser
	r := &recorder{p: &p, failOn: 2}
	if err := p.Feed(append([]byte(nil), stream...), r); err != errHandler {
		t.Fatalf("err %v, want the handler's", err)
	}
	if len(r.events) != 2 {
		t.Fatalf("events %v", r.events)
	}
	if err := p.Feed([]byte("SEND\n\n\x00"), r); err != ErrParserFailed {
		t.Fatalf("after an error: %v", err)
	}

	// Release inside a callback stops Feed after it, without an error.
	p.Init(nil)
	r = &recorder{p: &p, releaseOn: 1}
	if err := p.Feed(append([]byte(nil), stream...), r); err != nil || len(r.events) != 1 {
		t.Fatalf("err %v events %v", err, r.events)
	}
	if err := p.Feed([]byte("SEND\n\n\x00"), r); err != ErrParserFailed {
		t.Fatalf("after Release: %v", err)
	}
	// Release in the middle of a split frame returns its buffer.
	p.Init(nil)
	if err := p.Feed([]byte("SEND\n\nabc"), r); err != nil || !p.Buffered() {
		t.Fatalf("err %v buffered %v", err, p.Buffered())
	}
	p.Release()
	if p.Buffered() || p.st != nil {
		t.Fatal("Release kept state")
	}
	var se *Error
	if err := p.Feed(nil, r); !errors.As(err, &se) || se.Code != CodeParserFailed {
		t.Fatalf("err %v", err)
	}
}

// SetVersion called while handling CONNECT applies to the frames that
// follow in the same data.
func TestSetVersionFromHandler(t *testing.T) {
	stream := []byte("CONNECT\naccept-version:1.0\n\n\x00SEND\nk:a\\tb\n\n\x00")
	var p Parser
	r := &recorder{p: &p, setVersion: V10}
	if err := p.Feed(stream, r); err != nil {
		t.Fatal(err)
	}
	want := []event{fev(CmdConnect, "", "accept-version", "1.0"), fev(CmdSend, "", "k", "a\\tb")}
	if got := (result{events: r.events}); !sameResult(got, result{events: want}) {
		t.Fatalf("got %v", got)
	}
	if p.Version() != V10 {
		t.Fatalf("version %v", p.Version())
	}
}

func TestHeadersAccess(t *testing.T) {
	stream := []byte("MESSAGE\nfoo:World\nfoo:Hello\nempty:\nes\\ccaped:a\\nb\n\n\x00")
	var got *Frame
	h := frameFunc(func(f *Frame) error {
		got = f
		if v := f.Headers.Get("foo"); string(v) != "World" {
			t.Errorf("foo = %q", v)
		}
		if v, ok := f.Headers.Lookup("empty"); !ok || v == nil || len(v) != 0 {
			t.Errorf("empty = %q %v", v, ok)
		}
		if v, ok := f.Headers.Lookup("missing"); ok || v != nil {
			t.Errorf("missing = %q %v", v, ok)
		}
		if v := f.Headers.Get("es:caped"); string(v) != "a\nb" {
			t.Errorf("es:caped = %q", v)
		}
		if v := f.Headers.Get("Foo"); v != nil {
			t.Errorf("names are case sensitive: %q", v)
		}
		v := f.Headers.Get("foo")
		_ = append(v, "XXXXXXXX"...) // must not overwrite the next header
		if n, v := f.Headers.At(1); string(n) != "foo" || string(v) != "Hello" {
			t.Errorf("At(1) = %q %q", n, v)
		}
		return nil
	})
	var p Parser
	if err := p.Feed(stream, h); err != nil || got == nil {
		t.Fatalf("err %v", err)
	}
	if got.Headers.Len() != 0 || got.Body != nil {
		t.Fatal("frame not cleared after OnFrame")
	}
}

// frameFunc adapts a function to Handler, ignoring heart-beats.
type frameFunc func(*Frame) error

func (f frameFunc) OnFrame(fr *Frame) error { return f(fr) }
func (frameFunc) OnHeartbeat() error        { return nil }

func TestCommandAndCodeNames(t *testing.T) {
	for c := CmdConnect; c <= CmdError; c++ {
		if lookupCommand([]byte(c.String())) != c {
			t.Errorf("%v does not round-trip", c)
		}
	}
	if Command(0).String() != "INVALID" || Command(99).Valid() {
		t.Error("invalid command")
	}
	if !CmdSend.FromClient() || CmdMessage.FromClient() || !CmdStomp.FromClient() || CmdConnected.FromClient() {
		t.Error("FromClient")
	}
	seen := map[string]bool{}
	for c := CodeBadCommand; c < numCodes; c++ {
		s := c.String()
		if s == "unknown" || seen[s] {
			t.Errorf("code %d name %q", c, s)
		}
		seen[s] = true
	}
	if Code(0).String() != "unknown" {
		t.Error("zero code")
	}
	if ErrFrameTooLarge.Reason() != "frame too large" || ErrFrameTooLarge.Error() != "stomp: frame too large" {
		t.Error("error text")
	}
}
