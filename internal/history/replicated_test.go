package history_test

// Tests of the Replicated store over an in-process log that behaves as
// JetStream does for it: one sequence over all rooms, every message
// passed on to the nodes that follow its room with the offset of the
// room's message before it, a per-room limit, and deliveries that a test
// may drop (as NATS does when a node's connection fails).

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/hub"
)

type stored struct {
	seq, prev uint64
	room      string
	payload   []byte
	ref       uint64
	node      *fakeNode
}

// fakeLog is the shared log.
type fakeLog struct {
	mu      sync.Mutex
	seq     uint64
	msgs    []stored // kept, in order
	perRoom int
	nodes   []*fakeNode
}

func (l *fakeLog) append(n *fakeNode, room string, ref uint64, payload []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	m := stored{seq: l.seq, room: room, payload: append([]byte(nil), payload...), ref: ref, node: n}
	kept := 0
	for i := len(l.msgs) - 1; i >= 0; i-- {
		if l.msgs[i].room == room {
			if m.prev == 0 {
				m.prev = l.msgs[i].seq
			}
			kept++
		}
	}
	l.msgs = append(l.msgs, m)
	if l.perRoom > 0 && kept+1 > l.perRoom {
		for i := range l.msgs {
			if l.msgs[i].room == room {
				l.msgs = slices.Delete(l.msgs, i, i+1)
				break
			}
		}
	}
	for _, o := range l.nodes {
		if o.following[room] {
			o.feed <- m
		}
	}
}

// fakeNode is one node: its pool, its store, and its side of the log.
type fakeNode struct {
	log       *fakeLog
	pool      *fanout.Pool
	st        *history.Replicated
	feed      chan stored
	following map[string]bool // guarded by log.mu
	counts    map[string]int  // guarded by log.mu
	drop      func(seq uint64) bool
	stop      chan struct{}
}

func (n *fakeNode) Epoch() string { return "e1" }

func (n *fakeNode) Append(room string, ref uint64, j *fanout.Job) error {
	n.log.append(n, room, ref, j.Payload())
	return nil
}

func (n *fakeNode) Start(ctx context.Context, room string) (history.Start, error) {
	l := n.log
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.msgs) - 1; i >= 0; i-- {
		if m := l.msgs[i]; m.room == room {
			return history.Start{Last: m.seq, Message: entry(m)}, nil
		}
	}
	return history.Start{}, nil
}

func (n *fakeNode) Fetch(ctx context.Context, room string, from uint64, limit, maxBytes int) ([]history.Entry, error) {
	l := n.log
	l.mu.Lock()
	defer l.mu.Unlock()
	var es []history.Entry
	for _, m := range l.msgs {
		if m.room == room && m.seq >= from && len(es) < limit {
			es = append(es, *entry(m))
		}
	}
	return es, nil
}

func (n *fakeNode) Bounds(ctx context.Context, room string) (history.Bounds, error) {
	l := n.log
	l.mu.Lock()
	defer l.mu.Unlock()
	b := history.Bounds{Last: l.seq, PerRoom: uint64(l.perRoom), First: l.seq + 1}
	if len(l.msgs) > 0 {
		b.First = l.msgs[0].seq
	}
	for _, m := range l.msgs {
		if m.room == room {
			b.Count++
		}
	}
	return b, nil
}

func (n *fakeNode) Hold(room string)    { n.interest(room, 1) }
func (n *fakeNode) Release(room string) { n.interest(room, -1) }

// interest counts a room's local members and holds; the node follows
// the room while the count is positive (no grace).
func (n *fakeNode) interest(room string, d int) {
	l := n.log
	l.mu.Lock()
	n.counts[room] += d
	c := n.counts[room]
	start := c == 1 && d > 0 && !n.following[room]
	stop := c == 0 && n.following[room]
	if start {
		n.following[room] = true
	}
	if stop {
		n.following[room] = false
	}
	l.mu.Unlock()
	switch {
	case start:
		n.st.Follow(room)
	case stop:
		n.st.Unfollow(room)
	}
}

func entry(m stored) *history.Entry {
	return &history.Entry{Offset: m.seq, Time: time.Now().UnixNano(), Op: frame.OpText, Payload: m.payload}
}

