package fanout

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/poller"
)

// recorder is a Subscriber that is not a socket: it keeps the frames it
// was handed, in the format and deflate window it asks for.
type recorder struct {
	format  Format
	dfl     uint8
	mu      sync.Mutex
	got     [][]byte
	bufs    []*poller.Buf // the shared buffers queued, by reference
	pending int
	flushes atomic.Int64
	closed  atomic.Bool
}

func (r *recorder) Deliver(d *Delivery) (flush, ok bool) {
	if r.closed.Load() {
		return false, false
	}
	b := d.Variant(r.format, r.dfl)
	b.Retain()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bufs = append(r.bufs, b)
	r.pending++
	return r.pending == 1, true
}

func (r *recorder) Flush() {
	r.flushes.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bufs[len(r.bufs)-r.pending:] {
		r.got = append(r.got, append([]byte(nil), b.B...))
	}
	r.pending = 0
}

func (r *recorder) frames() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.got...)
}

func (r *recorder) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bufs {
		b.Release()
	}
	r.bufs = nil
}

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p := New(cfg, hub.New[Subscriber](0))
	t.Cleanup(p.Stop)
	return p
}

func textJob(room, payload string) Job {
	b, hdr := FrameBuf(0, frame.OpText, []byte(payload))
	return Job{Room: room, Buf: b, Hdr: hdr}
}

// waitFrames waits until r holds n frames.
func waitFrames(t *testing.T, r *recorder, n int) [][]byte {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if got := r.frames(); len(got) >= n {
			return got
		}
	}
	t.Fatalf("got %d frames, want %d", len(r.frames()), n)
	return nil
}

// TestSubscriberFormats: members that are not sockets receive a room's
// messages through the same path as connections, each in the format it
// asks for; each format's encoding is built once per message and shared.
func TestSubscriberFormats(t *testing.T) {
	p := newPool(t, Config{Workers: 2, DeflateThreshold: 16, DeflateLevel: 1})
	var encoded atomic.Int64
	upper := p.AddFormat(func(j *Job, _ []byte) (*poller.Buf, int) {
		encoded.Add(1)
		return FrameBuf(0, j.Op(), bytes.ToUpper(j.Payload()))
	})
	plain := &recorder{}
	plain2 := &recorder{}
	big := &recorder{format: upper}
	big2 := &recorder{format: upper}
	zipped := &recorder{dfl: 12}
	for _, r := range []*recorder{plain, plain2, big, big2, zipped} {
		p.Hub().Join("r", r)
		defer r.release()
	}
	p.Start()
	msgs := []string{"hello", "a longer message that passes the threshold"}
	for _, m := range msgs {
		if !p.TrySubmit(textJob("r", m)) {
			t.Fatal("TrySubmit refused with an empty queue")
		}
	}
	for _, r := range []*recorder{plain, big, zipped} {
		waitFrames(t, r, len(msgs))
	}
	for i, m := range msgs {
		want := frame.AppendFrame(nil, true, 0, frame.OpText, []byte(m))
		if got := plain.frames()[i]; !bytes.Equal(got, want) {
			t.Errorf("plain frame %d = %q, want %q", i, got, want)
		}
		wantUp := frame.AppendFrame(nil, true, 0, frame.OpText, bytes.ToUpper([]byte(m)))
		if got := big.frames()[i]; !bytes.Equal(got, wantUp) {
			t.Errorf("custom format frame %d = %q, want %q", i, got, wantUp)
		}
	}
	if n := encoded.Load(); n != int64(len(msgs)) {
		t.Errorf("custom encoder ran %d times for %d messages and 2 members: want once per message", n, len(msgs))
	}
	// Members of one format share one buffer per message.
	plain.mu.Lock()
	plain2.mu.Lock()
	for i := range plain.bufs {
		if plain.bufs[i] != plain2.bufs[i] {
			t.Errorf("message %d: the plain members got different buffers", i)
		}
	}
	plain2.mu.Unlock()
	plain.mu.Unlock()
	// The short message goes uncompressed; the long one compressed with
	// RSV1 and inflates back.
	z := zipped.frames()
	if z[0][0]&frame.RSV1 != 0 || z[1][0]&frame.RSV1 == 0 {
		t.Fatalf("RSV1 bits %x %x: want only the message over the threshold compressed", z[0][0], z[1][0])
	}
	var dec frame.Decoder
	dec.Init(&frame.Limits{MaxFrame: 1 << 20, MaxMessage: 1 << 20}, true, true)
	h := &collect{}
	if err := dec.Feed(z[1], h); err != nil {
		t.Fatal(err)
	}
	out, err := deflate.Decompress(nil, h.payload, 1<<20)
	if err != nil || string(out) != msgs[1] {
		t.Fatalf("inflated %q, %v; want %q", out, err, msgs[1])
	}
}

type collect struct{ payload []byte }

func (c *collect) OnMessage(_ frame.Opcode, _ bool, p []byte) error {
	c.payload = append([]byte(nil), p...)
	return nil
}
func (c *collect) OnControl(frame.Opcode, []byte) error { return nil }

// TestOrderAndBatching: one room's messages reach every member in order,
// and a burst costs each member one Flush per batch, not one per message.
func TestOrderAndBatching(t *testing.T) {
	p := newPool(t, Config{Workers: 4})
	rs := make([]*recorder, 10)
	for i := range rs {
		rs[i] = &recorder{}
		p.Hub().Join("room", rs[i])
		defer rs[i].release()
	}
	const n = 500
	for i := range n { // queued before the workers start: one burst
		if !p.TrySubmit(textJob("room", fmt.Sprint(i))) {
			t.Fatal("TrySubmit refused")
		}
	}
	p.Start()
	for _, r := range rs {
		got := waitFrames(t, r, n)
		for i, f := range got {
			if want := fmt.Sprint(i); string(f[2:]) != want {
				t.Fatalf("message %d is %q: order broken", i, f[2:])
			}
		}
		if fl := r.flushes.Load(); fl > n/maxBurst+1 {
			t.Errorf("%d flushes for %d messages: want one per burst of up to %d", fl, n, maxBurst)
		}
	}
}

