package stompproto

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/poller"
)

// fakeConn is a protocol.Conn and PairQueuer that "writes" at once: it
// checks the pair's framing, counts it and releases it.
type fakeConn struct {
	tb    testing.TB
	state any
	got   atomic.Int64
	bits  uint8
}

func (c *fakeConn) Deliver(*fanout.Delivery) (bool, bool)   { return false, true }
func (c *fakeConn) Flush()                                  {}
func (c *fakeConn) Reply(frame.Opcode, []byte)              {}
func (c *fakeConn) Scratch() []byte                         { return nil }
func (c *fakeConn) Fail(frame.CloseCode, string)            {}
func (c *fakeConn) Room() string                            { return "" }
func (c *fakeConn) User() string                            { return "" }
func (c *fakeConn) Identity() *auth.Identity                { return nil }
func (c *fakeConn) State() any                              { return c.state }
func (c *fakeConn) Compression() (uint8, bool)              { return c.bits, false }
func (c *fakeConn) Queue(b *poller.Buf) (first, ok bool)    { c.got.Add(1); return true, true }
func (c *fakeConn) QueuePair(h, t *poller.Buf) (bool, bool) { c.got.Add(1); return true, true }

// newTestProtocol returns a Protocol on a started pool of its own.
func newTestProtocol(tb testing.TB) (*Protocol, *fanout.Pool) {
	pool := fanout.New(fanout.Config{Workers: 1, DeflateLevel: 1, DeflateThreshold: 128}, hub.New[fanout.Subscriber](0))
	p := New(Options{Pool: pool, DeflateThreshold: 128, DeflateLevel: 1})
	pool.Start()
	tb.Cleanup(pool.Stop)
	return p, pool
}

// subscribeN gives c a connected session with n subscriptions to room
// "bench", joined directly.
func subscribeN(p *Protocol, pool *fanout.Pool, c *fakeConn, n int) {
	s := &session{p: p, c: c, ver: stomp.V12}
	s.state.Store(stateConnected)
	c.state = s
	for i := range n {
		id := "sub-" + itoa(i)
		sb := &sub{sess: s, id: id, dest: "/topic/bench", name: "bench", kind: destTopic}
		sb.prefix = s.headPrefix(sb.dest, sb.id)
		s.subs = append(s.subs, sb)
		pool.Hub().Join("bench", sb)
	}
}

func itoa(i int) string { return string(runtimeItoa(nil, i)) }

func runtimeItoa(b []byte, i int) []byte {
	if i >= 10 {
		b = runtimeItoa(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// publishAndWait fans one message out to room bench and waits until c has
// received want pairs in total.
func publishAndWait(pool *fanout.Pool, c *fakeConn, payload []byte, want int64) {
	fb, hdr := fanout.FrameBuf(0, frame.OpText, payload)
	for !pool.TrySubmit(fanout.Job{Room: "bench", Buf: fb, Hdr: hdr}) {
		runtime.Gosched()
	}
	for c.got.Load() < want {
		runtime.Gosched()
	}
}

// TestTopicDeliveryAllocatesNothing: in steady state, fanning a message
// out to STOMP subscriptions allocates nothing per delivery (pooled heads,
// the tail built once per message in a pooled buffer).
func TestTopicDeliveryAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	for _, bits := range []uint8{0, 15} {
		p, pool := newTestProtocol(t)
		c := &fakeConn{tb: t, bits: bits}
		const subs = 1000
		subscribeN(p, pool, c, subs)
		payload := make([]byte, 512)
		for i := range payload {
			payload[i] = 'a' + byte(i%26)
		}
		var want int64
		for range 50 { // warm the pools
			want += subs
			publishAndWait(pool, c, payload, want)
		}
		allocs := testing.AllocsPerRun(100, func() {
			want += subs
			publishAndWait(pool, c, payload, want)
		})
		// Per message: the job's frame and tail come from pools; a
		// compressed tail costs its compression. Per delivery: nothing.
		if perDelivery := allocs / subs; perDelivery > 0.01 {
			t.Errorf("deflate bits %d: %.1f allocations per message to %d subscriptions (%.3f per delivery), want 0 per delivery", bits, allocs, subs, perDelivery)
		}
		t.Logf("deflate bits %d: %.1f allocations per message to %d subscriptions", bits, allocs, subs)
	}
}

// BenchmarkTopicFanout measures one 512-byte message fanned out to 1,000
// STOMP subscriptions (heads built, pairs queued); ns/op is per message.
func BenchmarkTopicFanout(b *testing.B) {
	p, pool := newTestProtocol(b)
	c := &fakeConn{tb: b}
	const subs = 1000
	subscribeN(p, pool, c, subs)
	payload := make([]byte, 512)
	var want int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		want += subs
		publishAndWait(pool, c, payload, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
}
