package fanout

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/wsgate/wsgate/poller"
)

// seqRecorder is a Recorder that numbers each room's messages.
type seqRecorder struct {
	mu   sync.Mutex
	next map[string]uint64
}

func (r *seqRecorder) Record(worker int, j *Job) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next[j.Room]++
	j.Offset, j.Epoch = r.next[j.Room], "e"
	return true
}

// offsetSub records the offsets of the jobs delivered to it.
type offsetSub struct {
	recorder
	mu      sync.Mutex
	offsets []uint64
}

func (s *offsetSub) Deliver(d *Delivery) (bool, bool) {
	s.mu.Lock()
	s.offsets = append(s.offsets, d.Job().Offset)
	s.mu.Unlock()
	return s.recorder.Deliver(d)
}

// TestRecorderBeforeDelivery: messages marked History are recorded on
// their room's worker before any member gets them, and members see the
// position the recorder gave; unmarked ones are not recorded.
func TestRecorderBeforeDelivery(t *testing.T) {
	rec := &seqRecorder{next: map[string]uint64{}}
	p := newPool(t, Config{Workers: 2, Recorder: rec})
	s := &offsetSub{}
	defer s.release()
	p.Hub().Join("h", s)
	p.Hub().Join("plain", s)
	p.Start()
	for range 3 {
		j := textJob("h", "x")
		j.History = true
		if !p.TrySubmit(j) {
			t.Fatal("queue full")
		}
		p.TrySubmit(textJob("plain", "y"))
	}
	if err := p.Fence(context.Background()); err != nil {
		t.Fatal(err)
	}
	var h, plain []uint64
	for _, o := range s.offsets {
		if o == 0 {
			plain = append(plain, o)
		} else {
			h = append(h, o)
		}
	}
	if len(plain) != 3 || len(h) != 3 || h[0] != 1 || h[1] != 2 || h[2] != 3 {
		t.Fatalf("offsets seen: %v", s.offsets)
	}
	if rec.next["plain"] != 0 {
		t.Fatal("a message without History was recorded")
	}
}

// replayCtl replays its jobs to the joining subscriber, then joins it.
type replayCtl struct{ jobs []Job }

func (c replayCtl) Apply(d *Delivery) bool {
	for _, j := range c.jobs {
		if !d.DeliverTo(d.Job().From, j) {
			panic("DeliverTo refused")
		}
	}
	d.Hub().Join(d.Job().Room, d.Job().From)
	return false
}

// TestDeliverTo: a Control replays stored messages to one subscriber in
// its own format, in the same step as its join: the subscriber gets the
// replay, then the messages queued after the Control, nothing twice; the
// stored buffers stay the caller's.
func TestDeliverTo(t *testing.T) {
	p := newPool(t, Config{Workers: 1})
	upper := p.AddFormat(func(j *Job, _ []byte) (*poller.Buf, int) {
		return FrameBuf(0, j.Op(), bytes.ToUpper(j.Payload()))
	})
	s := &recorder{format: upper}
	defer s.release()
	stored := []Job{textJob("r", "one"), textJob("r", "two")}
	p.TrySubmit(Job{Room: "r", From: s, Ctl: replayCtl{stored}})
	p.TrySubmit(textJob("r", "three"))
	p.Start()
	if err := p.Fence(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range s.frames() {
		got = append(got, string(f[2:]))
	}
	if len(got) != 3 || got[0] != "ONE" || got[1] != "TWO" || got[2] != "THREE" {
		t.Fatalf("got %q", got)
	}
	if s.flushes.Load() == 0 {
		t.Fatal("the replay was never flushed")
	}
	for _, j := range stored {
		j.Buf.Release() // the caller's own reference: still there
	}
}

// TestBroadcast: every worker runs the Control once and knows its index.
func TestBroadcast(t *testing.T) {
	p := newPool(t, Config{Workers: 3})
	p.Start()
	var mu sync.Mutex
	seen := map[int]int{}
	ctl := controlFunc(func(d *Delivery) bool {
		mu.Lock()
		seen[d.Worker()]++
		mu.Unlock()
		return false
	})
	if n := p.Broadcast(ctl); n != 3 {
		t.Fatalf("Broadcast queued on %d workers, want 3", n)
	}
	if err := p.Fence(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[0] != 1 || seen[1] != 1 || seen[2] != 1 {
		t.Fatalf("workers seen: %v", seen)
	}
}

type controlFunc func(*Delivery) bool

func (f controlFunc) Apply(d *Delivery) bool { return f(d) }
