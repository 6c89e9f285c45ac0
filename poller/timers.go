package poller

import (
	"syscall"
	"time"
)

// NewWheel returns a timer wheel of its own, for timers that belong to no
// connection (sessions that outlive their sockets, say): fire is called
// on the wheel's goroutine with each node that comes due. Nodes are
// intrusive, so arming one allocates nothing. Start runs the wheel; Stop
// ends it.
func NewWheel(tick time.Duration, shards int, fire func(n *TimerNode)) *Wheel {
	if tick <= 0 {
		tick = 250 * time.Millisecond
	}
	return newWheel(tick, shards, fire)
}

// Start runs the wheel's goroutine.
func (w *Wheel) Start() { go w.run() }

// Stop ends the wheel's goroutine and waits for it; it must follow Start.
func (w *Wheel) Stop() { w.close() }

// PeerClosed reports, without blocking, whether the peer has ended its
// side of the connection: an end of stream is waiting that the event
// loop has not read yet, or the connection is already closed. Pending
// data (a request the loop has not read) means the peer is still there.
func (c *Conn) PeerClosed() bool {
	c.nc.Lock()
	defer c.nc.Unlock()
	if c.closedLocked() {
		return true
	}
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(c.fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n == 0 && err == nil
}

// Len returns the number of armed timers (for tests and diagnostics; it
// takes every shard's lock).
func (w *Wheel) Len() int {
	n := 0
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		for j := range s.slots {
			h := &s.slots[j]
			for x := h.next; x != h; x = x.next {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}
