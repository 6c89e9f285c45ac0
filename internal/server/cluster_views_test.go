package server

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/broker/wire"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestClusterViews checks the admin API's cluster views on a node with no
// member of its own: rooms with their members added up over the nodes,
// stats with totals, every node named; and that a node's subscriptions
// go, after the grace, once its last member of a room leaves, until no
// NATS server has any interest left.
func TestClusterViews(t *testing.T) {
	servers, nodes := threeNodes(t, nil)
	a0 := wstest.Dial(t, nodes[0].Addr().String(), "/room/a")
	a0b := wstest.Dial(t, nodes[0].Addr().String(), "/room/a")
	a1 := wstest.Dial(t, nodes[1].Addr().String(), "/room/a")
	b1 := wstest.Dial(t, nodes[1].Addr().String(), "/room/b.x")
	waitInterest(t, servers, wire.Room, "a", 2)
	waitInterest(t, servers, wire.Room, "b.x", 1)

	base := adminBase(nodes[2])
	status, body := adminDo(t, "GET", base, "/api/rooms?scope=cluster", "")
	var rooms struct {
		Scope string `json:"scope"`
		Rooms []struct {
			Name           string `json:"name"`
			Members, Nodes int
		} `json:"rooms"`
		Nodes   []broker.Node `json:"nodes"`
		Missing []broker.Node `json:"missing"`
	}
	if err := json.Unmarshal([]byte(body), &rooms); err != nil || status != 200 {
		t.Fatalf("GET /api/rooms?scope=cluster: %d %s", status, body)
	}
	got := fmt.Sprint(rooms.Rooms)
	if rooms.Scope != "cluster" || got != "[{a 3 2} {b.x 1 1}]" || len(rooms.Nodes) != 3 || len(rooms.Missing) != 0 {
		t.Fatalf("cluster rooms %s, want a with 3 members on 2 nodes and b.x with 1, 3 nodes answering", body)
	}
	if rooms.Nodes[0].Name != "node2" {
		t.Errorf("the asking node comes first: %v", rooms.Nodes)
	}
	if status, body = adminDo(t, "GET", base, "/api/rooms", ""); status != 200 || body != "{\"rooms\":[]}\n" {
		t.Errorf("local rooms of a node without members: %d %s", status, body)
	}
	if status, _ = adminDo(t, "GET", base, "/api/rooms?scope=planet", ""); status != 400 {
		t.Errorf("a bad scope: %d, want 400", status)
	}

	status, body = adminDo(t, "GET", base, "/api/stats?scope=cluster", "")
	var stats struct {
		Totals Stats `json:"totals"`
		Nodes  []struct {
			Name  string `json:"name"`
			Stats Stats  `json:"stats"`
		} `json:"nodes"`
		Missing []broker.Node `json:"missing"`
	}
	if err := json.Unmarshal([]byte(body), &stats); err != nil || status != 200 {
		t.Fatalf("GET /api/stats?scope=cluster: %d %s", status, body)
	}
	if stats.Totals.Open != 4 || stats.Totals.Accepted != 4 || len(stats.Nodes) != 3 || len(stats.Missing) != 0 {
		t.Fatalf("cluster stats %s, want 4 connections over 3 nodes", body)
	}
	if status, body = adminDo(t, "GET", base, "/readyz", ""); status != 200 || body != "ready\n" {
		t.Errorf("readyz of a connected node: %d %q", status, body)
	}

	// The last member of a room on a node leaves: the node unsubscribes
	// after the grace; the others stay.
	a0.Close()
	a0b.Close()
	waitInterest(t, servers, wire.Room, "a", 1)
	wstest.WaitFor(t, clusterPatience, "node0 to drop room a", func() bool {
		n, sub := nodes[0].cl.nats.Interest(broker.Room, "a")
		return n == 0 && !sub
	})
	if n, sub := nodes[1].cl.nats.Interest(broker.Room, "a"); n != 1 || !sub {
		t.Fatalf("node1 room a: %d members, subscribed %v", n, sub)
	}
	a1.Close()
	b1.Close()
	waitInterest(t, servers, wire.Room, "a", 0)
	waitInterest(t, servers, wire.Room, "b.x", 0)
	for i, n := range nodes {
		wstest.WaitFor(t, clusterPatience, fmt.Sprintf("node%d to hold no subscription", i), func() bool {
			return n.cl.nats.State().Subscriptions == 0
		})
		if v := metricLine(t, n, "wsgate_broker_subscriptions"); v != "0" {
			t.Errorf("node%d wsgate_broker_subscriptions %q, want 0", i, v)
		}
	}
}

// TestSingleNodeHasNoBroker: without -nats a node has the Local broker,
// no broker series, and answers the cluster views for itself.
func TestSingleNodeHasNoBroker(t *testing.T) {
	s := startTestServer(t, nil)
	if _, ok := s.Broker().(*broker.Local); !ok {
		t.Fatalf("broker %T, want *broker.Local", s.Broker())
	}
	if s.pool == nil || s.cl.nats != nil {
		t.Fatal("a single node wired a NATS broker")
	}
	if v := metricLine(t, s, "wsgate_broker_connected"); v != "" {
		t.Fatalf("a single node exports wsgate_broker_connected %s", v)
	}
	c := wstest.Dial(t, s.Addr().String(), "/room/solo")
	wstest.WaitFor(t, clusterPatience, "the member to join", func() bool { return s.hub.Count("solo") == 1 })
	_, body := adminDo(t, "GET", adminBase(s), "/api/rooms?scope=cluster", "")
	var rooms struct {
		Rooms []struct {
			Name           string
			Members, Nodes int
		}
		Nodes []broker.Node
	}
	if err := json.Unmarshal([]byte(body), &rooms); err != nil || fmt.Sprint(rooms.Rooms) != "[{solo 1 1}]" || len(rooms.Nodes) != 1 {
		t.Fatalf("cluster rooms of a single node: %s", body)
	}
	c.Close()
}
