package loadtest

import (
	"io"
	"net"
	"testing"
	"time"

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
	cl, err := NewClient(ClientOptions{}, stats.NewRecorder())
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

// The steady-state echo path (decode a reply, check its stamp, record the
// latency, send the next masked message) allocates nothing.
func TestEchoHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	e := &env{cfg: &Config{Size: 128}}
	ev := newEchoEvents(e)
	c := openPair(t, ev)
	e.sending.Store(true)
	reply := append([]byte(nil), ev.template...)
	putStamp(reply, time.Now().UnixNano(), c.ID, 1)
	wire := frame.AppendFrame(nil, true, 0, frame.OpText, reply)
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
		t.Errorf("echo hot path: %.1f allocs per message", allocs)
	}
	if c.cl.rec.C.Delivered.Load() == 0 || c.cl.rec.C.MsgsOut.Load() == 0 {
		t.Error("hot path did not deliver and send")
	}
}

func BenchmarkEchoHotPath(b *testing.B) {
	e := &env{cfg: &Config{Size: 128}}
	ev := newEchoEvents(e)
	c := openPair(b, ev)
	e.sending.Store(true)
	reply := append([]byte(nil), ev.template...)
	putStamp(reply, time.Now().UnixNano(), c.ID, 1)
	wire := frame.AppendFrame(nil, true, 0, frame.OpText, reply)
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

func BenchmarkStampParse(b *testing.B) {
	p := newPayload(64, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		putStamp(p, int64(i), 7, uint64(i))
		if _, _, _, ok := parseStamp(p); !ok {
			b.Fatal("bad stamp")
		}
	}
}
