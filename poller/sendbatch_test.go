package poller

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lesismal/nbio"

	"github.com/wsgate/wsgate/internal/uring"
)

// Tests of batched sends: replies written with WriteFrom go out in one
// io_uring_enter per readiness batch, in order with everything else
// written to the connection.

// recLen is the size of the records the batch tests exchange: a kind
// byte, a sequence number, padding.
const recLen = 16

func record(kind byte, seq uint64) []byte {
	r := make([]byte, recLen)
	r[0] = kind
	binary.BigEndian.PutUint64(r[1:], seq)
	return r
}

// batchSession carries a partial record between reads.
type batchSession struct {
	Conn
	carry []byte
}

func (s *batchSession) PollerConn() *Conn { return &s.Conn }

// batchHandler echoes every whole record with WriteFrom. Record kinds
// ask for more: 'M' echoes then writes a marker record with plain Write
// (which must queue behind the batched echo), 'B' echoes then closes
// once flushed, 'H' echoes then half-closes. 'S' shrinks the socket's
// send buffer, so the kernel refuses bytes sooner.
type batchHandler struct {
	opened chan *batchSession
	closed chan error
}

func (h *batchHandler) OnOpen() Session { return &batchSession{} }

func (h *batchHandler) OnData(l *Loop, ps Session, data []byte) {
	s := ps.(*batchSession)
	s.carry = append(s.carry, data...)
	n := len(s.carry) / recLen * recLen
	recs := s.carry[:n]
	for len(recs) > 0 {
		r := recs[:recLen]
		recs = recs[recLen:]
		switch r[0] {
		case 'S':
			_ = syscall.SetsockoptInt(s.FD(), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
			if h.opened != nil {
				h.opened <- s
			}
			continue
		case 'M':
			_ = s.WriteFrom(l, r)
			_ = s.Write(record('m', binary.BigEndian.Uint64(r[1:])))
			continue
		}
		_ = s.WriteFrom(l, r)
		switch r[0] {
		case 'B':
			s.CloseWhenFlushed()
		case 'H':
			s.ShutdownWrite()
		}
	}
	s.carry = append(s.carry[:0], s.carry[n:]...)
}

func (h *batchHandler) OnTimer(Session) {}

func (h *batchHandler) OnClose(_ Session, err error) {
	if h.closed != nil {
		h.closed <- err
	}
}

func startBatchEngine(t *testing.T, h Handler) (*Engine, string) {
	t.Helper()
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 2, BatchSends: true}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	n, loops, err := e.BatchedLoops()
	if err != nil {
		if _, rerr := uring.New(8); rerr != nil {
			t.Skipf("io_uring unavailable here: %v", rerr)
		}
		t.Fatalf("%d of %d loops batch: %v", n, loops, err)
	}
	if n != loops {
		t.Fatalf("%d of %d loops batch", n, loops)
	}
	return e, e.Addrs()[0].String()
}

// TestBatchEcho: many clients at once, each many records in writes of
// several records: every record comes back once, in order, with the
// markers written by plain Write right behind their records.
func TestBatchEcho(t *testing.T) {
	e, addr := startBatchEngine(t, &batchHandler{})
	const clients, rounds, per = 40, 60, 7
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- echoRounds(addr, k, rounds, per)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if w, b := e.IOStats(); w == 0 || b < clients*rounds*per*recLen {
		t.Fatalf("IOStats %d writes, %d bytes", w, b)
	}
}

// echoRounds sends rounds writes of per records (the last of each an 'M')
// and checks what comes back.
func echoRounds(addr string, k, rounds, per int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	var seq uint64
	got := make([]byte, recLen)
	for r := range rounds {
		var out []byte
		first := seq
		for i := range per {
			kind := byte('E')
			if i == per-1 {
				kind = 'M'
			}
			out = append(out, record(kind, seq)...)
			seq++
		}
		if _, err := c.Write(out); err != nil {
			return err
		}
		for i := range per + 1 {
			if _, err := io.ReadFull(c, got); err != nil {
				return fmt.Errorf("client %d round %d record %d: %v", k, r, i, err)
			}
			want := record('E', first+uint64(i))
			switch {
			case i == per-1:
				want[0] = 'M'
			case i == per:
				want = record('m', first+uint64(per-1))
			}
			if !bytes.Equal(got, want) {
				return fmt.Errorf("client %d round %d record %d: got %x, want %x", k, r, i, got, want)
			}
		}
	}
	return nil
}

