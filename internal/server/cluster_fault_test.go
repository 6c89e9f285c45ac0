package server

// Faults of a cluster: a NATS server lost mid-stream, NATS unreachable at
// start, NATS lost while a node publishes.

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/broker/wire"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestClusterNATSServerDown shuts down the NATS server of node2 while
// node0 publishes to a room with a member on every node. node2 fails over
// to another server; the members of node0 and node1 lose nothing, node2's
// member loses what was in flight through the lost server or published
// while it was away (core NATS is at most once; the count is printed),
// and gets the rest in order, every message published after its
// subscription was back included.
func TestClusterNATSServerDown(t *testing.T) {
	servers, nodes := threeNodes(t, nil)
	const room = "failover"
	pub := wstest.Dial(t, nodes[0].Addr().String(), "/room/"+room)
	var members []*wstest.Conn
	for _, n := range nodes {
		members = append(members, wstest.Dial(t, n.Addr().String(), "/room/"+room))
	}
	waitInterest(t, servers, wire.Room, room, 3)

	results := make([]*stream, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() { results[i] = readStream(fmt.Sprintf("node%d", i), m, 0, "end", false) })
	}
	seq := 0
	send := func() {
		seq++
		if err := pub.WriteMessage(frame.OpText, fmt.Appendf(nil, "p:%d", seq)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	for range 300 {
		send()
	}
	servers[2].Shutdown()
	// Publishing goes on while node2 finds another server (at most one
	// message a millisecond, for at most clusterPatience).
	deadline := time.Now().Add(clusterPatience)
	for !nodes[2].cl.nats.State().Connected || syncBroker(nodes[2]) != nil {
		if time.Now().After(deadline) {
			t.Fatal("node2 did not fail over to another NATS server")
		}
		send()
		time.Sleep(time.Millisecond)
	}
	// node2's subscription is on its new server, and the route from the
	// publisher's server to it is there already (node1 is a member):
	// from here on node2 misses nothing.
	during := seq
	for range 300 {
		send()
	}
	if err := pub.WriteMessage(frame.OpText, []byte("end")); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		lost := seq - r.got["p"]
		t.Logf("node%d's member: %d of %d messages, %d lost (%d published before node2 was back)", i, r.got["p"], seq, lost, during)
		if i < 2 && lost != 0 {
			t.Errorf("node%d's member lost %d messages; its NATS server never went down", i, lost)
		}
		if i != 2 {
			continue
		}
		// Every message published once node2 was back arrived.
		after := 0
		for _, s := range r.seqs["p"] {
			if s > during {
				after++
			}
		}
		if after != seq-during {
			t.Errorf("node2's member got %d of the %d messages published after its failover", after, seq-during)
		}
	}
}

// syncBroker waits (briefly) until node n's interest reached its NATS
// server.
func syncBroker(n *Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return n.cl.nats.Sync(ctx)
}

