package stomp

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

var escapeCases = []struct{ raw, wire string }{
	{"", ""},
	{"plain", "plain"},
	{"a:b", "a\\cb"},
	{"line1\nline2", "line1\\nline2"},
	{"cr\r", "cr\\r"},
	{"back\\slash", "back\\\\slash"},
	{"\\n", "\\\\n"}, // a backslash and an n, not a newline
	{"\\", "\\\\"},
	{":\r\n\\", "\\c\\r\\n\\\\"},
	{"::", "\\c\\c"},
	{"héllo wörld ✓", "héllo wörld ✓"},
	{" spaced ", " spaced "},
	{"nul\x00inside", "nul\x00inside"},
}

func TestEscaping(t *testing.T) {
	for _, c := range escapeCases {
		if got := string(appendEscaped(nil, c.raw)); got != c.wire {
			t.Errorf("escape %q = %q, want %q", c.raw, got, c.wire)
		}
		if got := string(appendEscaped(nil, []byte(c.raw))); got != c.wire {
			t.Errorf("escape []byte %q = %q, want %q", c.raw, got, c.wire)
		}
		b := []byte("x" + c.wire + "y")
		end, err := unescape(b, 1, 1+len(c.wire), true)
		if err != nil || string(b[1:end]) != c.raw {
			t.Errorf("unescape %q = %q, %v; want %q", c.wire, b[1:end], err, c.raw)
		}
		if b[len(b)-1] != 'y' {
			t.Errorf("unescape %q wrote past its end", c.wire)
		}
		// Through a whole frame: the name and the value both escaped.
		name := "n" + c.raw
		wire := AppendFrame(nil, CmdSend, []Header{{name, c.raw}}, nil)
		want := []event{fev(CmdSend, "", name, c.raw, HeaderContentLength, "0")}
		checkEverySplit(t, parseCase{stream: string(wire), events: want})
	}
	for _, bad := range []string{"\\", "a\\", "\\t", "\\C", "\\N", "\\ ", "\\0", "ok\\x", "\\\\\\"} {
		b := []byte(bad)
		if _, err := unescape(b, 0, len(b), true); err != ErrBadEscape {
			t.Errorf("unescape %q: err %v, want ErrBadEscape", bad, err)
		}
	}
	b := []byte("\\r")
	if _, err := unescape(b, 0, 2, false); err != ErrBadEscape {
		t.Errorf("\\r without 1.2: %v", err)
	}
}

func TestAppendHeaderModes(t *testing.T) {
	for _, c := range []struct {
		cmd  Command
		want string
	}{
		{CmdSend, "k\\cx:a\\cb\\\\\n"},
		{CmdMessage, "k\\cx:a\\cb\\\\\n"},
		{CmdConnect, "k:x:a:b\\\n"},
		{CmdStomp, "k:x:a:b\\\n"},
		{CmdConnected, "k:x:a:b\\\n"},
	} {
		s := string(AppendHeader(nil, c.cmd, "k:x", "a:b\\"))
		b := string(AppendHeader(nil, c.cmd, []byte("k:x"), []byte("a:b\\")))
		if s != c.want || b != c.want {
			t.Errorf("%v: %q / %q, want %q", c.cmd, s, b, c.want)
		}
	}
}

// Frames encoded by AppendFrame parse back to the same command, headers
// (plus the content-length AppendFrame adds) and body.
func TestAppendFrameRoundTrip(t *testing.T) {
	cases := []struct {
		cmd     Command
		headers []Header
		body    string
	}{
		{CmdSend, []Header{{"destination", "/queue/a"}, {"content-type", "text/plain"}}, "hello"},
		{CmdSend, nil, "binary\x00with\x00NULs\x00"},
		{CmdSend, []Header{{"weird:name", "line\nbreak"}, {"weird:name", "second"}}, ""},
		{CmdMessage, []Header{{"destination", "/t"}, {"subscription", "s-1"}, {"message-id", "m:1"}}, "\n\r\n"},
		{CmdError, []Header{{"message", "bad frame"}}, "details"},
		{CmdSubscribe, []Header{{"id", "0"}, {"destination", "/topic/x"}, {"ack", "client-individual"}}, ""},
		{CmdConnect, []Header{{"accept-version", "1.1,1.2"}, {"host", "h:8080"}, {"passcode", "p\\w"}}, ""},
		{CmdConnected, []Header{{"version", "1.2"}, {"heart-beat", "0,0"}}, ""},
		{CmdDisconnect, []Header{{"receipt", "77"}}, ""},
	}
	var stream []byte
	var want []event
	for _, c := range cases {
		wire := AppendFrame(nil, c.cmd, c.headers, []byte(c.body))
		stream = append(stream, wire...)
		e := event{cmd: c.cmd, body: c.body}
		for _, h := range c.headers {
			e.headers = append(e.headers, [2]string{h.Name, h.Value})
		}
		if c.cmd.AllowsBody() {
			e.headers = append(e.headers, [2]string{HeaderContentLength, strconv.Itoa(len(c.body))})
		}
		want = append(want, e)
		checkEverySplit(t, parseCase{stream: string(wire), events: want[len(want)-1:]})
	}
	if got := parseWhole(parseConfig{}, stream); !sameResult(got, result{events: want}) {
		t.Fatalf("all frames in one stream:\n got %v\nwant %v", got, result{events: want})
	}
}

