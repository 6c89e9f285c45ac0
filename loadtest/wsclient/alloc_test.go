package wsclient

import (
	"io"
	"net"
	"testing"

	"github.com/wsgate/wsgate/frame"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// openPair returns an open client Conn on the event loop whose peer is a
// plain TCP connection whose input is discarded.
func openPair(t testing.TB, ev Events) *Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		s, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, s)
			s.Close()
		}
	}()
	cl, err := New(Options{}, stats.NewRecorder())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(0) })
	tc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := cl.nb.AddConn(tc)
	if err != nil {
		t.Fatal(err)
	}
	c := &Conn{cl: cl, nc: nc, ev: ev, state: stOpen, ID: 1}
	c.dec.Init(&cl.lim, true, false)
	nc.SetSession(c)
	return c
}

// replier answers every message with a copy of it, built in a pooled
// buffer, as a closed-loop scenario does.
type replier struct{ got int }

func (r *replier) Open(*Conn) {}
func (r *replier) Message(c *Conn, op frame.Opcode, p []byte) {
	r.got++
	b := c.GetBuf()
	*b = append((*b)[:0], p...)
	_ = c.SendLocked(op, *b)
	c.PutBuf(b)
}
func (r *replier) Close(*Conn, bool, string) {}
func (r *replier) Fail(*Conn, string, error) {}

// The client's steady-state receive and send path (decode a frame in
// place, hand it to the Events, send the answer as a masked frame)
// allocates nothing.
func TestReceiveHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	ev := &replier{}
	c := openPair(t, ev)
	wire := frame.AppendFrame(nil, true, 0, frame.OpText, make([]byte, 128))
	buf := make([]byte, len(wire))
	c.mu.Lock()
	defer c.mu.Unlock()
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf, wire)
		if err := c.dec.Feed(buf, c); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("receive hot path: %.1f allocs per message", allocs)
	}
	if ev.got == 0 || c.cl.rec.C.MsgsOut.Load() == 0 {
		t.Error("hot path did not deliver and send")
	}
}

func BenchmarkReceiveHotPath(b *testing.B) {
	c := openPair(b, &replier{})
	wire := frame.AppendFrame(nil, true, 0, frame.OpText, make([]byte, 128))
	buf := make([]byte, len(wire))
	b.ReportAllocs()
	c.mu.Lock()
	defer c.mu.Unlock()
	for b.Loop() {
		copy(buf, wire)
		if err := c.dec.Feed(buf, c); err != nil {
			b.Fatal(err)
		}
	}
}