// startNATSAt starts a NATS server of its own on addr.
func startNATSAt(t *testing.T, addr string) *broker.Embedded {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedOptions{Listen: addr, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// TestClusterNATSUnreachableAtStart starts a node whose NATS server is not
// up: it starts anyway, its local members get their messages, /readyz
// says degraded with 200 and wsgate_broker_connected is 0. When the server
// appears the node connects by itself, with the interest it gathered
// meanwhile: a node started later reaches its member.
func TestClusterNATSUnreachableAtStart(t *testing.T) {
	addr := freeAddr(t)
	url := "nats://" + addr
	a := startNode(t, "a", []string{url}, nil, nil)
	m1 := wstest.Dial(t, a.Addr().String(), "/room/r")
	m2 := wstest.Dial(t, a.Addr().String(), "/room/r")
	wstest.WaitFor(t, clusterPatience, "two members", func() bool { return a.hub.Count("r") == 2 })
	m1.Send(true, 0, frame.OpText, []byte("local only"))
	m2.ExpectMessage(frame.OpText, []byte("local only"))
	status, body := adminDo(t, "GET", adminBase(a), "/readyz", "")
	if status != 200 || !strings.HasPrefix(body, "ready (degraded: not connected to NATS") {
		t.Fatalf("readyz without NATS: %d %q", status, body)
	}
	if v := metricLine(t, a, "wsgate_broker_connected"); v != "0" {
		t.Fatalf("wsgate_broker_connected %q without NATS, want 0", v)
	}

	startNATSAt(t, addr)
	wstest.WaitFor(t, clusterPatience, "node a to connect", func() bool { return metricLine(t, a, "wsgate_broker_connected") == "1" })
	if status, body = adminDo(t, "GET", adminBase(a), "/readyz", ""); status != 200 || body != "ready\n" {
		t.Fatalf("readyz once connected: %d %q", status, body)
	}
	b := startNode(t, "b", []string{url}, nil, nil)
	pub := wstest.Dial(t, b.Addr().String(), "/room/r")
	wstest.WaitFor(t, clusterPatience, "node a's interest to reach NATS", func() bool { return syncBroker(a) == nil })
	pub.Send(true, 0, frame.OpText, []byte("from b"))
	m1.ExpectMessage(frame.OpText, []byte("from b"))
	m2.ExpectMessage(frame.OpText, []byte("from b"))
}

// TestClusterNATSLost takes NATS away from two running nodes. Local
// delivery goes on; the messages a node cannot keep in its (small)
// reconnect buffer are dropped and counted, and the outage is logged once
// per connection, not once per message. When NATS is back, the nodes
// reconnect and reach each other again.
func TestClusterNATSLost(t *testing.T) {
	addr := freeAddr(t)
	url := "nats://" + addr
	e := startNATSAt(t, addr)
	var logs wstest.SyncBuffer
	small := func(o *broker.Options) { o.ReconnectBuffer = 16 << 10 }
	a := startNode(t, "a", []string{url}, func(c *config.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}, small)
	b := startNode(t, "b", []string{url}, nil, small)
	pub := wstest.Dial(t, a.Addr().String(), "/room/r")
	local := wstest.Dial(t, a.Addr().String(), "/room/r")
	remote := wstest.Dial(t, b.Addr().String(), "/room/r")
	waitInterest(t, []*broker.Embedded{e}, wire.Room, "r", 2)
	pub.Send(true, 0, frame.OpText, []byte("before"))
	local.ExpectMessage(frame.OpText, []byte("before"))
	remote.ExpectMessage(frame.OpText, []byte("before"))

	e.Shutdown()
	wstest.WaitFor(t, clusterPatience, "node a to notice", func() bool { return metricLine(t, a, "wsgate_broker_connected") == "0" })
	payload := strings.Repeat("x", 1000)
	for i := range 100 {
		msg := []byte(strconv.Itoa(i) + payload)
		pub.Send(true, 0, frame.OpText, msg)
		local.ExpectMessage(frame.OpText, msg)
	}
	wstest.WaitFor(t, clusterPatience, "the drops to be counted", func() bool {
		v, _ := strconv.ParseFloat(metricLine(t, a, `wsgate_broker_dropped_total{where="publish"}`), 64)
		return v > 0
	})
	if n := strings.Count(logs.String(), "dropping messages to other nodes"); n != 1 {
		t.Errorf("the drops were logged %d times, want once:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "NATS disconnected"); n != 2 {
		t.Errorf("the outage was logged %d times, want once per connection (2):\n%s", n, logs.String())
	}

	startNATSAt(t, addr)
	for _, n := range []*Server{a, b} {
		wstest.WaitFor(t, clusterPatience, "the nodes to reconnect", func() bool { return syncBroker(n) == nil })
	}
	// A message the buffer kept may arrive first: wait for "after".
	pub.Send(true, 0, frame.OpText, []byte("after"))
	local.ExpectMessage(frame.OpText, []byte("after"))
	for {
		_, p, err := remote.ReadMessage()
		if err != nil {
			t.Fatalf("node b after the outage: %v", err)
		}
		if string(p) == "after" {
			break
		}
	}
}
