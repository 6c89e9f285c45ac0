package rawproto

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/poller"
)

// member is a protocol.Conn that records what it is sent.
type member struct {
	room  string
	id    *auth.Identity
	state any

	mu      sync.Mutex
	frames  [][]byte // queued by the fan-out
	replies [][]byte // sent back with Reply
	failed  frame.CloseCode
}

func (m *member) Deliver(d *fanout.Delivery) (bool, bool) {
	return m.Queue(d.Variant(fanout.FormatFrame, 0))
}
func (m *member) Flush() {}
func (m *member) Reply(op frame.Opcode, payload []byte) {
	m.mu.Lock()
	m.replies = append(m.replies, append([]byte{byte(op)}, payload...))
	m.mu.Unlock()
}
func (m *member) Queue(b *poller.Buf) (bool, bool) {
	m.mu.Lock()
	m.frames = append(m.frames, bytes.Clone(b.B))
	m.mu.Unlock()
	return true, true
}
func (m *member) Scratch() []byte                     { return nil }
func (m *member) Fail(code frame.CloseCode, _ string) { m.failed = code }
func (m *member) Room() string                        { return m.room }
func (m *member) User() string                        { return "" }
func (m *member) Identity() *auth.Identity            { return m.id }
func (m *member) State() any                          { return m.state }

func (m *member) received() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.frames)
}

func TestEchoRepliesAndCounts(t *testing.T) {
	m := metrics.New(nil, nil, nil, 1, metrics.Gauges{})
	c := &member{}
	if err := (Echo{Metrics: m}).Message(c, frame.OpBinary, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if len(c.replies) != 1 || !bytes.Equal(c.replies[0], []byte{byte(frame.OpBinary), 1, 2}) {
		t.Fatalf("replies %q, want the binary message back", c.replies)
	}
	if got := m.MessagesOut[metrics.OpBinary].Get(); got != 1 {
		t.Fatalf("binary messages out %d, want 1", got)
	}
}

// TestRoomDeliversToOthers: a message sent on /room/NAME reaches the
// room's other members as the sender's frame, not the sender; a member
// whose token may not publish there is counted and goes unheard.
func TestRoomDeliversToOthers(t *testing.T) {
	m := metrics.New(nil, nil, nil, 1, metrics.Gauges{})
	pool := fanout.New(fanout.Config{Workers: 1, Metrics: m}, hub.New[fanout.Subscriber](0))
	pool.Start()
	defer pool.Stop()
	p := NewRoom(pool, m, nil)
	listenOnly, err := auth.NewIdentity("eve", time.Time{}, []string{"chat"}, []string{"other"})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob, eve := &member{room: "chat"}, &member{room: "chat"}, &member{room: "chat", id: listenOnly}
	for _, c := range []*member{alice, bob, eve} {
		c.state = p.Open(c)
	}
	if err := p.Message(eve, frame.OpText, []byte("unheard")); err != nil {
		t.Fatal(err)
	}
	if got := m.ForbiddenPublish.Get(); got != 1 {
		t.Fatalf("forbidden publishes %d, want 1", got)
	}
	if err := p.Message(alice, frame.OpText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for bob.received() < 1 || eve.received() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("bob got %d, eve %d messages, want 1 each", bob.received(), eve.received())
		}
		time.Sleep(time.Millisecond)
	}
	want := append(frame.AppendHeader(nil, true, 0, frame.OpText, 2, nil), "hi"...)
	if !bytes.Equal(bob.frames[0], want) {
		t.Fatalf("bob got %q, want %q", bob.frames[0], want)
	}
	p.Close(bob)
	p.Close(eve)
	p.Close(alice)
	if alice.received() != 0 || pool.Hub().Count("chat") != 0 {
		t.Fatalf("the sender got %d messages; the room has %d members after all left", alice.received(), pool.Hub().Count("chat"))
	}
}