// The two-part broadcast encodings write exactly what AppendFrame writes.
func TestMessageHeadTailMatchAppendFrame(t *testing.T) {
	body := []byte("payload with \x00 NUL and\nnewline")
	dest, sub, mid, ct := "/topic/chat:room", "sub-7", []byte("m\\42"), "application/json"
	frame := AppendFrame(nil, CmdMessage, []Header{
		{HeaderDestination, dest}, {HeaderSubscription, sub}, {HeaderMessageID, string(mid)},
		{"x-user", "u:1"}, {HeaderContentType, ct},
	}, body)

	// Head per subscriber (destination, subscription, message-id), shared
	// tail with user headers, content-type, content-length and the body.
	tail := AppendHeader(nil, CmdMessage, "x-user", "u:1")
	tail = AppendMessageTail(tail, ct, body)
	head := AppendMessageHead(nil, dest, sub, mid)
	if got := append(head, tail...); !bytes.Equal(got, frame) {
		t.Fatalf("head+tail:\n got %q\nwant %q", got, frame)
	}

	// Head with everything up to content-length, tail = blank line, body,
	// NUL (AppendBody).
	head = AppendMessageHead(head[:0], []byte(dest), []byte(sub), string(mid))
	head = AppendHeader(head, CmdMessage, "x-user", []byte("u:1"))
	head = AppendHeader(head, CmdMessage, HeaderContentType, ct)
	head = AppendContentLength(head, len(body))
	if got := append(head, AppendBody(nil, body)...); !bytes.Equal(got, frame) {
		t.Fatalf("full head + body tail:\n got %q\nwant %q", got, frame)
	}

	// Minimal head (subscription and ack), everything else shared.
	frame = AppendFrame(nil, CmdMessage, []Header{
		{HeaderSubscription, sub}, {HeaderAck, "a-1"},
		{HeaderDestination, dest}, {HeaderMessageID, string(mid)}, {HeaderContentType, ct},
	}, body)
	tail = AppendHeader(tail[:0], CmdMessage, HeaderDestination, dest)
	tail = AppendHeader(tail, CmdMessage, HeaderMessageID, mid)
	tail = AppendMessageTail(tail, []byte(ct), body)
	head = AppendCommand(head[:0], CmdMessage)
	head = AppendHeader(head, CmdMessage, HeaderSubscription, sub)
	head = AppendHeader(head, CmdMessage, HeaderAck, "a-1")
	if got := append(head, tail...); !bytes.Equal(got, frame) {
		t.Fatalf("minimal head + tail:\n got %q\nwant %q", got, frame)
	}

	// No content-type: the header is left out.
	frame = AppendFrame(nil, CmdMessage, []Header{{HeaderDestination, "d"}, {HeaderSubscription, "s"}, {HeaderMessageID, "m"}}, nil)
	got := AppendMessageTail(AppendMessageHead(nil, "d", "s", "m"), "", nil)
	if !bytes.Equal(got, frame) {
		t.Fatalf("no content-type:\n got %q\nwant %q", got, frame)
	}
	checkEverySplit(t, parseCase{stream: string(got), events: []event{
		fev(CmdMessage, "", "destination", "d", "subscription", "s", "message-id", "m", "content-length", "0")}})
}

func TestServerFrames(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"receipt", AppendReceipt(nil, []byte("77")), "RECEIPT\nreceipt-id:77\n\n\x00"},
		{"receipt escaped", AppendReceipt(nil, "a:b"), "RECEIPT\nreceipt-id:a\\cb\n\n\x00"},
		{"error", AppendError(nil, ErrFrameTooLarge.Reason(), nil, nil),
			"ERROR\nmessage:frame too large\ncontent-length:0\n\n\x00"},
		{"error with receipt and body", AppendError(nil, "bad: header", []byte("r-1"), []byte("detail")),
			"ERROR\nmessage:bad\\c header\nreceipt-id:r-1\ncontent-type:text/plain\ncontent-length:6\n\ndetail\x00"},
		{"connected", AppendConnected(nil, V12, HeartBeat{Send: 10 * time.Second, Receive: 5 * time.Second}, "s:1", "wsgate/1.0"),
			"CONNECTED\nversion:1.2\nheart-beat:10000,5000\nsession:s:1\nserver:wsgate/1.0\n\n\x00"},
		{"connected bare", AppendConnected(nil, V10, HeartBeat{}, "", ""), "CONNECTED\nversion:1.0\n\n\x00"},
	} {
		if string(c.got) != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, c.got, c.want)
		}
		if r := parseWhole(parseConfig{}, c.got); r.err != nil || len(r.events) != 1 {
			t.Errorf("%s does not parse: %v", c.name, r)
		}
	}
}