// TestBatchFullSocket: a client that stops reading while the server
// echoes into a small send buffer: the kernel refuses part of a batch,
// the rest waits in the queue ahead of later writes, and everything
// arrives in order once the client reads again.
func TestBatchFullSocket(t *testing.T) {
	h := &batchHandler{opened: make(chan *batchSession, 1)}
	_, addr := startBatchEngine(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := c.Write(record('S', 0)); err != nil {
		t.Fatal(err)
	}
	s := <-h.opened
	// Write without reading until the server holds bytes back.
	const batch = 64
	var sent uint64
	for s.Queued() == 0 {
		var out []byte
		for range batch {
			out = append(out, record('E', sent)...)
			sent++
		}
		if _, err := c.Write(out); err != nil {
			t.Fatal(err)
		}
		if sent > 1<<20 {
			t.Fatal("the server never queued")
		}
	}
	// Then a marker pair, and read everything.
	if _, err := c.Write(record('M', sent)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, recLen)
	for i := uint64(0); i < sent; i++ {
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if want := record('E', i); !bytes.Equal(got, want) {
			t.Fatalf("record %d: got %x, want %x", i, got, want)
		}
	}
	for _, want := range [][]byte{record('M', sent), record('m', sent)} {
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("marker: got %x (%v), want %x", got, err, want)
		}
	}
}

// TestBatchClose: a close when flushed, or a half-close, asked right
// after a batched echo (alone in the batch, or behind another): the echo
// arrives, then the end of the stream; the connection's close is
// reported.
func TestBatchClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  []byte
	}{
		{"close", record('B', 1)},
		{"half-close", record('H', 1)},
		{"close behind", append(record('E', 1), record('B', 2)...)},
		{"half-close behind", append(record('E', 1), record('H', 2)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &batchHandler{closed: make(chan error, 1)}
			_, addr := startBatchEngine(t, h)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			out := tc.out
			if _, err := c.Write(out); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatal(err)
			}
			if !bytes.Equal(got, out) {
				t.Fatalf("got %x, want %x", got, out)
			}
			c.Close()
			<-h.closed
		})
	}
}

// TestBatchRefused: a batched send the kernel refuses (the socket is
// full) goes back to the head of the queue, ahead of what was queued
// behind it, and the write poller finishes the job in order.
func TestBatchRefused(t *testing.T) {
	c, sb, l, peer := batchRig(t)
	wp, err := newWritePoller()
	if err != nil {
		t.Fatal(err)
	}
	go wp.run()
	defer wp.close()
	c.e.wp, c.e.wheel = wp, newWheel(time.Second, 1, func(*TimerNode) {})
	wp.add(c)

	// Fill the socket.
	var filled []byte
	chunk := bytes.Repeat([]byte{'f'}, 512)
	for {
		n, err := syscall.Write(int(c.fd), chunk)
		if n > 0 {
			filled = append(filled, chunk[:n]...)
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	span := record('E', 1)
	if err := c.WriteFrom(l, span); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(record('m', 1)); err != nil { // queues behind the batched send
		t.Fatal(err)
	}
	sb.submit()
	if c.Queued() != 2*recLen {
		t.Fatalf("queued %d bytes after a refused batch, want %d", c.Queued(), 2*recLen)
	}
	want := append(append(filled, span...), record('m', 1)...)
	if got := readN(t, peer, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("stream differs from what was written (the last 40 bytes %q)", got[len(got)-40:])
	}
}

// TestBatchSmall: after a batch too small to pay for itself the loop
// writes directly for a while (nothing waits in the batch), then batches
// again; the bytes arrive in order either way.
func TestBatchSmall(t *testing.T) {
	c, sb, l, peer := batchRig(t)
	var want []byte
	batched := 0
	for i := range 2*batchRest + 4 {
		rec := record('E', uint64(i))
		want = append(want, rec...)
		if err := c.WriteFrom(l, rec); err != nil {
			t.Fatal(err)
		}
		if len(sb.pend) > 0 {
			batched++
			sb.submit()
		}
	}
	// A batch of one, batchRest direct writes, again, and once more.
	if batched != 3 {
		t.Fatalf("%d of %d writes batched, want 3", batched, 2*batchRest+4)
	}
	if !bytes.Equal(readN(t, peer, len(want)), want) {
		t.Fatal("the stream differs from what was written")
	}
}

// TestBatchRingFails: a ring whose io_uring_enter fails stops its
// loop's batching, and the connection whose send it did not report is
// closed (its bytes may or may not have gone).
func TestBatchRingFails(t *testing.T) {
	before := ringFDs(t)
	c, sb, l, peer := batchRig(t)
	var rfd = -1
	for fd := range ringFDs(t) {
		if !before[fd] {
			rfd = fd
		}
	}
	if rfd < 0 {
		t.Fatal("the ring's descriptor was not found")
	}
	if err := c.WriteFrom(l, record('E', 1)); err != nil {
		t.Fatal(err)
	}
	// The ring's descriptor becomes a socket: io_uring_enter fails on it.
	if err := syscall.Dup3(peer, rfd, syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	sb.submit()
	if l.sends.Load() != nil {
		t.Fatal("the loop still batches after its ring failed")
	}
	if p := l.ringErr.Load(); p == nil || !errors.Is(*p, uring.ErrRing) {
		t.Fatalf("ringErr = %v", p)
	}
	buf := make([]byte, 64)
	if n, err := syscall.Read(peer, buf); n != 0 || err != nil {
		t.Fatalf("the peer read %d bytes (%v), want the end of the stream", n, err)
	}
}

// ringFDs returns this process's io_uring descriptors.
func ringFDs(t *testing.T) map[int]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	fds := map[int]bool{}
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == "anon_inode:[io_uring]" {
			var fd int
			if _, err := fmt.Sscan(e.Name(), &fd); err == nil {
				fds[fd] = true
			}
		}
	}
	return fds
}

// TestBatchUnavailable: where io_uring cannot be set up the engine says
// so and writes as without batching.
func TestBatchUnavailable(t *testing.T) {
	defer func(f func(uint32) (*uring.Ring, error)) { newRing = f }(newRing)
	newRing = func(uint32) (*uring.Ring, error) { return nil, syscall.EPERM }
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 2, BatchSends: true}, &batchHandler{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if n, loops, err := e.BatchedLoops(); n != 0 || loops != 2 || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("BatchedLoops = %d, %d, %v", n, loops, err)
	}
	if err := echoRounds(e.Addrs()[0].String(), 0, 20, 5); err != nil {
		t.Fatal(err)
	}
}

