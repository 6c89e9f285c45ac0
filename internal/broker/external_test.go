package broker

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/wsgate/wsgate/internal/wstest"
)

// TestExternalServer runs two nodes against a NATS server that is not
// embedded, such as a distribution's nats-server package, named by
// WSGATE_TEST_NATS_URL; it is skipped without it.
func TestExternalServer(t *testing.T) {
	url := os.Getenv("WSGATE_TEST_NATS_URL")
	if url == "" {
		t.Skip("WSGATE_TEST_NATS_URL names no NATS server")
	}
	prefix := fmt.Sprintf("wsgatetest%d", os.Getpid()) // apart from anyone else on that server
	tweak := func(o *Options) { o.SubjectPrefix = prefix; o.Grace = 1 }
	a := newFakeNode(t, "a", url, tweak)
	b := newFakeNode(t, "b", url, tweak)
	wstest.WaitFor(t, patience, "both nodes to connect", func() bool { return a.b.State().Connected && b.b.State().Connected })

	room := b.join(Room, "chat.x")
	user := b.join(User, "bob")
	b.sync()
	jobs := make(chan Message, 10)
	if _, err := b.b.QueueSubscribe("jobs", func(m Message) { jobs <- m }); err != nil {
		t.Fatal(err)
	}
	if err := b.b.qc.Flush(); err != nil {
		t.Fatal(err)
	}
	const total = 200
	for seq := range total {
		if err := a.publish(Room, "chat.x", "p", fmt.Sprintf("p:%d", seq)); err != nil {
			t.Fatal(err)
		}
		if err := a.publish(User, "bob", "p", fmt.Sprintf("p:%d", seq)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.b.Publish(Message{Kind: Queue, Target: "jobs", Payload: []byte("job")}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{room, user} {
		wstest.WaitFor(t, patience, "every message", func() bool { return m.len() == total })
		if lost := checkStream(t, "external", m.messages(), total)["p"]; lost != 0 {
			t.Fatalf("lost %d", lost)
		}
	}
	if m := <-jobs; string(m.Payload) != "job" {
		t.Fatalf("queue got %q", m.Payload)
	}
	wstest.WaitFor(t, patience, "the nodes to meet", func() bool { return len(a.b.Peers()) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	p, err := a.b.Presence(ctx, "bob", patience)
	if err != nil || p.Conns != 1 || len(p.Missing) != 0 {
		t.Fatalf("presence %+v, %v", p, err)
	}
	b.b.Unsubscribe(Room, "chat.x")
	wstest.WaitFor(t, patience, "the room subscription to go", func() bool { return b.b.State().Subscriptions == 1 })
	if a.foreign+b.foreign != 0 {
		t.Fatal("a node got its own message back")
	}
}
