package wstest

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
)

// pipe returns a Conn reading what the returned server end writes.
func pipe(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	c := NewConn(client).Bind(t)
	c.Timeout = 2 * time.Second
	return c, server
}

func TestReadFrameLengths(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536, 70000} {
		c, srv := pipe(t)
		payload := bytes.Repeat([]byte{'x'}, n)
		go func() {
			srv.Write(frame.AppendFrame(nil, false, frame.RSV2, frame.OpBinary, payload))
		}()
		f, err := c.ReadFrame()
		if err != nil {
			t.Fatalf("len %d: %v", n, err)
		}
		if f.Fin || f.Rsv != frame.RSV2 || f.Op != frame.OpBinary || !bytes.Equal(f.Payload, payload) {
			t.Fatalf("len %d: got %v", n, f)
		}
	}
}

func TestReadFrameRejectsMaskedServerFrame(t *testing.T) {
	c, srv := pipe(t)
	go func() {
		srv.Write(frame.AppendMaskedFrame(nil, true, 0, frame.OpText, [4]byte{1, 2, 3, 4}, []byte("hi")))
	}()
	if _, err := c.ReadFrame(); !errors.Is(err, ErrMaskedServerFrame) {
		t.Fatalf("got %v, want ErrMaskedServerFrame", err)
	}
}

func TestReadMessageJoinsFragments(t *testing.T) {
	c, srv := pipe(t)
	go func() {
		b := frame.AppendFrame(nil, false, 0, frame.OpText, []byte("ab"))
		b = frame.AppendFrame(b, false, 0, frame.OpContinuation, []byte("cd"))
		b = frame.AppendFrame(b, true, 0, frame.OpContinuation, []byte("e"))
		srv.Write(b)
	}()
	c.ExpectMessage(frame.OpText, []byte("abcde"))
}

func TestReadClose(t *testing.T) {
	cases := []struct {
		payload string
		code    frame.CloseCode
		bad     bool
	}{
		{"", frame.CloseNoStatus, false},
		{"\x03\xe8bye", frame.CloseNormal, false},
		{"\x03", 0, true},
		{"\x03\xed", 0, true},             // 1005 must not be sent
		{"\x03\xe8\xed\xa0\x80", 0, true}, // reason not UTF-8
	}
	for _, tc := range cases {
		c, srv := pipe(t)
		go func() { srv.Write(frame.AppendFrame(nil, true, 0, frame.OpClose, []byte(tc.payload))) }()
		code, _, err := c.ReadClose()
		if (err != nil) != tc.bad || !tc.bad && code != tc.code {
			t.Errorf("payload %q: code %d err %v", tc.payload, code, err)
		}
	}
}

func TestReadEOF(t *testing.T) {
	c, srv := pipe(t)
	go func() { srv.Write([]byte{0x89, 0}) }()
	if err := c.ReadEOF(); !errors.Is(err, ErrNotClosed) {
		t.Fatalf("frame before EOF: got %v, want ErrNotClosed", err)
	}
	c, srv = pipe(t)
	srv.Close()
	if err := c.ReadEOF(); err != nil {
		t.Fatalf("closed pipe: %v", err)
	}
	c, _ = pipe(t)
	c.Timeout = 50 * time.Millisecond
	if err := c.ReadEOF(); err == nil {
		t.Fatal("silent open pipe: ReadEOF succeeded")
	}
}

func TestAppendFrameMasks(t *testing.T) {
	b := AppendFrame(nil, true, 0, frame.OpText, []byte("hello"), true)
	if b[1]&0x80 == 0 || len(b) != 2+4+5 {
		t.Fatalf("masked frame % x", b)
	}
	var key [4]byte
	copy(key[:], b[2:6])
	p := append([]byte(nil), b[6:]...)
	frame.Mask(p, key, 0)
	if string(p) != "hello" {
		t.Fatalf("unmasked payload %q", p)
	}
}

func TestRequestAndAccept(t *testing.T) {
	// RFC 6455 section 1.3's example.
	if got := AcceptFor("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptFor = %q", got)
	}
	req := string(Request("h:1", "/p", "k", "Origin: o"))
	for _, want := range []string{"GET /p HTTP/1.1\r\n", "Host: h:1\r\n", "Sec-WebSocket-Key: k\r\n", "Origin: o\r\n\r\n"} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
}

func TestDiff(t *testing.T) {
	if d := Diff([]byte("abc"), []byte("abc")); d != "equal" {
		t.Fatal(d)
	}
	if d := Diff([]byte("abXd"), []byte("abcd")); !strings.Contains(d, "offset 2") {
		t.Fatal(d)
	}
}