// TestBatchSendAllocs: a batched send and its batch's submission
// allocate nothing once the batch's buffers have grown.
func TestBatchSendAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c, sb, l, peer := batchRig(t)
	msg := bytes.Repeat([]byte("x"), 70)
	buf := make([]byte, 4096)
	allocs := testing.AllocsPerRun(1000, func() {
		sb.direct = 0 // batch every send, small as the batch is
		if err := c.WriteFrom(l, msg); err != nil {
			t.Fatal(err)
		}
		sb.submit()
		n, _ := syscall.Read(peer, buf)
		if n != len(msg) {
			t.Fatalf("read %d bytes", n)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per batched send", allocs)
	}
}

// batchRig is one batching loop's state without an engine: a connection
// on one end of a Unix socket pair (peer is the other end) and the loop's
// batch over a real ring.
func batchRig(t *testing.T) (c *Conn, sb *sendBatch, l *Loop, peer int) {
	t.Helper()
	r, err := uring.New(batchSends)
	if err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	t.Cleanup(r.Close)
	a := socketPair(t)
	wake := socketPair(t)
	nc := testNBConn(t, a[0])
	c = &Conn{nc: nc, e: &Engine{io: make([]ioStats, 1)}, fd: int32(nc.Hash())}
	l = &Loop{}
	sb = &sendBatch{r: r, loop: l, wake: wake[1]}
	l.sends.Store(sb)
	return c, sb, l, a[1]
}

// readN reads n bytes from the non-blocking socket fd, waiting while
// the write poller has yet to write them.
func readN(t *testing.T, fd, n int) []byte {
	t.Helper()
	got := make([]byte, 0, n)
	buf := make([]byte, 4096)
	for len(got) < n {
		k, err := syscall.Read(fd, buf)
		if err == syscall.EAGAIN {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil || k == 0 {
			t.Fatalf("read after %d bytes: %d, %v", len(got), k, err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

func socketPair(t *testing.T) [2]int {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[0]); syscall.Close(fds[1]) })
	return [2]int{fds[0], fds[1]}
}

// testNBConn wraps a duplicate of fd as an nbio connection that no engine
// serves.
func testNBConn(t *testing.T, fd int) *nbio.Conn {
	t.Helper()
	d, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(d), "test")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nbio.NBConn(fc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}
