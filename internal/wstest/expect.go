package wstest

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
)

// Dial connects to addr, upgrades path with the extra header lines given,
// and fails tb if that does not succeed. The connection is closed when the
// test ends. The Expect methods of the returned Conn report to tb.
func Dial(tb testing.TB, addr, path string, extra ...string) *Conn {
	tb.Helper()
	c, err := Connect(addr, path, extra...)
	if err != nil {
		tb.Fatalf("dial %s%s: %v", addr, path, err)
	}
	c.tb = tb
	tb.Cleanup(func() { c.NC.Close() })
	return c
}

// DialTCP opens a plain TCP connection to addr, closed when the test ends.
func DialTCP(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	nc, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	tb.Cleanup(func() { nc.Close() })
	return nc
}

// Bind makes c's Expect methods report to tb.
func (c *Conn) Bind(tb testing.TB) *Conn {
	c.tb = tb
	return c
}

func (c *Conn) t() testing.TB {
	if c.tb == nil {
		panic("wstest: Expect method on a Conn not bound to a test (use Dial or Bind)")
	}
	return c.tb
}

// Send writes one frame (see AppendFrame) and fails the test if the write
// fails.
func (c *Conn) Send(fin bool, rsv byte, op frame.Opcode, payload []byte) {
	c.t().Helper()
	if err := c.WriteFrame(fin, rsv, op, payload, true); err != nil {
		c.t().Fatalf("write %v frame: %v", op, err)
	}
}

// TrySend writes one frame and ignores a write error: for frames sent
// after one that should already have failed the connection, when the
// server may have closed TCP.
func (c *Conn) TrySend(fin bool, rsv byte, op frame.Opcode, payload []byte) {
	_ = c.WriteFrame(fin, rsv, op, payload, true)
}

// SendRaw writes b in one write and fails the test if the write fails.
func (c *Conn) SendRaw(b []byte) {
	c.t().Helper()
	if err := c.WriteRaw(b); err != nil {
		c.t().Fatalf("write %d bytes: %v", len(b), err)
	}
}

// ExpectFrame reads one frame and fails the test unless it is a final,
// unreserved frame with op and payload.
func (c *Conn) ExpectFrame(op frame.Opcode, payload []byte) {
	tb := c.t()
	tb.Helper()
	f, err := c.ReadFrame()
	if err != nil {
		tb.Fatalf("want %v frame of %d bytes: %v", op, len(payload), err)
	}
	if f.Op != op || !f.Fin || f.Rsv != 0 {
		tb.Fatalf("want final %v frame of %d bytes, got %v", op, len(payload), f)
	}
	if !bytes.Equal(f.Payload, payload) {
		tb.Fatalf("%v payload: %s", op, Diff(f.Payload, payload))
	}
}

// ExpectMessage reads one data message and fails the test unless it has
// op and payload.
func (c *Conn) ExpectMessage(op frame.Opcode, payload []byte) {
	tb := c.t()
	tb.Helper()
	gotOp, got, err := c.ReadMessage()
	if err != nil {
		tb.Fatalf("want %v message of %d bytes: %v", op, len(payload), err)
	}
	if gotOp != op {
		tb.Fatalf("want %v message, got %v", op, gotOp)
	}
	if !bytes.Equal(got, payload) {
		tb.Fatalf("%v message: %s", op, Diff(got, payload))
	}
}

// Echo sends a final masked message and expects it back unchanged.
func (c *Conn) Echo(op frame.Opcode, payload []byte) {
	c.t().Helper()
	c.Send(true, 0, op, payload)
	c.ExpectMessage(op, payload)
}

// ExpectCloseFrame reads the next frame and fails the test unless it is a
// well-formed close frame with code (frame.CloseNoStatus: empty payload).
// It returns the reason.
func (c *Conn) ExpectCloseFrame(code frame.CloseCode) string {
	tb := c.t()
	tb.Helper()
	got, reason, err := c.ReadClose()
	if err != nil {
		tb.Fatalf("want close %d: %v", code, err)
	}
	if got != code {
		tb.Fatalf("want close %d, got close %d (%q)", code, got, reason)
	}
	return reason
}

// ExpectEOF fails the test unless the server closes TCP before anything
// else arrives and before the deadline.
func (c *Conn) ExpectEOF() {
	c.t().Helper()
	if err := c.ReadEOF(); err != nil {
		c.t().Fatal(err)
	}
}

// ExpectClose expects a close frame with code followed by the server
// closing TCP: the server's side of failing a connection, or of finishing
// a close handshake.
func (c *Conn) ExpectClose(code frame.CloseCode) string {
	c.t().Helper()
	reason := c.ExpectCloseFrame(code)
	c.ExpectEOF()
	return reason
}

// Diff describes how got differs from want without printing megabytes.
func Diff(got, want []byte) string {
	n := min(len(got), len(want))
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	if i == n && len(got) == len(want) {
		return "equal"
	}
	show := func(b []byte) []byte {
		if len(b) > i+16 {
			b = b[:i+16]
		}
		return b[i:]
	}
	return fmt.Sprintf("got %d bytes, want %d; first difference at offset %d: got %q, want %q",
		len(got), len(want), i, show(got), show(want))
}

// WaitFor polls cond every 10 ms until it holds, failing the test with
// what after timeout.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
