package poller

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

// reuseHandler plays a loop that closes one connection while handling
// another's data: "victim" marks the connection to close, "kill" closes
// it and then keeps the loop busy, "sleep" keeps it busy, "ping" answers
// "pong".
type reuseHandler struct {
	victims [2]atomic.Pointer[testSession]
	n       atomic.Int32
}

func (h *reuseHandler) OnOpen() Session { return &testSession{} }

func (h *reuseHandler) OnData(_ *Loop, ps Session, data []byte) {
	s := ps.(*testSession)
	switch string(data) {
	case "victim":
		h.victims[h.n.Add(1)-1].Store(s)
	case "sleep":
		time.Sleep(50 * time.Millisecond)
	case "kill":
		for i := range h.victims {
			_ = h.victims[i].Load().Close()
		}
		time.Sleep(100 * time.Millisecond)
	case "ping":
		_ = s.Write([]byte("pong"))
	}
}

func (h *reuseHandler) OnTimer(Session)        {}
func (h *reuseHandler) OnClose(Session, error) {}

// TestCloseSparesTheNextConnection: a loop closes connections V and X
// while handling connection Y's data, in the same batch of events as X's
// own hang-up. A new connection W accepted meanwhile takes the lowest
// free descriptors (nbio accepts, then duplicates the descriptor): V's
// and then X's, if closing them released them. The loop's pending event
// for X must not reach W: W's ping gets its pong. (The interleaving
// depends on the scheduler; on a busy machine a round may not reach it,
// and then passes without proving anything, never failing wrongly.)
func TestCloseSparesTheNextConnection(t *testing.T) {
	h := &reuseHandler{}
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: 1}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	addr := e.Addrs()[0].String()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		return c
	}
	for round := range 5 {
		h.n.Store(0)
		v, x := dial(), dial()
		_, _ = v.Write([]byte("victim"))
		for h.n.Load() < 1 {
			time.Sleep(time.Millisecond)
		}
		_, _ = x.Write([]byte("victim"))
		for h.n.Load() < 2 {
			time.Sleep(time.Millisecond)
		}
		y, z := dial(), dial()
		time.Sleep(10 * time.Millisecond) // both accepted
		_, _ = z.Write([]byte("sleep"))
		time.Sleep(10 * time.Millisecond)
		// While the loop sleeps: Y's "kill" and X's hang-up, in one batch.
		_, _ = y.Write([]byte("kill"))
		_ = x.Close()
		time.Sleep(60 * time.Millisecond) // the loop now handles "kill"
		w := dial()
		time.Sleep(150 * time.Millisecond) // the loop now handles X's hang-up
		var got [4]byte
		_, err := w.Write([]byte("ping"))
		if err == nil {
			_, err = io.ReadFull(w, got[:])
		}
		if err != nil {
			t.Fatalf("round %d: the new connection lost its answer: %v", round, err)
		}
		for _, c := range []net.Conn{v, y, z, w} {
			_ = c.Close()
		}
	}
}

// TestChildProcessHoldsNoConnection: a process started while connections
// are open (os/exec) must not inherit their descriptors: it would keep
// each one's socket alive, and registered with the poller's epoll set,
// after the gateway closed it.
func TestChildProcessHoldsNoConnection(t *testing.T) {
	h := &reuseHandler{}
	_, addr := startEngine(t, h, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("victim"))
	for h.n.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	sock, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", h.victims[0].Load().FD()))
	if err != nil {
		t.Skip("no /proc:", err)
	}
	child := exec.Command("sleep", "120")
	if err := child.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	dir := fmt.Sprintf("/proc/%d/fd", child.Process.Pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if l, _ := os.Readlink(dir + "/" + e.Name()); l == sock {
			t.Fatalf("the child process holds the connection's socket (%s) as its descriptor %s", sock, e.Name())
		}
	}
}