// run is the node's delivery goroutine: messages of the log, in order,
// to the pool.
func (n *fakeNode) run() {
	for {
		select {
		case m := <-n.feed:
			if n.drop != nil && n.drop(m.seq) {
				continue
			}
			fb, hdr := fanout.FrameBuf(0, frame.OpText, m.payload)
			j := fanout.Job{Room: m.room, Buf: fb, Hdr: hdr, Remote: true, History: true, Offset: m.seq, Prev: m.prev}
			if m.node == n {
				j.From = n.st.Publisher(m.ref)
			}
			if err := n.pool.Submit(context.Background(), j); err != nil {
				fb.Release()
			}
		case <-n.stop:
			return
		}
	}
}

func newFakeNode(t *testing.T, l *fakeLog, rules ...history.Rule) *fakeNode {
	t.Helper()
	n := &fakeNode{log: l, feed: make(chan stored, 100000), following: map[string]bool{}, counts: map[string]int{}, stop: make(chan struct{})}
	st, err := history.NewReplicated(history.ReplicatedConfig{Config: history.Config{Rules: rules, Workers: 2}, Timeout: time.Second}, n)
	if err != nil {
		t.Fatal(err)
	}
	n.st = st
	h := hub.New[fanout.Subscriber](4)
	h.Observe(func(room string, first bool) {
		if first {
			n.interest(room, 1)
		} else {
			n.interest(room, -1)
		}
	}, nil)
	n.pool = fanout.New(fanout.Config{Workers: 2, Recorder: st}, h)
	st.Attach(n.pool)
	n.pool.Start()
	go n.run()
	l.mu.Lock()
	l.nodes = append(l.nodes, n)
	l.mu.Unlock()
	t.Cleanup(func() { close(n.stop); n.pool.Stop() })
	return n
}

// member records what it gets: "offset:payload".
type member struct {
	mu  sync.Mutex
	got []string
	off []uint64
}

func (m *member) Deliver(d *fanout.Delivery) (bool, bool) {
	j := d.Job()
	m.mu.Lock()
	m.got = append(m.got, string(j.Payload()))
	m.off = append(m.off, j.Offset)
	m.mu.Unlock()
	return false, true
}
func (m *member) Flush() {}

func (m *member) snapshot() ([]string, []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.got), slices.Clone(m.off)
}

type joinResult struct {
	pos history.Position
	ok  bool
}

// joinCtl joins as a resuming /ws join does: Defer, then join, replay
// and answer in one step.
type joinCtl struct {
	st    *history.Replicated
	since history.Since
	m     *member
	done  chan joinResult
}

func (c *joinCtl) Apply(d *fanout.Delivery) bool {
	j := d.Job()
	if c.st.Defer(d.Worker(), j.Room, c.since, *j) {
		return false
	}
	d.Hub().Join(j.Room, c.m)
	pos, ok := c.st.Replay(d.Worker(), j.Room, c.since, 1<<20, func(r fanout.Job) { d.DeliverTo(c.m, r) })
	c.done <- joinResult{pos, ok}
	return false
}

func (n *fakeNode) join(t *testing.T, room string, m *member, since history.Since) joinResult {
	t.Helper()
	c := &joinCtl{st: n.st, since: since, m: m, done: make(chan joinResult, 1)}
	if !n.pool.TrySubmit(fanout.Job{Room: room, Ctl: c, From: m}) {
		t.Fatal("join refused")
	}
	select {
	case r := <-c.done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatalf("join of %s never answered", room)
	}
	return joinResult{}
}

type leaveCtl struct{ m *member }

func (c leaveCtl) Apply(d *fanout.Delivery) bool { d.Hub().Leave(d.Job().Room, c.m); return false }

func (n *fakeNode) leave(room string, m *member) {
	n.pool.TrySubmit(fanout.Job{Room: room, Ctl: leaveCtl{m}})
}

func (n *fakeNode) publish(t *testing.T, room, payload string, from fanout.Subscriber) {
	t.Helper()
	fb, hdr := fanout.FrameBuf(0, frame.OpText, []byte(payload))
	if err := n.pool.Submit(context.Background(), fanout.Job{Room: room, Buf: fb, Hdr: hdr, History: true, From: from}); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until m has n messages and returns them.
func waitFor(t *testing.T, m *member, n int) ([]string, []uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, off := m.snapshot()
		if len(got) >= n {
			return got, off
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages, want %d: %v", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func checkSeq(t *testing.T, who string, got []string, off []uint64, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s got %v\nwant %v", who, got, want)
	}
	for i := 1; i < len(off); i++ {
		if off[i] <= off[i-1] {
			t.Fatalf("%s: offsets not increasing: %v", who, off)
		}
	}
}

