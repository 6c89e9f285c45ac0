package broker

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/broker/wire"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestInterestChurn joins and leaves a room many times with a long grace:
// the node subscribes once and keeps its one subscription.
func TestInterestChurn(t *testing.T) {
	servers := startCluster(t, 1)
	n := newFakeNode(t, "n", servers[0].ClientURL(), nil) // grace 1h
	subj := wire.Subject(DefaultSubjectPrefix, Room, "lobby")
	for range 200 {
		if err := n.b.Subscribe(Room, "lobby"); err != nil {
			t.Fatal(err)
		}
		n.b.Unsubscribe(Room, "lobby")
	}
	if err := n.b.Subscribe(Room, "lobby"); err != nil {
		t.Fatal(err)
	}
	n.sync()
	n.b.Unsubscribe(Room, "lobby")
	n.b.Unsubscribe(Room, "lobby") // unbalanced: ignored
	n.sync()
	if k := localSubs(t, servers[0].Server(), subj); k != 1 {
		t.Fatalf("server holds %d subscriptions of %s, want 1", k, subj)
	}
	if count, subscribed := n.b.Interest(Room, "lobby"); count != 0 || !subscribed {
		t.Fatalf("interest %d, subscribed %v; want 0 members, still subscribed in grace", count, subscribed)
	}
	if st := n.b.State(); st.Subscriptions != 1 {
		t.Fatalf("state %+v, want one subscription", st)
	}
}

// TestInterestGrace checks that the subscription goes once the last local
// member has left and the grace has passed, on this node's server and on
// the others, and that a member who comes back is served again.
func TestInterestGrace(t *testing.T) {
	servers := startCluster(t, 2)
	n := newFakeNode(t, "n", servers[0].ClientURL(), func(o *Options) { o.Grace = 100 * time.Millisecond })
	other := newFakeNode(t, "other", servers[1].ClientURL(), nil)
	rooms := []string{"a", "b.c", "user:1@x"}
	for _, r := range rooms {
		n.join(Room, r)
		n.join(Room, r)
	}
	n.join(User, "bob")
	n.sync()
	for _, r := range rooms {
		waitInterest(t, servers, wire.Subject(DefaultSubjectPrefix, Room, r), 1)
	}
	for _, r := range rooms {
		n.b.Unsubscribe(Room, r)
		n.b.Unsubscribe(Room, r)
	}
	n.b.Unsubscribe(User, "bob")
	for _, r := range rooms {
		subj := wire.Subject(DefaultSubjectPrefix, Room, r)
		wstest.WaitFor(t, patience, "the subscription of "+subj+" to go", func() bool {
			return localSubs(t, servers[0].Server(), subj) == 0
		})
		waitInterest(t, servers, subj, 0)
	}
	wstest.WaitFor(t, patience, "the node to hold no subscription", func() bool { return n.b.State().Subscriptions == 0 })
	waitInterest(t, servers, wire.Subject(DefaultSubjectPrefix, User, "bob"), 0)

	// Back again: messages flow.
	m := n.join(Room, "a")
	n.sync()
	waitInterest(t, servers, wire.Subject(DefaultSubjectPrefix, Room, "a"), 1)
	if err := other.publish(Room, "a", "p", "p:0"); err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, patience, "the returning member's message", func() bool { return m.len() == 1 })
}

// TestInterestNames checks the calls' argument checks.
func TestInterestNames(t *testing.T) {
	for _, b := range []Broker{NewLocal(Options{}), newFakeNode(t, "n", startCluster(t, 1)[0].ClientURL(), nil).b} {
		if err := b.Subscribe(Queue, "q"); err != ErrKind {
			t.Errorf("%T: Subscribe(Queue) = %v", b, err)
		}
		long := fmt.Sprintf("%0*d", wire.MaxSubjectLen, 0)
		if err := b.Subscribe(Room, long); err != ErrNameTooLong {
			t.Errorf("%T: long name: %v", b, err)
		}
		if err := b.Publish(Message{Kind: Room, Target: long}); err == nil {
			if _, local := b.(*Local); !local {
				t.Errorf("%T: publish to a long name succeeded", b)
			}
		}
	}
}

// TestCloseLeavesNoGoroutine closes a busy broker and waits for every
// goroutine it started (its own and nats.go's) to end.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	e := startCluster(t, 1)[0]
	before := runtime.NumGoroutine()
	n := newFakeNode(t, "n", e.ClientURL(), func(o *Options) { o.Grace = time.Millisecond })
	n.join(Room, "r")
	n.join(User, "u")
	if _, err := n.b.QueueSubscribe("q", func(Message) {}); err != nil {
		t.Fatal(err)
	}
	n.sync()
	n.b.Unsubscribe(Room, "r")
	if err := n.publish(Room, "r", "p", "p:0"); err != nil {
		t.Fatal(err)
	}
	if err := n.b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.b.Close(); err != ErrClosed {
		t.Fatalf("second Close: %v", err)
	}
	if err := n.b.Publish(Message{Kind: Room, Target: "r"}); err != ErrClosed {
		t.Fatalf("Publish after Close: %v", err)
	}
	wstest.WaitFor(t, patience, "the broker's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}
