package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/broker/wire"
	"github.com/wsgate/wsgate/internal/wstest"
)

// threeNodes starts a three-server cluster and one node on each server.
func threeNodes(t *testing.T, tweak func(*Options)) ([]*Embedded, []*fakeNode) {
	servers := startCluster(t, 3)
	var nodes []*fakeNode
	for i, s := range servers {
		nodes = append(nodes, newFakeNode(t, fmt.Sprintf("node%d", i), s.ClientURL(), tweak))
	}
	return servers, nodes
}

// TestClusterRoomOrder spreads a room's members over three nodes, has a
// publisher on each node send a numbered stream, and checks that every
// member gets every message of every publisher, in order, once.
func TestClusterRoomOrder(t *testing.T) {
	servers, nodes := threeNodes(t, nil)
	const room = "chat.a:b@c~d"
	var members []*member
	for i, n := range nodes {
		for range i + 1 {
			members = append(members, n.join(Room, room))
		}
		n.sync()
	}
	waitInterest(t, servers, wire.Subject(DefaultSubjectPrefix, Room, room), 3)

	const perPublisher = 2000
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			pub := fmt.Sprintf("pub%d", i)
			for seq := range perPublisher {
				if err := n.publish(Room, room, pub, fmt.Sprintf("%s:%d", pub, seq)); err != nil {
					t.Errorf("publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := perPublisher * len(nodes)
	for i, m := range members {
		wstest.WaitFor(t, patience, fmt.Sprintf("member %d to get %d messages", i, want), func() bool { return m.len() >= want })
	}
	for i, m := range members {
		msgs := m.messages()
		if len(msgs) != want {
			t.Fatalf("member %d got %d messages, want %d", i, len(msgs), want)
		}
		for pub, lost := range checkStream(t, fmt.Sprintf("member %d", i), msgs, perPublisher) {
			if lost != 0 {
				t.Errorf("member %d lost %d messages of %s", i, lost, pub)
			}
		}
	}
	for i, n := range nodes {
		st := n.b.State()
		if n.foreign != 0 || st.Dropped() != 0 || st.Malformed != 0 {
			t.Errorf("node %d: %d own messages came back, state %+v", i, n.foreign, st)
		}
		if wantRecv := uint64(perPublisher * (len(nodes) - 1)); st.Received != wantRecv {
			t.Errorf("node %d received %d, want %d", i, st.Received, wantRecv)
		}
		if !st.Connected || st.Subscriptions != 1 {
			t.Errorf("node %d state %+v, want connected with one subscription", i, st)
		}
	}
}

// TestClusterUsers sends user messages from a node where the user is not
// connected to the two where it is, and asks for the user's presence and
// the cluster's stats.
func TestClusterUsers(t *testing.T) {
	servers, nodes := threeNodes(t, nil)
	const user = "alice@example.com|auth0 id"
	a := nodes[1].join(User, user)
	b1, b2 := nodes[2].join(User, user), nodes[2].join(User, user)
	nodes[1].sync()
	nodes[2].sync()
	waitInterest(t, servers, wire.Subject(DefaultSubjectPrefix, User, user), 2)
	const total = 500
	for seq := range total {
		if err := nodes[0].publish(User, user, "srv", fmt.Sprintf("srv:%d", seq)); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range []*member{a, b1, b2} {
		wstest.WaitFor(t, patience, fmt.Sprintf("user connection %d to get %d messages", i, total), func() bool { return m.len() >= total })
		if lost := checkStream(t, "user", m.messages(), total)["srv"]; lost != 0 {
			t.Errorf("connection %d lost %d", i, lost)
		}
	}
	for _, n := range nodes {
		wstest.WaitFor(t, patience, n.b.self.Name+" to know both peers", func() bool { return len(n.b.Peers()) == 2 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	p, err := nodes[0].b.Presence(ctx, user, patience)
	if err != nil {
		t.Fatal(err)
	}
	if p.Conns != 3 || len(p.Nodes) != 2 || len(p.Missing) != 0 {
		t.Fatalf("presence %+v, want 3 connections on 2 nodes", p)
	}
	c, err := nodes[1].b.Gather(ctx, patience)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 3 || len(c.Missing) != 0 || c.Nodes[0].Name != "node1" {
		t.Fatalf("gather %+v, want node1 then two others", c)
	}
	for _, ns := range c.Nodes {
		var v struct{ Node string }
		if err := json.Unmarshal(ns.Stats, &v); err != nil || v.Node != ns.Name {
			t.Errorf("stats of %s: %s", ns.Name, ns.Stats)
		}
	}
}

// TestClusterQueue has three nodes compete for one queue: each message
// reaches exactly one of them, including the publishing node.
func TestClusterQueue(t *testing.T) {
	servers, nodes := threeNodes(t, nil)
	const queue = "/queue/jobs"
	var mu sync.Mutex
	got := make(map[string]int) // payload -> deliveries
	per := make([]int, len(nodes))
	for i, n := range nodes {
		if _, err := n.b.QueueSubscribe(queue, func(m Message) {
			mu.Lock()
			got[string(m.Payload)]++
			per[i]++
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
		if err := n.b.qc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	waitInterest(t, servers, wire.Subject(DefaultSubjectPrefix, Queue, queue), 3)
	const total = 600
	for seq := range total {
		if err := nodes[0].b.Publish(Message{Kind: Queue, Target: queue, Payload: fmt.Appendf(nil, "job:%d", seq)}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	wstest.WaitFor(t, patience, "every job to be taken", func() bool { return count() == total })
	mu.Lock()
	defer mu.Unlock()
	for p, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times", p, n)
		}
	}
	for i, n := range per {
		if n == 0 {
			t.Errorf("node %d took no job of %d (per node %v)", i, total, per)
		}
	}
}

// TestQueueOwnConsumer checks that a queue message reaches a consumer on
// the publishing node, which the main connection's NoEcho would hide.
func TestQueueOwnConsumer(t *testing.T) {
	servers := startCluster(t, 1)
	n := newFakeNode(t, "solo", servers[0].ClientURL(), nil)
	got := make(chan Message, 1)
	sub, err := n.b.QueueSubscribe("q", func(m Message) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	if err := n.b.qc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := n.b.Publish(Message{Kind: Queue, Target: "q", Publisher: "p", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	var m Message
	select {
	case m = <-got:
	case <-time.After(patience):
		t.Fatal("the queue message never came")
	}
	if m.Origin != n.b.self.ID || string(m.Payload) != "x" || m.Publisher != "p" {
		t.Fatalf("got %+v", m)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := n.b.qc.Flush(); err != nil {
		t.Fatal(err)
	}
	if k := localSubs(t, servers[0].Server(), wire.Subject(DefaultSubjectPrefix, Queue, "q")); k != 0 {
		t.Fatalf("%d queue subscriptions left after Unsubscribe", k)
	}
}

// TestGatherMissing has one node vanish without a word and another leave
// properly: Gather names the first as missing, forgets the second.
func TestGatherMissing(t *testing.T) {
	_, nodes := threeNodes(t, func(o *Options) { o.AnnounceInterval = time.Minute })
	for _, n := range nodes {
		wstest.WaitFor(t, patience, n.b.self.Name+" to know both peers", func() bool { return len(n.b.Peers()) == 2 })
	}
	// node2 dies: its connections drop with no goodbye.
	nodes[2].b.nc.Close()
	nodes[2].b.qc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := nodes[0].b.Gather(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.Nodes[0].Name != "node0" {
		t.Fatalf("gather %+v: this node should come first", c)
	}
	names := map[string]string{}
	for _, n := range c.Nodes {
		names[n.Name] = "answered"
	}
	for _, n := range c.Missing {
		names[n.Name] += "missing"
	}
	if names["node2"] != "missing" || (names["node1"] != "answered" && names["node1"] != "missing") || len(names) != 3 {
		t.Fatalf("gather %+v", c)
	}
	// node1 leaves properly: node0 stops expecting it at once.
	if err := nodes[1].b.Close(); err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, patience, "node0 to forget node1", func() bool {
		for _, p := range nodes[0].b.Peers() {
			if p.Name == "node1" {
				return false
			}
		}
		return true
	})
}
