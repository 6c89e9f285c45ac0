package stompproto

import (
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/poller"
)

// fakeConn is a protocol.Conn and PairQueuer that queues like a
// connection (a reference to each buffer, released when flushed) and
// signals done when it has queued want messages.
type fakeConn struct {
	tb    testing.TB
	state any
	bits  uint8
	got   atomic.Int64
	want  atomic.Int64
	done  chan struct{}
	mu    sync.Mutex
	q     []*poller.Buf
}

// hold queues b (and t, unless nil); first is true when the queue was
// empty.
func (c *fakeConn) hold(b, t *poller.Buf) (first, ok bool) {
	b.Retain()
	c.mu.Lock()
	first = len(c.q) == 0
	c.q = append(c.q, b)
	if t != nil {
		t.Retain()
		c.q = append(c.q, t)
	}
	c.mu.Unlock()
	if c.got.Add(1) == c.want.Load() {
		c.done <- struct{}{}
	}
	return first, true
}

// Flush "writes" what is queued: it drops the queue's references.
func (c *fakeConn) Flush() {
	c.mu.Lock()
	for _, b := range c.q {
		b.Release()
	}
	clear(c.q)
	c.q = c.q[:0]
	c.mu.Unlock()
}

func (c *fakeConn) Deliver(*fanout.Delivery) (bool, bool)   { return false, true }
func (c *fakeConn) Reply(frame.Opcode, []byte)              {}
func (c *fakeConn) Scratch() []byte                         { return nil }
func (c *fakeConn) Fail(frame.CloseCode, string)            {}
func (c *fakeConn) Room() string                            { return "" }
func (c *fakeConn) User() string                            { return "" }
func (c *fakeConn) Identity() *auth.Identity                { return nil }
func (c *fakeConn) State() any                              { return c.state }
func (c *fakeConn) Compression() (uint8, bool)              { return c.bits, false }
func (c *fakeConn) Queue(b *poller.Buf) (first, ok bool)    { return c.hold(b, nil) }
func (c *fakeConn) QueuePair(h, t *poller.Buf) (bool, bool) { return c.hold(h, t) }

func newFakeConn(tb testing.TB, bits uint8) *fakeConn {
	return &fakeConn{tb: tb, bits: bits, done: make(chan struct{}, 1)}
}

// newTestProtocol returns a Protocol on a started pool of its own.
func newTestProtocol(tb testing.TB) (*Protocol, *fanout.Pool) {
	pool := fanout.New(fanout.Config{Workers: 1, DeflateLevel: 1, DeflateThreshold: 128}, hub.New[fanout.Subscriber](0))
	p := New(Options{Pool: pool, DeflateThreshold: 128, DeflateLevel: 1})
	pool.Start()
	tb.Cleanup(pool.Stop)
	return p, pool
}

// subscribeN gives c a connected session with n subscriptions to room
// "bench", joined directly: all with id sub-0 (as n stompjs clients
// would have them) when shared, else each with an id of its own.
func subscribeN(p *Protocol, pool *fanout.Pool, c *fakeConn, n int, shared bool) {
	s := &session{p: p, c: c, ver: stomp.V12}
	s.state.Store(stateConnected)
	c.state = s
	for i := range n {
		id := "sub-0"
		if !shared {
			id = "sub-" + itoa(i)
		}
		sb := &sub{sess: s, kind: destTopic, key: p.keys.acquire(s.appendPrefix(nil, "/topic/bench", []byte(id)))}
		sb.next, s.subs = s.subs, sb
		pool.Hub().Join("bench", sb)
	}
}

// cpuTime returns the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func itoa(i int) string { return string(runtimeItoa(nil, i)) }

