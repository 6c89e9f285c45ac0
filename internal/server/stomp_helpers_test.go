package server_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/internal/wstest"
)

// stompFrame is a frame a test client read: headers by name (first
// wins), body, and the WebSocket opcode it came in.
type stompFrame struct {
	cmd  stomp.Command
	hdr  map[string]string
	body []byte
	op   frame.Opcode
}

func (f stompFrame) String() string {
	return f.cmd.String() + " " + strings.ReplaceAll(strings.TrimSpace(strings.Join(hdrList(f.hdr), " ")), "\n", " ") + " body=" + string(f.body)
}

func hdrList(h map[string]string) []string {
	var out []string
	for k, v := range h {
		out = append(out, k+":"+v)
	}
	return out
}

// stompClient is a minimal STOMP client over wstest, for tests: it
// writes frames as text messages and parses what arrives with the codec.
type stompClient struct {
	tb      testing.TB
	ws      *wstest.Conn
	p       stomp.Parser
	pending []stompFrame
	beats   int // heart-beat EOLs read
	lastOp  frame.Opcode
}

// collector is the stomp.Handler that copies frames out.
type collector struct{ c *stompClient }

func (h collector) OnFrame(f *stomp.Frame) error {
	sf := stompFrame{cmd: f.Command, hdr: map[string]string{}, body: append([]byte{}, f.Body...), op: h.c.lastOp}
	for i := range f.Headers.Len() {
		k, v := f.Headers.At(i)
		if _, dup := sf.hdr[string(k)]; !dup {
			sf.hdr[string(k)] = string(v)
		}
	}
	h.c.pending = append(h.c.pending, sf)
	return nil
}

func (h collector) OnHeartbeat() error { h.c.beats++; return nil }

// dialStomp upgrades a connection to addr's STOMP endpoint (extra request
// header lines allowed) without sending CONNECT.
func dialStomp(tb testing.TB, addr string, extra ...string) *stompClient {
	tb.Helper()
	ws, err := wstest.Connect(addr, "/stomp", extra...)
	if err != nil {
		tb.Fatalf("dial /stomp: %v", err)
	}
	tb.Cleanup(func() { ws.Close() })
	return newStompClient(tb, ws)
}

// newStompClient is a STOMP client on an upgraded connection.
func newStompClient(tb testing.TB, ws *wstest.Conn) *stompClient {
	c := &stompClient{tb: tb, ws: ws}
	c.p.Init(nil)
	return c
}

// connectStomp dials and sends CONNECT with headers (name, value pairs);
// it returns the client and the CONNECTED frame.
func connectStomp(tb testing.TB, addr string, headers ...string) (*stompClient, stompFrame) {
	tb.Helper()
	c := dialStomp(tb, addr)
	c.send(stomp.CmdConnect, nil, append([]string{"accept-version", "1.2", "host", "wsgate"}, headers...)...)
	f := c.next()
	if f.cmd != stomp.CmdConnected {
		tb.Fatalf("CONNECT answered with %v", f)
	}
	return c, f
}

// send writes one frame (headers as name, value pairs) as a text message,
// or a binary one when it is not UTF-8 (as stompjs does).
func (c *stompClient) send(cmd stomp.Command, body []byte, headers ...string) {
	c.tb.Helper()
	b := appendStompFrame(nil, cmd, body, headers...)
	op := frame.OpText
	if !frame.ValidUTF8(b) {
		op = frame.OpBinary
	}
	c.write(op, b)
}

func appendStompFrame(dst []byte, cmd stomp.Command, body []byte, headers ...string) []byte {
	hs := make([]stomp.Header, 0, len(headers)/2)
	for i := 0; i+1 < len(headers); i += 2 {
		hs = append(hs, stomp.Header{Name: headers[i], Value: headers[i+1]})
	}
	return stomp.AppendFrame(dst, cmd, hs, body)
}

func (c *stompClient) write(op frame.Opcode, b []byte) {
	c.tb.Helper()
	if err := c.ws.WriteMessage(op, b); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
}

// next returns the next frame, reading messages as needed; a close or
// error fails the test.
func (c *stompClient) next() stompFrame {
	c.tb.Helper()
	f, err := c.nextErr()
	if err != nil {
		c.tb.Fatalf("reading a STOMP frame: %v", err)
	}
	return f
}

var errClosed = errors.New("connection closed")

func (c *stompClient) nextErr() (stompFrame, error) {
	for len(c.pending) == 0 {
		op, msg, err := c.ws.ReadMessage()
		if op == frame.OpClose {
			return stompFrame{}, errClosed
		}
		if err != nil {
			return stompFrame{}, err
		}
		c.lastOp = op
		if err := c.p.Feed(msg, collector{c}); err != nil {
			return stompFrame{}, err
		}
	}
	f := c.pending[0]
	c.pending = c.pending[1:]
	return f, nil
}

// expect returns the next frame, which must have command cmd.
func (c *stompClient) expect(cmd stomp.Command) stompFrame {
	c.tb.Helper()
	f := c.next()
	if f.cmd != cmd {
		c.tb.Fatalf("got %v, want %v", f, cmd)
	}
	return f
}

// expectReceipt returns once the RECEIPT for id arrives; MESSAGEs read
// meanwhile stay pending.
func (c *stompClient) expectReceipt(id string) {
	c.tb.Helper()
	var keep []stompFrame
	for {
		f := c.next()
		if f.cmd == stomp.CmdReceipt && f.hdr["receipt-id"] == id {
			c.pending = append(keep, c.pending...)
			return
		}
		if f.cmd != stomp.CmdMessage {
			c.tb.Fatalf("waiting for RECEIPT %s: got %v", id, f)
		}
		keep = append(keep, f)
	}
}

// expectError reads an ERROR frame and then the close.
func (c *stompClient) expectError(contains string, code frame.CloseCode) stompFrame {
	c.tb.Helper()
	f := c.expect(stomp.CmdError)
	if !strings.Contains(f.hdr["message"], contains) {
		c.tb.Fatalf("ERROR message %q does not contain %q", f.hdr["message"], contains)
	}
	got, _, err := c.ws.ReadClose()
	if err != nil {
		c.tb.Fatalf("after ERROR: %v", err)
	}
	if got != code {
		c.tb.Fatalf("closed with %d after ERROR, want %d", got, code)
	}
	return f
}

// subscribe subscribes with a receipt and waits for it.
func (c *stompClient) subscribe(id, dest string, headers ...string) {
	c.tb.Helper()
	c.send(stomp.CmdSubscribe, nil, append([]string{"id", id, "destination", dest, "receipt", "r-" + id}, headers...)...)
	c.expectReceipt("r-" + id)
}
