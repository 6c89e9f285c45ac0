package history

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
)

// clock is a settable time for the store.
type clock struct{ t time.Time }

func (c *clock) now() time.Time               { return c.t }
func (c *clock) advance(d time.Duration)      { c.t = c.t.Add(d) }
func newClock() *clock                        { return &clock{t: time.Unix(1_700_000_000, 0)} }
func textJob(room, payload string) fanout.Job { return jobOf(room, frame.OpText, payload) }

func jobOf(room string, op frame.Opcode, payload string) fanout.Job {
	b, hdr := fanout.FrameBuf(0, op, []byte(payload))
	return fanout.Job{Room: room, Buf: b, Hdr: hdr, History: true}
}

func newStore(t testing.TB, c *clock, workers int, capBytes int64, rules ...Rule) *Memory {
	t.Helper()
	m, err := NewMemory(Config{Rules: rules, MaxBytes: capBytes, Workers: workers, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// publish records one message on worker 0 as the fan-out would (the job's
// own reference is released after the record) and returns its position.
func publish(m *Memory, room, payload string) (uint64, string) {
	j := textJob(room, payload)
	m.Record(0, &j)
	j.Buf.Release()
	return j.Offset, j.Epoch
}

// replay collects what Replay delivers, as payload strings.
func replay(m *Memory, room string, since Since, maxBytes int) (Position, bool, []string) {
	var got []string
	pos, ok := m.Replay(0, room, since, maxBytes, func(j fanout.Job) {
		got = append(got, fmt.Sprintf("%d:%s", j.Offset, j.Payload()))
		if j.Epoch == "" || !j.History {
			panic("replayed job without its epoch")
		}
	})
	return pos, ok, got
}

func TestRules(t *testing.T) {
	m := newStore(t, newClock(), 1, 0, Rule{Pattern: "chat.*", Count: 10}, Rule{Pattern: "news.>", Count: 5}, Rule{Pattern: ">", Count: 1})
	for room, want := range map[string]int{"chat.a": 10, "chat.a.b": 1, "news.eu.sport": 5, "news": 1, "lobby": 1} {
		if !m.Keeps(room) {
			t.Errorf("Keeps(%q) = false", room)
		}
		if got := m.ruleFor(room).count; got != want {
			t.Errorf("%q: rule with count %d, want %d (first match wins)", room, got, want)
		}
	}
	m2 := newStore(t, newClock(), 1, 0, Rule{Pattern: "chat.*", Count: 10})
	if m2.Keeps("lobby") || m2.Keeps("chat") {
		t.Error("rooms outside the rules keep history")
	}
	if _, err := NewMemory(Config{Rules: []Rule{{Pattern: "a.>.b", Count: 1}}}); err == nil {
		t.Error("a pattern with > in the middle was accepted")
	}
	if _, err := NewMemory(Config{Rules: []Rule{{Pattern: "a", Count: 0}}}); err == nil {
		t.Error("a count of 0 was accepted")
	}
}

func TestOffsetsAndCount(t *testing.T) {
	m := newStore(t, newClock(), 1, 0, Rule{Pattern: "r.*", Count: 3})
	var epoch string
	for i := 1; i <= 5; i++ {
		off, ep := publish(m, "r.a", fmt.Sprint("m", i))
		if off != uint64(i) {
			t.Fatalf("message %d got offset %d", i, off)
		}
		if epoch == "" {
			epoch = ep
		} else if ep != epoch {
			t.Fatalf("epoch changed from %q to %q", epoch, ep)
		}
	}
	if off, ep := publish(m, "r.b", "other"); off != 1 || ep == epoch {
		t.Fatalf("another room: offset %d epoch %q; want 1 and an epoch of its own", off, ep)
	}
	// Kept: 3, 4, 5. A client with 2 resumes; one with 1 missed 2.
	pos, ok, got := replay(m, "r.a", Since{Kind: SinceOffset, Offset: 2, Epoch: epoch}, 1<<20)
	if !ok || pos != (Position{5, epoch}) || strings.Join(got, " ") != "3:m3 4:m4 5:m5" {
		t.Fatalf("since 2: %v %v %v", pos, ok, got)
	}
	if _, ok, got := replay(m, "r.a", Since{Kind: SinceOffset, Offset: 1, Epoch: epoch}, 1<<20); ok || got != nil {
		t.Fatalf("since 1 (message 2 dropped): recovered %v, got %v", ok, got)
	}
	if _, ok, got := replay(m, "r.a", Since{Kind: SinceOffset, Offset: 5, Epoch: epoch}, 1<<20); !ok || got != nil {
		t.Fatalf("since 5 (up to date): recovered %v, got %v", ok, got)
	}
	for _, s := range []Since{{Kind: SinceOffset, Offset: 4, Epoch: "other"}, {Kind: SinceOffset, Offset: 6, Epoch: epoch}, {}} {
		if pos, ok, got := replay(m, "r.a", s, 1<<20); ok || got != nil || pos.Offset != 5 {
			t.Errorf("since %+v: recovered %v, got %v, pos %v; want false, nothing, 5", s, ok, got, pos)
		}
	}
	// The replay's byte budget: all or nothing.
	if _, ok, got := replay(m, "r.a", Since{Kind: SinceOffset, Offset: 2, Epoch: epoch}, 5); ok || got != nil {
		t.Fatalf("over the byte budget: recovered %v, got %v", ok, got)
	}
}

func TestSinceLast(t *testing.T) {
	c := newClock()
	m := newStore(t, c, 1, 0, Rule{Pattern: "state.>", Count: 1, MaxAge: time.Minute})
	pos, ok, got := replay(m, "state.x", Since{Kind: SinceLast}, 1<<20)
	if !ok || pos.Offset != 0 || got != nil {
		t.Fatalf("empty room: %v %v %v; want recovered with nothing", pos, ok, got)
	}
	publish(m, "state.x", "v1")
	publish(m, "state.x", "v2")
	if pos, ok, got = replay(m, "state.x", Since{Kind: SinceLast}, 1<<20); !ok || pos.Offset != 2 || strings.Join(got, " ") != "2:v2" {
		t.Fatalf("last: %v %v %v", pos, ok, got)
	}
	c.advance(2 * time.Minute)
	if pos, ok, got = replay(m, "state.x", Since{Kind: SinceLast}, 1<<20); ok || pos.Offset != 2 || got != nil {
		t.Fatalf("last expired: %v %v %v; want not recovered, offset 2", pos, ok, got)
	}
}

func TestAge(t *testing.T) {
	c := newClock()
	m := newStore(t, c, 1, 0, Rule{Pattern: "r", Count: 100, MaxAge: 10 * time.Second})
	_, ep := publish(m, "r", "old")
	c.advance(6 * time.Second)
	publish(m, "r", "mid")
	c.advance(6 * time.Second)
	publish(m, "r", "new")
	_, ok, got := replay(m, "r", Since{Kind: SinceOffset, Offset: 1, Epoch: ep}, 1<<20)
	if !ok || strings.Join(got, " ") != "2:mid 3:new" {
		t.Fatalf("%v %v", ok, got)
	}
	if _, ok, _ := replay(m, "r", Since{Kind: SinceOffset, Offset: 0, Epoch: ep}, 1<<20); ok {
		t.Fatal("resumed past an expired message")
	}
	c.advance(20 * time.Second)
	m.Sweep(0, c.now())
	if s := m.Stats(); s.Messages != 0 || s.Expired != 3 || s.Rooms != 1 {
		t.Fatalf("after the age: %+v", s)
	}
	// Still within forgetAfter: the room keeps its epoch and offset.
	if pos, ok, _ := replay(m, "r", Since{Kind: SinceOffset, Offset: 3, Epoch: ep}, 1<<20); !ok || pos.Offset != 3 {
		t.Fatalf("resume of an emptied room: %v %v", pos, ok)
	}
	c.advance(forgetAfter + time.Second)
	m.Sweep(0, c.now())
	if s := m.Stats(); s.Rooms != 0 || s.Bytes != 0 {
		t.Fatalf("idle empty room not forgotten: %+v", s)
	}
	off, ep2 := publish(m, "r", "again")
	if off != 1 || ep2 == ep {
		t.Fatalf("a forgotten room came back with offset %d epoch %q (old %q)", off, ep2, ep)
	}
}

func TestRoomBytes(t *testing.T) {
	m := newStore(t, newClock(), 1, 0, Rule{Pattern: "r", Count: 1000, MaxBytes: 4 << 10})
	for i := range 200 {
		publish(m, "r", fmt.Sprintf("%03d", i))
	}
	s := m.Stats()
	// Each message counts its 3 bytes and an entry.
	per := 3 + entrySize
	if want := (4 << 10) / per; s.Messages != want {
		t.Fatalf("kept %d messages, want %d (4 KiB / %d B)", s.Messages, want, per)
	}
	// One message larger than the room's bytes is still kept.
	publish(m, "r", strings.Repeat("x", 8<<10))
	if s := m.Stats(); s.Messages != 1 {
		t.Fatalf("kept %d after a big message, want 1", s.Messages)
	}
}

func TestMemoryCapEvictsOldestFirst(t *testing.T) {
	c := newClock()
	const capBytes = 128 << 10
	m := newStore(t, c, 1, capBytes, Rule{Pattern: ">", Count: 10000})
	per := 1 + entrySize
	// Room a gets old messages, then b and c newer ones, past the cap.
	eps := map[string]string{}
	n := 0
	for _, room := range []string{"a", "b", "c"} {
		for range int(capBytes/per) / 2 {
			c.advance(time.Millisecond)
			_, eps[room] = publish(m, room, "x")
			n++
		}
	}
	s := m.Stats()
	if s.Bytes > capBytes || s.Evicted == 0 {
		t.Fatalf("over the cap: %+v (cap %d)", s, capBytes)
	}
	if int(s.Messages)+int(s.Evicted) != n {
		t.Fatalf("kept %d + evicted %d != %d published", s.Messages, s.Evicted, n)
	}
	// a's messages were the oldest: all gone before any of c's.
	if _, ok, _ := replay(m, "c", Since{Kind: SinceOffset, Offset: 0, Epoch: eps["c"]}, 1<<30); !ok {
		t.Fatal("the newest room lost messages while older ones were kept")
	}
	if _, ok, _ := replay(m, "a", Since{Kind: SinceOffset, Offset: 0, Epoch: eps["a"]}, 1<<30); ok {
		t.Fatal("the oldest room kept everything")
	}
	// The room written keeps its latest message even when alone over the cap.
	big := strings.Repeat("y", 60<<10)
	for range 4 {
		publish(m, "d", big)
	}
	if p := m.Read(0, "d", 0, 10); len(p.Messages) == 0 || p.Messages[len(p.Messages)-1].Offset != 4 {
		t.Fatalf("room d after big messages: %+v", p)
	}
}

func TestRead(t *testing.T) {
	c := newClock()
	m := newStore(t, c, 1, 0, Rule{Pattern: ">", Count: 3})
	if p := m.Read(0, "none", 0, 10); p.Epoch != "" || len(p.Messages) != 0 || !p.Complete {
		t.Fatalf("unknown room: %+v", p)
	}
	j := jobOf("r", frame.OpBinary, "\x00\x01")
	j.FromUser = "ann"
	m.Record(0, &j)
	j.Buf.Release()
	for i := range 4 {
		j := textJob("r", fmt.Sprint(`{"n":`, i, `}`))
		j.JSON = true
		m.Record(0, &j)
		j.Buf.Release()
	}
	p := m.Read(0, "r", 0, 2)
	if p.First != 3 || p.Last != 5 || p.Complete || len(p.Messages) != 2 {
		t.Fatalf("page: %+v", p)
	}
	if msg := p.Messages[0]; msg.Offset != 3 || string(msg.Payload) != `{"n":1}` || !msg.JSON || msg.Binary || msg.Time.IsZero() {
		t.Fatalf("first message: %+v", msg)
	}
	if p := m.Read(0, "r", 4, 10); !p.Complete || len(p.Messages) != 1 || p.Messages[0].Offset != 5 {
		t.Fatalf("after 4: %+v", p)
	}
}

func TestWorkersAreSeparate(t *testing.T) {
	m := newStore(t, newClock(), 2, 0, Rule{Pattern: ">", Count: 10})
	j := textJob("r", "on worker 1")
	m.Record(1, &j)
	j.Buf.Release()
	if p := m.Read(0, "r", 0, 10); len(p.Messages) != 0 {
		t.Fatal("worker 0 sees worker 1's room")
	}
	if p := m.Read(1, "r", 0, 10); len(p.Messages) != 1 {
		t.Fatal("worker 1 lost its room")
	}
}

// TestArenaKeepsPayloads records payloads of every size (empty, packed
// into chunks, with buffers of their own) through several rooms while
// the count, the room's bytes and the memory cap drop old ones, and
// checks after every message that every kept payload reads back intact:
// a chunk given back to its pool while a kept message still lived in it
// would be overwritten by the next one taken.
func TestArenaKeepsPayloads(t *testing.T) {
	c := newClock()
	m := newStore(t, c, 1, 256<<10, Rule{Pattern: "a", Count: 50}, Rule{Pattern: "b", Count: 1000, MaxBytes: 64 << 10}, Rule{Pattern: ">", Count: 1000})
	rng := rand.New(rand.NewPCG(1, 2))
	sent := map[string][]string{}
	for i := range 3000 {
		room := []string{"a", "b", "c"}[rng.IntN(3)]
		n := []int{0, 1, 7, 100, 255, 256, 300, 1000, 4095, 4096, 4097, 20000}[rng.IntN(12)]
		p := make([]byte, n)
		for k := range p {
			p[k] = byte('a' + (i+k)%26)
		}
		c.advance(time.Millisecond)
		publish(m, room, string(p))
		sent[room] = append(sent[room], string(p))
		if i%97 == 0 || i > 2900 {
			for _, r := range []string{"a", "b", "c"} {
				page := m.Read(0, r, 0, 1<<20)
				for _, msg := range page.Messages {
					if want := sent[r][msg.Offset-1]; string(msg.Payload) != want {
						t.Fatalf("after %d messages, room %s offset %d: %d bytes %.20q..., want %d bytes %.20q...",
							i, r, msg.Offset, len(msg.Payload), msg.Payload, len(want), want)
					}
				}
			}
		}
	}
	if s := m.Stats(); s.Bytes > 256<<10 || s.Evicted == 0 {
		t.Fatalf("stats %+v", s)
	}
}
