package poller

import (
	"net"
	"sync"
	"testing"
	"time"
)

// loopHandler records, per connection, the Loop each OnData ran on.
type loopHandler struct {
	testHandler
	e    *Engine
	mu   sync.Mutex
	seen map[*testSession][]*Loop
	bad  []string
	got  chan struct{}
}

func (h *loopHandler) OnData(l *Loop, ps Session, data []byte) {
	s := ps.(*testSession)
	h.mu.Lock()
	h.seen[s] = append(h.seen[s], l)
	if other := h.e.LoopOf(&s.Conn); other != l {
		h.bad = append(h.bad, "LoopOf disagrees with the Loop OnData runs on")
	}
	if d, ok := l.Data.(int); !ok || d != l.Index {
		h.bad = append(h.bad, "Loop.Data was not made by Config.LoopData for its index")
	}
	h.mu.Unlock()
	h.got <- struct{}{}
}

// TestLoops: every read of a connection is served on one Loop, the one
// LoopOf names; there are at most Pollers loops, each with the Data its
// LoopData made. The handler never needs to know how nbio assigns
// connections to pollers.
func TestLoops(t *testing.T) {
	const pollers, conns, writes = 3, 24, 5
	h := &loopHandler{seen: map[*testSession][]*Loop{}, got: make(chan struct{}, conns*writes)}
	e, err := New(Config{Addrs: []string{"127.0.0.1:0"}, Pollers: pollers, LoopData: func(i int) any { return i }}, h)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	var cs []net.Conn
	for range conns {
		c, err := net.Dial("tcp", e.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	for range writes {
		for _, c := range cs {
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-h.got:
			case <-time.After(30 * time.Second):
				t.Fatal("OnData not called")
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.bad {
		t.Error(b)
	}
	loops := map[*Loop]bool{}
	for s, ls := range h.seen {
		for _, l := range ls {
			if l != ls[0] {
				t.Fatalf("connection %p served on two loops", s)
			}
		}
		loops[ls[0]] = true
	}
	if len(loops) < 2 || len(loops) > pollers {
		t.Errorf("%d connections were served on %d loops, want 2..%d", conns, len(loops), pollers)
	}
	for l := range loops {
		if l.Index < 0 || l.Index >= pollers {
			t.Errorf("loop index %d out of 0..%d", l.Index, pollers-1)
		}
	}
}
