package broker

import (
	"context"
	"encoding/json"
	"testing"
)

func TestLocal(t *testing.T) {
	l := NewLocal(Options{
		NodeName:  "solo",
		Stats:     func() json.RawMessage { return json.RawMessage(`{"conns":3}`) },
		UserConns: func(u string) int { return len(u) },
	})
	if err := l.Subscribe(Room, "r"); err != nil {
		t.Fatal(err)
	}
	l.Unsubscribe(Room, "r")
	if err := l.Publish(Message{Kind: Room, Target: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Publish(Message{Kind: Queue, Target: "q"}); err != ErrNoConsumer {
		t.Fatalf("queue publish with no consumer: %v", err)
	}
	var got [2]int
	s0, _ := l.QueueSubscribe("q", func(m Message) {
		if m.Origin != l.Self().ID {
			t.Errorf("origin %q", m.Origin)
		}
		got[0]++
	})
	if _, err := l.QueueSubscribe("q", func(Message) { got[1]++ }); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := l.Publish(Message{Kind: Queue, Target: "q"}); err != nil {
			t.Fatal(err)
		}
	}
	if got != [2]int{5, 5} {
		t.Fatalf("queue deliveries %v, want 5 each", got)
	}
	if err := s0.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	_ = l.Publish(Message{Kind: Queue, Target: "q"})
	if got != [2]int{5, 6} {
		t.Fatalf("after unsubscribe %v", got)
	}
	c, _ := l.Gather(context.Background(), 0)
	if len(c.Nodes) != 1 || c.Nodes[0].Name != "solo" || string(c.Nodes[0].Stats) != `{"conns":3}` {
		t.Fatalf("gather %+v", c)
	}
	p, _ := l.Presence(context.Background(), "abc", 0)
	if p.Conns != 3 || len(p.Nodes) != 1 {
		t.Fatalf("presence %+v", p)
	}
	if st := l.State(); st.Mode != "local" || st.Connected {
		t.Fatalf("state %+v", st)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Publish(Message{}); err != ErrClosed {
		t.Fatalf("publish after close: %v", err)
	}
}

func TestNewPicksBroker(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*Local); !ok {
		t.Fatalf("New without URLs gave %T", b)
	}
	if _, err := New(Options{URLs: []string{"nats://127.0.0.1:1"}, SubjectPrefix: "bad..prefix", TLSCert: "x"}); err == nil {
		t.Fatal("bad options accepted")
	}
}