func names(prefix string, from, to int) []string {
	var s []string
	for i := from; i <= to; i++ {
		s = append(s, fmt.Sprintf("%s%d", prefix, i))
	}
	return s
}

var rule = history.Rule{Pattern: "r.*", Count: 100}

// TestReplicatedOneOrder: members on two nodes see the messages
// published on both in one order, the log's, with the same offsets; a
// publisher does not get its own message.
func TestReplicatedOneOrder(t *testing.T) {
	l := &fakeLog{}
	a, b := newFakeNode(t, l, rule), newFakeNode(t, l, rule)
	ma, mb := &member{}, &member{}
	if r := a.join(t, "r.x", ma, history.Since{}); r.ok || r.pos.Epoch != "e1" {
		t.Fatalf("plain join: %+v", r)
	}
	b.join(t, "r.x", mb, history.Since{})
	for i := range 50 {
		a.publish(t, "r.x", fmt.Sprintf("a%d", i), nil)
		b.publish(t, "r.x", fmt.Sprintf("b%d", i), mb)
	}
	gotA, offA := waitFor(t, ma, 100)
	gotB, offB := waitFor(t, mb, 50) // not its own 50
	var other []string
	var otherOff []uint64
	for i, g := range gotA {
		if strings.HasPrefix(g, "a") {
			other, otherOff = append(other, g), append(otherOff, offA[i])
		}
	}
	checkSeq(t, "b", gotB, offB, other)
	if !slices.Equal(offB, otherOff) {
		t.Fatalf("offsets differ between nodes: %v %v", offB, otherOff)
	}
	checkSeq(t, "a", gotA, offA, gotA)
}

// TestReplicatedCatchUp: a node that misses messages (dropped between
// the log and it) reads them from the log before it delivers anything
// newer: its members get every message once, in order. A node notices a
// loss at the message after it (or when its connection to NATS comes
// back), so the last message of the test always arrives: the drops are
// among the 79 before it.
func TestReplicatedCatchUp(t *testing.T) {
	l := &fakeLog{}
	a, b := newFakeNode(t, l, rule), newFakeNode(t, l, rule)
	b.drop = func(seq uint64) bool { return seq < 80 && (seq%7 == 3 || (seq > 40 && seq < 50)) }
	mb := &member{}
	b.join(t, "r.x", mb, history.Since{})
	for i := range 80 {
		a.publish(t, "r.x", fmt.Sprintf("m%d", i), nil)
	}
	got, off := waitFor(t, mb, 80)
	checkSeq(t, "b", got, off, names("m", 0, 79))
	if st := b.st.Stats(); st.Fills == 0 || st.Gaps != 0 {
		t.Fatalf("stats %+v: want catch-ups and no gap", st)
	}
}

