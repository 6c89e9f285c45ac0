package server

// Room history in a cluster: three wsgate nodes in this process, each on
// its own server of an embedded NATS cluster with JetStream, the history
// in one stream of three replicas.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// startJetStream starts n embedded NATS servers with JetStream, routed
// into one cluster, and waits until each has routes to all the others.
func startJetStream(t testing.TB, n int) []*broker.Embedded {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// JetStream in a cluster wants every server's routes configured up
	// front: fixed route ports, the same list for all.
	routes := make([]string, n)
	for i := range routes {
		routes[i] = freeAddr(t)
	}
	servers := make([]*broker.Embedded, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() { // each waits for the others to be ready
			defer wg.Done()
			servers[i], errs[i] = broker.StartEmbedded(broker.EmbeddedOptions{
				Listen: "127.0.0.1:0", Cluster: routes[i], ClusterName: "wsgate-js",
				ServerName: fmt.Sprintf("js%d", i), Routes: routes, Logger: quiet, StoreDir: t.TempDir(),
			})
		}()
	}
	wg.Wait()
	for i, e := range servers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(e.Shutdown)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterPatience)
	defer cancel()
	for _, e := range servers {
		if err := e.WaitRoutes(ctx, n-1); err != nil {
			t.Fatal(err)
		}
	}
	return servers
}

// historyNodes starts a wsgate node on each server, with history for
// rules in the cluster's stream, and waits until every node knows the
// stream's epoch.
func historyNodes(t *testing.T, servers []*broker.Embedded, rules string) []*Server {
	t.Helper()
	var nodes []*Server
	for i, e := range servers {
		nodes = append(nodes, startNode(t, fmt.Sprintf("node%d", i), []string{e.ClientURL()}, func(c *config.Config) {
			var err error
			if c.History, err = config.ParseHistoryRules(rules); err != nil {
				t.Fatal(err)
			}
			c.HistoryReplicas = len(servers)
		}, nil))
	}
	for i, n := range nodes {
		wstest.WaitFor(t, clusterPatience, fmt.Sprintf("node%d to open the history stream", i), func() bool {
			return n.hlog.Epoch() != "" && n.hlog.Epoch() == nodes[0].hlog.Epoch()
		})
	}
	return nodes
}

// TestClusterHistory: members of a room with history on three nodes get
// the messages published on every node in one order, with the same
// offsets and epoch; a client that leaves one node resumes on another
// (one with members in the room, and one without), getting exactly what
// it missed; the admin API reads the stream.
func TestClusterHistory(t *testing.T) {
	servers := startJetStream(t, 3)
	nodes := historyNodes(t, servers, "live.*=1000/10m")
	const room = "live.a"
	var members []*wstest.Conn
	var epoch string
	for i, n := range nodes {
		c := wstest.Dial(t, n.Addr().String(), "/ws")
		send(c, `{"type":"join","room":"`+room+`"}`)
		_, e := expectJoined(t, c, room, false)
		if i > 0 && e != epoch {
			t.Fatalf("node%d's epoch %q, node0's %q", i, e, epoch)
		}
		epoch = e
		members = append(members, c)
	}
	pub := wstest.Dial(t, nodes[1].Addr().String(), "/ws?user=p")
	for i := 1; i <= 40; i++ {
		if i%2 == 0 {
			send(pub, fmt.Sprintf(`{"type":"publish","room":%q,"data":%d}`, room, i))
			continue
		}
		if code, body := adminPost(adminBase(nodes[0]), publishBody(room, []byte(strconv.Itoa(i)), false)); code != 200 {
			t.Fatalf("publish %d: %d %s", i, code, body)
		}
	}
	var offsets []uint64
	for i, c := range members {
		for k := 0; k < 40; k++ {
			m := readHist(t, c)
			if m.Type != "message" || m.Offset == nil || m.Epoch != epoch {
				t.Fatalf("node%d: %v", i, m)
			}
			if i == 0 {
				offsets = append(offsets, *m.Offset)
			} else if *m.Offset != offsets[k] {
				t.Fatalf("node%d's message %d at offset %d, node0's at %d", i, k, *m.Offset, offsets[k])
			}
		}
	}
	// Members of one node's room see the /ws publisher's messages in its
	// order (and both publishers' in one order on every node: checked).

	// node0's member leaves; 10 more; it resumes on node2.
	members[0].Close()
	for i := 41; i <= 50; i++ {
		if code, body := adminPost(adminBase(nodes[1]), publishBody(room, []byte(strconv.Itoa(i)), false)); code != 200 {
			t.Fatalf("publish %d: %d %s", i, code, body)
		}
	}
	back := wstest.Dial(t, nodes[2].Addr().String(), "/ws")
	send(back, sinceCmd(room, offsets[39], epoch))
	for i := 41; i <= 50; i++ {
		m := readHist(t, back)
		if m.Type != "message" || string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("replay: %v, want %d", m, i)
		}
	}
	expectJoined(t, back, room, true)

	coldResume(t, nodes, epoch)
}

