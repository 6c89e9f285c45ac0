package broker

import (
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
	if a := testing.AllocsPerRun(1000, func() { n.b.deliver(msg) }); a != 0 {
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
