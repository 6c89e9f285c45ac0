package poller

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testSession is a minimal protocol: it records data and timer firings.
type testSession struct {
	Conn
	mu     sync.Mutex
	got    bytes.Buffer
	timers atomic.Int32
}

func (s *testSession) PollerConn() *Conn { return &s.Conn }

type testHandler struct {
	opened chan *testSession
	closed chan *testSession
	echo   bool
}

func (h *testHandler) OnOpen() Session {
	s := &testSession{}
	return s
}

func (h *testHandler) OnData(_ *Loop, ps Session, data []byte) {
	s := ps.(*testSession)
	if len(data) > 0 && data[0] == '!' && h.opened != nil {
		h.opened <- s
		return
	}
	s.mu.Lock()
	s.got.Write(data)
	s.mu.Unlock()
	if h.echo {
		_ = s.Write(data)
	}
}

func (h *testHandler) OnTimer(ps Session) { ps.(*testSession).timers.Add(1) }

func (h *testHandler) OnClose(ps Session, err error) {
	if h.closed != nil {
		h.closed <- ps.(*testSession)
	}
}

func startEngine(t *testing.T, h Handler, tick time.Duration) (*Engine, string) {
	t.Helper()
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 2, Tick: tick}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e, e.Addrs()[0].String()
}

func TestEchoWrite(t *testing.T) {
	_, addr := startEngine(t, &testHandler{echo: true}, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("abc"), 1000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo mismatch")
	}
}

// sendPattern queues one shared Buf of chunk pattern bytes n times to s,
// flushing every 100, and returns the Buf (one reference is the caller's).
func sendPattern(t *testing.T, s *testSession, chunk, n int) *Buf {
	t.Helper()
	shared := NewBuf(chunk)
	for i := 0; i < chunk; i++ {
		shared.B = append(shared.B, byte(i%251))
	}
	for i := 0; i < n; i++ {
		shared.Retain()
		if _, err := s.Send(shared); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return shared
}

// readPattern reads what sendPattern sent and checks every byte.
func readPattern(t *testing.T, c io.Reader, chunk, n int) {
	t.Helper()
	buf := make([]byte, chunk)
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		for j := range buf {
			if buf[j] != byte(j%251) {
				t.Fatalf("chunk %d byte %d corrupted", i, j)
			}
		}
	}
}

// TestQueueSurvivesFullSocket queues far more than the socket buffers hold
// to a client that does not read, then reads everything: the queue must
// resume on EPOLLOUT and deliver every byte in order, and the shared Bufs
// must all be released.
func TestQueueSurvivesFullSocket(t *testing.T) {
	h := &testHandler{opened: make(chan *testSession, 1)}
	_, addr := startEngine(t, h, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("!"))
	s := <-h.opened

	const chunk = 16 << 10
	const n = 2000 // 32 MiB: far past any socket buffer
	shared := sendPattern(t, s, chunk, n)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if s.Queued() == 0 {
		t.Fatal("expected bytes to stay queued while the client does not read")
	}
	if s.BlockedSince() == 0 {
		t.Fatal("a full socket must be reported as blocked")
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	readPattern(t, c, chunk, n)
	deadline := time.Now().Add(5 * time.Second)
	for s.Queued() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if q := s.Queued(); q != 0 {
		t.Fatalf("queued = %d after draining", q)
	}
	if r := shared.refs.Load(); r != 1 {
		t.Fatalf("shared buffer refs = %d, want 1 (only ours)", r)
	}
	shared.Release()
}

func TestDropOldestKeepsPartialHead(t *testing.T) {
	h := &testHandler{opened: make(chan *testSession, 1)}
	_, addr := startEngine(t, h, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("!"))
	s := <-h.opened
	// Fill the socket so that the head Buf is partly written.
	for s.BlockedSince() == 0 {
		b := NewBuf(64 << 10)
		b.B = b.B[:64<<10]
		s.Send(b)
		s.Flush()
	}
	for i := 0; i < 10; i++ {
		b := NewBuf(64 << 10)
		b.B = b.B[:64<<10]
		s.Send(b)
	}
	before := s.Queued()
	dropped := s.DropOldest(0)
	after := s.Queued()
	if dropped < 10 || after >= before {
		t.Fatalf("dropped %d, queued %d -> %d", dropped, before, after)
	}
	if after > 64<<10 {
		t.Fatalf("only the partly written head may remain, have %d bytes", after)
	}
}

func TestWheelFiresAndCancels(t *testing.T) {
	h := &testHandler{opened: make(chan *testSession, 2)}
	e, addr := startEngine(t, h, 20*time.Millisecond)
	var sess [2]*testSession
	for i := range sess {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("!"))
		sess[i] = <-h.opened
	}
	e.Schedule(&sess[0].Conn, 50*time.Millisecond)
	e.Schedule(&sess[1].Conn, 50*time.Millisecond)
	e.Cancel(&sess[1].Conn)
	deadline := time.Now().Add(5 * time.Second)
	for sess[0].timers.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if sess[0].timers.Load() != 1 {
		t.Fatalf("scheduled timer fired %d times", sess[0].timers.Load())
	}
	time.Sleep(200 * time.Millisecond)
	if sess[1].timers.Load() != 0 || sess[0].timers.Load() != 1 {
		t.Fatalf("fired: %d and %d (want 1, 0)", sess[0].timers.Load(), sess[1].timers.Load())
	}
	// Beyond one revolution of the wheel.
	w := newWheel(time.Millisecond, 1, func(*TimerNode) {})
	var n TimerNode
	w.Schedule(&n, 0, time.Duration(wheelSlots+5)*time.Millisecond)
	if n.when != int64(wheelSlots+6) {
		t.Fatalf("when = %d", n.when)
	}
}

func TestCloseReleasesQueue(t *testing.T) {
	h := &testHandler{opened: make(chan *testSession, 1), closed: make(chan *testSession, 1)}
	_, addr := startEngine(t, h, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("!"))
	s := <-h.opened
	shared := NewBuf(64 << 10)
	shared.B = shared.B[:64<<10]
	for s.BlockedSince() == 0 {
		shared.Retain()
		s.Send(shared)
		s.Flush()
	}
	c.Close()
	select {
	case <-h.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("no close")
	}
	if r := shared.refs.Load(); r != 1 {
		t.Fatalf("refs after close = %d, want 1", r)
	}
	if _, err := s.Send(NewBuf(1)); err != ErrClosed {
		t.Fatalf("Send after close: %v", err)
	}
}