// TestEchoSelfAndUndelivered: the publishing member gets its own message
// only with EchoSelf; a member that no longer takes messages is skipped
// and counted, and the others still get theirs.
func TestEchoSelfAndUndelivered(t *testing.T) {
	for _, echo := range []bool{false, true} {
		p := newPool(t, Config{Workers: 1, EchoSelf: echo})
		pub, other, gone := &recorder{}, &recorder{}, &recorder{}
		gone.closed.Store(true)
		for _, r := range []*recorder{pub, other, gone} {
			p.Hub().Join("r", r)
			defer r.release()
		}
		p.Start()
		j := textJob("r", "m")
		j.From = pub
		p.TrySubmit(j)
		p.TrySubmit(textJob("r", "marker"))
		waitFrames(t, other, 2)
		if n := len(pub.frames()); echo && n != 2 || !echo && n != 1 {
			t.Errorf("EchoSelf %v: publisher got %d frames", echo, n)
		}
		if len(gone.frames()) != 0 {
			t.Errorf("a closed member got frames")
		}
	}
}

// TestTrySubmitFullQueue: an event loop is never made to wait: a full
// queue refuses the job at once, and the caller keeps its buffer.
func TestTrySubmitFullQueue(t *testing.T) {
	p := newPool(t, Config{Workers: 1, Queue: 4}) // not started: nothing drains
	for i := range 4 {
		if !p.TrySubmit(textJob("r", fmt.Sprint(i))) {
			t.Fatalf("job %d refused below the bound", i)
		}
	}
	j := textJob("r", "over")
	if p.TrySubmit(j) {
		t.Fatal("TrySubmit queued past the bound")
	}
	j.Buf.Release() // still ours
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	j = textJob("r", "over")
	if err := p.Submit(ctx, j); err != ErrOverloaded {
		t.Fatalf("Submit on a full queue until the deadline: %v, want ErrOverloaded", err)
	}
	j.Buf.Release()
	if p.Pending() != 4 {
		t.Fatalf("Pending = %d, want 4", p.Pending())
	}
	// A control job (a join) still goes in: a storm of joins is not
	// refused because messages filled the queue.
	if !p.TrySubmit(Job{Room: "r", Ctl: joinCtl{}}) {
		t.Fatal("a control job was refused by a queue full of messages")
	}
}

// TestFenceAndControl: a Control runs in order between a room's
// messages, and Fence returns only once every job queued before it has
// been delivered.
func TestFenceAndControl(t *testing.T) {
	p := newPool(t, Config{Workers: 3})
	early, late := &recorder{}, &recorder{}
	p.Hub().Join("r", early)
	defer early.release()
	defer late.release()
	p.TrySubmit(textJob("r", "before"))
	p.TrySubmit(Job{Room: "r", From: late, Ctl: joinCtl{}})
	p.TrySubmit(textJob("r", "after"))
	p.Start()
	if err := p.Fence(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := early.frames(); len(got) != 2 {
		t.Fatalf("after Fence the early member has %d frames, want 2", len(got))
	}
	if got := late.frames(); len(got) != 1 || string(got[0][2:]) != "after" {
		t.Fatalf("the member joined by a Control got %q, want only the message after it", got)
	}
	p.Stop()
	j := textJob("r", "late")
	if p.TrySubmit(j) || p.Submit(context.Background(), j) != ErrStopped {
		t.Fatal("a stopped pool took a job")
	}
	j.Buf.Release()
}

type joinCtl struct{}

func (joinCtl) Apply(d *Delivery) bool {
	d.Hub().Join(d.Job().Room, d.Job().From)
	return false
}

// nopSub is a Subscriber that takes every message and does nothing, for
// allocation counts.
type nopSub struct{ dfl uint8 }

func (s *nopSub) Deliver(d *Delivery) (bool, bool) {
	_ = d.Variant(FormatFrame, s.dfl)
	return false, true
}
func (s *nopSub) Flush() {}

// TestDeliveryAllocatesNothing: delivering a job to 1,000 members
// allocates nothing beyond the job's own buffer, with or without a
// compressed variant (whose pooled buffer is reused).
func TestDeliveryAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	p := New(Config{Workers: 1, DeflateThreshold: 8, DeflateLevel: 1}, hub.New[Subscriber](0))
	for i := range 1000 {
		p.Hub().Join("r", &nopSub{dfl: uint8(8 + i%2*7)})
	}
	d := &Delivery{p: p, q: p.qs[0]}
	payload := bytes.Repeat([]byte("fan-out "), 16)
	run := func() {
		b, hdr := FrameBuf(0, frame.OpText, payload)
		p.runBurst(d, Job{Room: "r", Buf: b, Hdr: hdr})
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%.1f allocations per job to 1,000 members, want 0", n)
	}
}

// BenchmarkDeliver10k is one job to 10,000 non-socket members.
func BenchmarkDeliver10k(b *testing.B) {
	p := New(Config{Workers: 1}, hub.New[Subscriber](0))
	for range 10000 {
		p.Hub().Join("r", &nopSub{})
	}
	d := &Delivery{p: p, q: p.qs[0]}
	payload := []byte("hello, room")
	b.ReportAllocs()
	for b.Loop() {
		buf, hdr := FrameBuf(0, frame.OpText, payload)
		p.runBurst(d, Job{Room: "r", Buf: buf, Hdr: hdr})
	}
	b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "deliveries/s")
}