func runtimeItoa(b []byte, i int) []byte {
	if i >= 10 {
		b = runtimeItoa(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// publishAndWait fans one message out to room bench and waits until c has
// queued want messages in total.
func publishAndWait(pool *fanout.Pool, c *fakeConn, payload []byte, want int64) {
	c.want.Store(want)
	fb, hdr := fanout.FrameBuf(0, frame.OpText, payload)
	for !pool.TrySubmit(fanout.Job{Room: "bench", Buf: fb, Hdr: hdr}) {
		runtime.Gosched()
	}
	<-c.done
}

// TestTopicDeliveryAllocatesNothing: in steady state, fanning a message
// out to STOMP subscriptions allocates nothing per delivery (pooled heads,
// the tail built once per message in a pooled buffer).
func TestTopicDeliveryAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	for _, tc := range []struct {
		bits   uint8
		shared bool
	}{{0, false}, {15, false}, {0, true}, {15, true}} {
		bits := tc.bits
		p, pool := newTestProtocol(t)
		c := newFakeConn(t, bits)
		const subs = 1000
		subscribeN(p, pool, c, subs, tc.shared)
		payload := make([]byte, 512)
		for i := range payload {
			payload[i] = 'a' + byte(i%26)
		}
		// A collection empties the pools the deliveries draw from, and one
		// starting inside the measured window (the subscriptions above
		// grew the heap enough to start one at any moment) would count
		// the refilling as the deliveries' allocations. Collect first and
		// hold collections off until the count is taken.
		runtime.GC()
		gcPercent := debug.SetGCPercent(-1)
		var want int64
		for range 50 { // warm the pools
			want += subs
			publishAndWait(pool, c, payload, want)
		}
		// The pools hold as many heads as deliveries wait unflushed at
		// once; on a busy machine the worker can be preempted mid-message
		// and take the next one before flushing, so the pools grow once
		// more, in whichever window that first happens. Steady state is a
		// window without it: a cost per delivery shows in every window.
		allocs := math.Inf(1)
		for range 3 {
			allocs = min(allocs, testing.AllocsPerRun(100, func() {
				want += subs
				publishAndWait(pool, c, payload, want)
			}))
			if allocs == 0 {
				break
			}
		}
		debug.SetGCPercent(gcPercent)
		// Per message: the job's frame and tail come from pools; a
		// compressed tail costs its compression. Per delivery: nothing.
		if perDelivery := allocs / subs; perDelivery > 0.01 {
			t.Errorf("deflate bits %d, shared ids %v: %.1f allocations per message to %d subscriptions (%.3f per delivery), want 0 per delivery", bits, tc.shared, allocs, subs, perDelivery)
		}
		t.Logf("deflate bits %d, shared ids %v: %.1f allocations per message to %d subscriptions", bits, tc.shared, allocs, subs)
	}
}

// BenchmarkTopicFanout measures one 512-byte message fanned out to 1,000
// STOMP subscriptions (pairs queued); ns/op is per message. shared: the
// subscriptions share their key (one head per message); distinct: each
// has its own id (a head per delivery).
func BenchmarkTopicFanout(b *testing.B) {
	b.Run("raw", benchRawFanout)
	b.Run("shared", func(b *testing.B) { benchTopicFanout(b, true) })
	b.Run("distinct", func(b *testing.B) { benchTopicFanout(b, false) })
}

// rawMember is a room member as a raw /room connection is one: it queues
// the message's shared WebSocket frame.
type rawMember struct{ c *fakeConn }

func (m *rawMember) Deliver(d *fanout.Delivery) (bool, bool) {
	return m.c.Queue(d.Variant(fanout.FormatFrame, 0))
}
func (m *rawMember) Flush() { m.c.Flush() }

// benchRawFanout is the reference: the same message to as many raw
// members on the same kind of connection.
func benchRawFanout(b *testing.B) {
	_, pool := newTestProtocol(b)
	c := newFakeConn(b, 0)
	const subs = 1000
	for range subs {
		pool.Hub().Join("bench", &rawMember{c})
	}
	runFanout(b, pool, c, subs)
}

func benchTopicFanout(b *testing.B, shared bool) {
	p, pool := newTestProtocol(b)
	c := newFakeConn(b, 0)
	const subs = 1000
	subscribeN(p, pool, c, subs, shared)
	runFanout(b, pool, c, subs)
}

// runFanout publishes b.N 512-byte messages to room bench, each once
// the last one's subs deliveries reached c.
func runFanout(b *testing.B, pool *fanout.Pool, c *fakeConn, subs int) {
	payload := make([]byte, 512)
	var want int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		want += int64(subs)
		publishAndWait(pool, c, payload, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
	// CPU time (the worker's, the waiting goroutine sleeps) is steadier
	// than wall time on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*subs), "cpu-ns/delivery")
}