// TestReplicatedResumeAnywhere: a client that leaves one node resumes on
// another, one that follows the room and one that does not yet (it reads
// what the client missed from the log), and on a node behind it; each
// gets every message it missed once, then the live ones.
func TestReplicatedResumeAnywhere(t *testing.T) {
	l := &fakeLog{}
	a, b, c := newFakeNode(t, l, rule), newFakeNode(t, l, rule), newFakeNode(t, l, rule)
	ma, mb := &member{}, &member{}
	a.join(t, "r.x", ma, history.Since{})
	b.join(t, "r.x", mb, history.Since{})
	for i := range 20 {
		a.publish(t, "r.x", fmt.Sprintf("m%d", i), nil)
	}
	_, off := waitFor(t, ma, 20)
	waitFor(t, mb, 20)
	a.leave("r.x", ma)
	for i := 20; i < 30; i++ {
		b.publish(t, "r.x", fmt.Sprintf("m%d", i), nil)
	}
	waitFor(t, mb, 30)
	since := history.Since{Kind: history.SinceOffset, Offset: off[9], Epoch: "e1"}

	// On c, which has no member in the room: it learns where the room
	// stands, reads m10..m29 from the log, then goes live.
	mc := &member{}
	r := c.join(t, "r.x", mc, since)
	if !r.ok {
		t.Fatalf("resume on a cold node: %+v", r)
	}
	got, _ := waitFor(t, mc, 20)
	checkSeq(t, "c replay", got, nil, names("m", 10, 29))

	// On b, which follows the room: served from memory.
	mb2 := &member{}
	if r := b.join(t, "r.x", mb2, history.Since{Kind: history.SinceOffset, Offset: off[19], Epoch: "e1"}); !r.ok {
		t.Fatalf("resume on a live node: %+v", r)
	}
	for i := 30; i < 35; i++ {
		a.publish(t, "r.x", fmt.Sprintf("m%d", i), nil)
	}
	got, off2 := waitFor(t, mb2, 15)
	checkSeq(t, "b resume", got, off2, names("m", 20, 34))
	got, off2 = waitFor(t, mc, 25)
	checkSeq(t, "c live", got, off2, names("m", 10, 34))

	// A resume from another epoch, and one from before what the log keeps.
	if r := b.join(t, "r.x", &member{}, history.Since{Kind: history.SinceOffset, Offset: off[19], Epoch: "old"}); r.ok {
		t.Fatal("a resume from another epoch recovered")
	}
	st := b.st.Stats()
	if st.Recovered == 0 || st.Missed == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReplicatedResumeAhead: a client that saw more than the node it
// resumes on (that node is slow) makes the node catch up first: no
// message twice.
func TestReplicatedResumeAhead(t *testing.T) {
	l := &fakeLog{}
	a, b := newFakeNode(t, l, rule), newFakeNode(t, l, rule)
	var mu sync.Mutex
	blocked := false
	b.drop = func(uint64) bool { mu.Lock(); defer mu.Unlock(); return blocked }
	ma, mb := &member{}, &member{}
	a.join(t, "r.x", ma, history.Since{})
	b.join(t, "r.x", mb, history.Since{})
	for i := range 10 {
		a.publish(t, "r.x", fmt.Sprintf("m%d", i), nil)
	}
	waitFor(t, mb, 10)
	mu.Lock()
	blocked = true // b hears nothing more for now
	mu.Unlock()
	for i := 10; i < 20; i++ {
		a.publish(t, "r.x", fmt.Sprintf("m%d", i), nil)
	}
	_, off := waitFor(t, ma, 20)
	mu.Lock()
	blocked = false
	mu.Unlock()
	m2 := &member{}
	if r := b.join(t, "r.x", m2, history.Since{Kind: history.SinceOffset, Offset: off[14], Epoch: "e1"}); !r.ok {
		t.Fatalf("resume ahead: %+v", r)
	}
	a.publish(t, "r.x", "m20", nil)
	got, off2 := waitFor(t, m2, 6)
	checkSeq(t, "resume ahead", got, off2, names("m", 15, 20))
	got, off2 = waitFor(t, mb, 21)
	checkSeq(t, "b's member", got, off2, names("m", 0, 20))
}

// TestReplicatedTooOld: a resume from before what the room's rule keeps
// is refused; one at the edge is served.
func TestReplicatedTooOld(t *testing.T) {
	l := &fakeLog{perRoom: 10}
	a, b := newFakeNode(t, l, history.Rule{Pattern: "r.*", Count: 10}), newFakeNode(t, l, history.Rule{Pattern: "r.*", Count: 10})
	ma := &member{}
	a.join(t, "r.x", ma, history.Since{})
	for i := range 30 {
		a.publish(t, "r.x", fmt.Sprintf("m%d", i), nil)
	}
	_, off := waitFor(t, ma, 30)
	if r := b.join(t, "r.x", &member{}, history.Since{Kind: history.SinceOffset, Offset: off[5], Epoch: "e1"}); r.ok {
		t.Fatal("a resume from before the kept history recovered")
	}
	m := &member{}
	if r := b.join(t, "r.x", m, history.Since{Kind: history.SinceOffset, Offset: off[20], Epoch: "e1"}); !r.ok {
		t.Fatalf("a resume within the kept history: %+v", r)
	}
	got, _ := waitFor(t, m, 9)
	checkSeq(t, "edge", got, nil, names("m", 21, 29))
}