// coldResume: in a room no node has members in, a client resumes on a
// node that must read what it missed from the stream.
func coldResume(t *testing.T, nodes []*Server, epoch string) {
	t.Helper()
	lone := wstest.Dial(t, nodes[0].Addr().String(), "/ws")
	send(lone, `{"type":"join","room":"live.b"}`)
	expectJoined(t, lone, "live.b", false)
	var last uint64
	for i := 1; i <= 10; i++ {
		adminPost(adminBase(nodes[0]), publishBody("live.b", []byte(strconv.Itoa(i)), false))
		m := readHist(t, lone)
		if i == 3 {
			last = *m.Offset
		}
	}
	lone.Close()
	cold := wstest.Dial(t, nodes[1].Addr().String(), "/ws")
	send(cold, sinceCmd("live.b", last, epoch))
	for i := 4; i <= 10; i++ {
		if m := readHist(t, cold); m.Type != "message" || string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("cold replay: %v, want %d", m, i)
		}
	}
	expectJoined(t, cold, "live.b", true)
	adminPost(adminBase(nodes[2]), publishBody("live.b", []byte("11"), false))
	if m := readHist(t, cold); string(m.Data) != "11" {
		t.Fatalf("live after the cold resume: %v", m)
	}
}

// TestClusterHistoryFaults: a node whose NATS connection breaks while a
// room's messages flow reads what it missed from the stream before it
// delivers anything newer (its member gets every message once, in
// order); a stream that is lost and made again starts a new epoch, in
// which members go on and old positions no longer resume.
func TestClusterHistoryFaults(t *testing.T) {
	servers := startJetStream(t, 3)
	nodes := historyNodes(t, servers, "live.*=1000/10m")
	const room, total = "live.f", 300
	m2 := wstest.Dial(t, nodes[2].Addr().String(), "/ws")
	send(m2, `{"type":"join","room":"`+room+`"}`)
	_, epoch := expectJoined(t, m2, room, false)
	pubDone := make(chan error, 1)
	go func() {
		for i := 1; i <= total; i++ {
			if code, body := adminPost(adminBase(nodes[0]), publishBody(room, []byte(strconv.Itoa(i)), false)); code != 200 {
				pubDone <- fmt.Errorf("publish %d: %d %s", i, code, body)
				return
			}
			if i%100 == 50 {
				_ = nodes[2].cl.nats.Conn().ForceReconnect() // what is sent meanwhile does not reach node2
			}
		}
		pubDone <- nil
	}()
	var last uint64
	for i := 1; i <= total; i++ {
		m := readHist(t, m2)
		if m.Type != "message" || string(m.Data) != strconv.Itoa(i) || m.Offset == nil || *m.Offset <= last {
			t.Fatalf("message %d: %v", i, m)
		}
		last = *m.Offset
	}
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	st := nodes[2].hist.Stats()
	t.Logf("node2 after 3 forced reconnects: %d catch-ups, %d gaps", st.Fills, st.Gaps)
	if st.Gaps != 0 {
		t.Fatalf("node2 counted %d gaps", st.Gaps)
	}

	// The stream is lost (deleted) and made again by the nodes.
	js, err := jetstream.New(nodes[0].cl.nats.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(context.Background(), broker.StreamName(broker.DefaultSubjectPrefix)); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		wstest.WaitFor(t, clusterPatience, fmt.Sprintf("node%d to find the stream made again", i), func() bool {
			e := n.hlog.Epoch()
			return e != "" && e != epoch && e == nodes[0].hlog.Epoch()
		})
	}
	again := wstest.Dial(t, nodes[1].Addr().String(), "/ws")
	send(again, sinceCmd(room, last, epoch))
	if _, e := expectJoined(t, again, room, false); e == epoch {
		t.Fatalf("a resume from the lost stream's epoch got the same epoch %q", e)
	}
	if code, body := adminPost(adminBase(nodes[0]), publishBody(room, []byte("after"), false)); code != 200 {
		t.Fatalf("publish after the loss: %d %s", code, body)
	}
	for _, c := range []*wstest.Conn{m2, again} {
		if m := readHist(t, c); m.Type != "message" || string(m.Data) != `"after"` || m.Epoch == epoch {
			t.Fatalf("after the loss: %v", m)
		}
	}
}
