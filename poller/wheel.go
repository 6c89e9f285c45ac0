package poller

import (
	"sync"
	"sync/atomic"
	"time"
)

// Wheel is a hashed timing wheel. Every connection owns one intrusive
// TimerNode, so scheduling allocates nothing and no time.Timer or goroutine
// exists per connection: one goroutine advances the wheel once per tick and
// calls the Engine handler's OnTimer for each node that is due.
//
// Deadlines are coarse by design (the tick, 250 ms by default): they guard
// handshakes, idle connections, close handshakes and stuck writers, none of
// which need finer timing.
type Wheel struct {
	tick   time.Duration
	start  time.Time
	now    atomic.Int64 // current tick number
	shards []wheelShard
	fire   func(n *TimerNode)
	stop   chan struct{}
	done   chan struct{}
}

const wheelSlots = 512

type wheelShard struct {
	mu    sync.Mutex
	slots [wheelSlots]TimerNode // sentinel heads of circular lists
	_     [40]byte              // keep shards' locks on separate cache lines
}

// TimerNode is the per-connection entry in a Wheel. Its zero value is
// unscheduled. Fields are guarded by the owning shard's lock.
type TimerNode struct {
	prev, next *TimerNode
	when       int64
}

func newWheel(tick time.Duration, shards int, fire func(n *TimerNode)) *Wheel {
	if shards < 1 {
		shards = 1
	}
	w := &Wheel{tick: tick, start: time.Now(), shards: make([]wheelShard, shards), fire: fire,
		stop: make(chan struct{}), done: make(chan struct{})}
	w.now.Store(1) // tick 0 never occurs, so 0 can mean "unset"
	for i := range w.shards {
		for j := range w.shards[i].slots {
			h := &w.shards[i].slots[j]
			h.prev, h.next = h, h
		}
	}
	return w
}

// Now returns the current tick number.
func (w *Wheel) Now() int64 { return w.now.Load() }

// Ticks converts a duration to a whole number of ticks, rounding up.
func (w *Wheel) Ticks(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + w.tick - 1) / w.tick)
}

// Schedule (re)arms n to fire after d. shardKey picks the shard, normally
// the connection's file descriptor.
func (w *Wheel) Schedule(n *TimerNode, shardKey int, d time.Duration) {
	when := w.now.Load() + max(w.Ticks(d), 1)
	s := &w.shards[shardKey%len(w.shards)]
	s.mu.Lock()
	if n.next != nil {
		n.prev.next, n.next.prev = n.next, n.prev
	}
	n.when = when
	h := &s.slots[when%wheelSlots]
	n.prev, n.next = h.prev, h
	h.prev.next = n
	h.prev = n
	s.mu.Unlock()
}

// Cancel unschedules n, which must have been scheduled (if at all) with
// the same shardKey; it is safe to call on an unscheduled node.
func (w *Wheel) Cancel(n *TimerNode, shardKey int) {
	s := &w.shards[shardKey%len(w.shards)]
	s.mu.Lock()
	if n.next != nil {
		n.prev.next, n.next.prev = n.next, n.prev
		n.prev, n.next = nil, nil
	}
	s.mu.Unlock()
}

func (w *Wheel) run() {
	defer close(w.done)
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		target := 1 + int64(time.Since(w.start)/w.tick)
		for now := w.now.Load(); now < target; now++ {
			w.now.Store(now + 1)
			for i := range w.shards {
				w.expire(&w.shards[i], now+1)
			}
		}
	}
}

// expire fires every node in s that is due at tick now. Nodes are unlinked
// one at a time under the lock and fired without it, so a callback may
// reschedule its own node.
func (w *Wheel) expire(s *wheelShard, now int64) {
	h := &s.slots[now%wheelSlots]
	for {
		s.mu.Lock()
		n := h.next
		for n != h && n.when > now {
			n = n.next
		}
		if n == h {
			s.mu.Unlock()
			return
		}
		n.prev.next, n.next.prev = n.next, n.prev
		n.prev, n.next = nil, nil
		s.mu.Unlock()
		w.fire(n)
	}
}

func (w *Wheel) close() {
	close(w.stop)
	<-w.done
}
