package broker

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/wsgate/wsgate/internal/broker/wire"
)

// TestAllocs proves that publishing (through the Broker interface, into a
// live connection) and the broker's part of a delivery allocate nothing.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	e := startCluster(t, 1)[0]
	n := newFakeNode(t, "n", e.ClientURL(), func(o *Options) { o.Handler = func(Message) {} })
	var b Broker = n.b
	m := Message{Kind: Room, Flags: JSON, Publisher: "alice", Target: "chat.lobby", Payload: []byte(`{"text":"hello"}`)}
	if a := testing.AllocsPerRun(1000, func() { _ = b.Publish(m) }); a != 0 {
		t.Errorf("Publish: %v allocs", a)
	}
	other := m
	other.Origin = "another node"
	msg := &nats.Msg{Subject: wire.Subject(DefaultSubjectPrefix, Room, m.Target), Data: wire.AppendMessage(nil, &other)}
	d := n.b.disp[0]
	seq := uint64(0)
	if a := testing.AllocsPerRun(1000, func() {
		seq++
		wire.SetSeq(msg.Data, seq)
		n.b.deliver(d, msg)
	}); a != 0 {
		t.Errorf("deliver: %v allocs", a)
	}
	n.join(Room, "chat.lobby") // the room is held: joins and leaves come and go
	if a := testing.AllocsPerRun(1000, func() {
		_ = b.Subscribe(Room, "chat.lobby")
		b.Unsubscribe(Room, "chat.lobby")
	}); a != 0 {
		t.Errorf("Subscribe+Unsubscribe of a held room: %v allocs", a)
	}
}

// TestDeliverDropsStale feeds one dispatcher messages from two origins,
// some late or repeated: only those newer than the origin's last
// delivered message reach the handler.
func TestDeliverDropsStale(t *testing.T) {
	e := startCluster(t, 1)[0]
	var got []string
	n := newFakeNode(t, "n", e.ClientURL(), func(o *Options) {
		o.Handler = func(m Message) { got = append(got, string(m.Payload)) }
	})
	d := n.b.disp[0]
	feed := func(origin string, seq uint64, payload string) {
		m := Message{Kind: Room, Origin: origin, Seq: seq, Target: "r", Payload: []byte(payload)}
		n.b.deliver(d, &nats.Msg{Data: wire.AppendMessage(nil, &m)})
	}
	feed("a", 5, "a5")
	feed("a", 3, "a3 late")
	feed("b", 1, "b1")
	feed("a", 6, "a6")
	feed("a", 6, "a6 again")
	feed("b", 2, "b2")
	feed(n.b.self.ID, 100, "own")
	if want := "a5 b1 a6 b2"; strings.Join(got, " ") != want {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	if st := n.b.State(); st.Stale != 2 || st.Received != 4 {
		t.Fatalf("state %+v, want 2 stale, 4 received", st)
	}
}
