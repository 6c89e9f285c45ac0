package server

// Tests of wsgate nodes in a cluster, in one test binary: three wsgate
// servers, each connected to its own server of an embedded NATS cluster
// of three, with real WebSocket clients on every node. Every wait is on
// an event (a message, a subscription count), bounded by clusterPatience.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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

// clusterPatience bounds every wait of the cluster tests: generous for a
// busy machine; a healthy run waits far less.
const clusterPatience = 60 * time.Second

// startNATS starts n embedded NATS servers on loopback, routed into one
// cluster, and waits until each has routes to all the others.
func startNATS(t *testing.T, n int) []*broker.Embedded {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var servers []*broker.Embedded
	var routes []string
	for i := range n {
		e, err := broker.StartEmbedded(broker.EmbeddedOptions{
			Listen: "127.0.0.1:0", Cluster: "127.0.0.1:0", ClusterName: "wsgate-test",
			ServerName: fmt.Sprintf("nats%d", i), Routes: routes, Logger: quiet,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Shutdown)
		servers = append(servers, e)
		if i == 0 {
			routes = []string{e.ClusterAddr().String()}
		}
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

// startNode starts a wsgate node connected to the NATS servers of urls,
// with a short grace and announce interval (so tests of interest and
// views do not wait), anonymous clients, dev mode (?user=) and no limits.
// mod and tune may adjust the configuration and the broker's options.
func startNode(t *testing.T, name string, urls []string, mod func(*config.Config), tune func(*broker.Options)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Listen, cfg.Admin = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Anonymous, cfg.NoLimits, cfg.DevMode = true, true, true
	cfg.PingInterval, cfg.IdleTimeout = 0, 0
	cfg.NATS, cfg.NodeName = urls, name
	cfg.ClusterTimeout = 10 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.tuneBroker = func(o *broker.Options) {
		o.Grace, o.AnnounceInterval, o.ReconnectWait = 100*time.Millisecond, time.Second, 50*time.Millisecond
		if tune != nil {
			tune(o)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// threeNodes starts three NATS servers and a wsgate node on each.
func threeNodes(t *testing.T, tune func(*broker.Options)) ([]*broker.Embedded, []*Server) {
	t.Helper()
	servers := startNATS(t, 3)
	var nodes []*Server
	for i, e := range servers {
		nodes = append(nodes, startNode(t, fmt.Sprintf("node%d", i), []string{e.ClientURL()}, nil, tune))
	}
	for _, n := range nodes {
		wstest.WaitFor(t, clusterPatience, "every node to know the two others", func() bool { return n.cl.nats.State().Nodes == 2 })
	}
	return servers, nodes
}

// waitInterest waits until every running NATS server sees want nodes
// subscribed to the room or user name.
func waitInterest(t *testing.T, servers []*broker.Embedded, kind wire.Kind, name string, want int) {
	t.Helper()
	subj := wire.Subject(broker.DefaultSubjectPrefix, kind, name)
	for i, e := range servers {
		if e.Server().Running() {
			wstest.WaitFor(t, clusterPatience, fmt.Sprintf("NATS server %d to see %d nodes on %s", i, want, subj),
				func() bool { return e.Server().GlobalAccount().Interest(subj) == want })
		}
	}
}

// stream is what one member received: payloads "pub:seq", checked for
// order as they come.
type stream struct {
	who  string
	last map[string]int   // publisher -> last seq
	got  map[string]int   // publisher -> messages
	seqs map[string][]int // publisher -> the seqs received, in order
	err  error
}

// readStream reads c until it has total messages, or, when end is set,
// until it sees end; envelope says c is a /ws member (JSON envelopes).
func readStream(who string, c *wstest.Conn, total int, end string, envelope bool) *stream {
	s := &stream{who: who, last: map[string]int{}, got: map[string]int{}, seqs: map[string][]int{}}
	for n := 0; end != "" || n < total; n++ {
		op, p, err := c.ReadMessage()
		if err != nil {
			s.err = fmt.Errorf("%s: after %d messages: %w", who, n, err)
			return s
		}
		if envelope {
			var env struct {
				Type, Room string
				Data       string
			}
			if err := json.Unmarshal(p, &env); err != nil || env.Type != "message" {
				s.err = fmt.Errorf("%s: envelope %q", who, p)
				return s
			}
			p = []byte(env.Data)
		}
		if op != frame.OpText {
			s.err = fmt.Errorf("%s: opcode %v", who, op)
			return s
		}
		if string(p) == end {
			return s
		}
		pub, seqText, _ := strings.Cut(string(p), ":")
		var seq int
		if _, err := fmt.Sscan(seqText, &seq); err != nil {
			s.err = fmt.Errorf("%s: payload %q", who, p)
			return s
		}
		if prev, ok := s.last[pub]; ok && seq <= prev {
			s.err = fmt.Errorf("%s: %s's message %d after %d: out of order or twice", who, pub, seq, prev)
			return s
		}
		s.last[pub] = seq
		s.got[pub]++
		s.seqs[pub] = append(s.seqs[pub], seq)
	}
	return s
}

// TestClusterRoomOrder spreads a room's members over three nodes (a /room
// and a /ws member on each), has a /room publisher on each node send a
// numbered stream, and checks that every member gets every message of
// every other publisher, once and in order, in its own format: 0 lost.
func TestClusterRoomOrder(t *testing.T) {
	servers, nodes := threeNodes(t, nil)
	const room, perPublisher = "chat.a:b@c~d", 300
	type member struct {
		who      string
		c        *wstest.Conn
		envelope bool
		pub      string // its own publisher name, whose messages it does not get
	}
	var members []member
	for i, n := range nodes {
		addr := n.Addr().String()
		pub := fmt.Sprintf("p%d", i)
		members = append(members,
			member{fmt.Sprintf("node%d/room", i), wstest.Dial(t, addr, "/room/"+room), false, pub},
			member{fmt.Sprintf("node%d/ws", i), wstest.Dial(t, addr, "/ws"), true, ""})
		ws := members[len(members)-1].c
		ws.Send(true, 0, frame.OpText, []byte(`{"type":"join","room":"`+room+`"}`))
		ws.ExpectMessage(frame.OpText, []byte(`{"type":"joined","room":"`+room+`"}`))
	}
	waitInterest(t, servers, wire.Room, room, 3)

	var wg sync.WaitGroup
	results := make([]*stream, len(members))
	for i, m := range members {
		total := 3 * perPublisher
		if m.pub != "" {
			total -= perPublisher
		}
		wg.Go(func() { results[i] = readStream(m.who, m.c, total, "", m.envelope) })
	}
	for i := range nodes {
		pub := members[2*i]
		wg.Go(func() {
			for seq := 1; seq <= perPublisher; seq++ {
				if err := pub.c.WriteMessage(frame.OpText, fmt.Appendf(nil, "%s:%d", pub.pub, seq)); err != nil {
					t.Errorf("%s: publish: %v", pub.who, err)
					return
				}
			}
		})
	}
	wg.Wait()
	lost := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		for p := range 3 {
			pub := fmt.Sprintf("p%d", p)
			if pub == members[i].pub {
				continue
			}
			lost += perPublisher - r.got[pub]
		}
	}
	t.Logf("3 nodes, 6 members, 3 publishers x %d messages: %d lost", perPublisher, lost)
	if lost != 0 {
		t.Fatalf("%d messages lost with no fault", lost)
	}
	for i, n := range nodes {
		st := n.cl.nats.State()
		if st.Published != perPublisher || st.Received != 2*perPublisher || st.Dropped() != 0 {
			t.Errorf("node%d broker: published %d, received %d, dropped %d; want %d, %d, 0",
				i, st.Published, st.Received, st.Dropped(), perPublisher, 2*perPublisher)
		}
	}
}

// TestClusterUsers gives user alice a connection on every node and sends
// to her through the admin API of each node in turn: every connection
// gets every message. GET /api/users/alice counts her everywhere.
func TestClusterUsers(t *testing.T) {
	servers, nodes := threeNodes(t, nil)
	var conns []*wstest.Conn
	for _, n := range nodes {
		conns = append(conns, wstest.Dial(t, n.Addr().String(), "/room/lobby?user=alice"))
	}
	waitInterest(t, servers, wire.User, "alice", 3)
	for i, n := range nodes {
		msg := fmt.Sprintf("to alice via node%d", i)
		if got := userSendLocal(t, adminBase(n), "alice", msg); got != 1 {
			t.Fatalf("node%d counted %d local recipients, want 1", i, got)
		}
		for j, c := range conns {
			op, p, err := c.ReadMessage()
			if err != nil || op != frame.OpText || string(p) != msg {
				t.Fatalf("alice's connection on node%d: got %v %q %v, want %q", j, op, p, err, msg)
			}
		}
	}
	status, body := adminDo(t, "GET", adminBase(nodes[1]), "/api/users/alice", "")
	var p struct {
		User   string `json:"user"`
		Conns  int    `json:"conns"`
		Online bool   `json:"online"`
		Nodes  []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"nodes"`
		Missing []any `json:"missing"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil || status != 200 {
		t.Fatalf("GET /api/users/alice: %d %s", status, body)
	}
	if p.User != "alice" || p.Conns != 3 || !p.Online || len(p.Nodes) != 3 || len(p.Missing) != 0 {
		t.Fatalf("presence %s, want 3 connections on 3 nodes", body)
	}
	if _, body = adminDo(t, "GET", adminBase(nodes[0]), "/api/users/bob", ""); !strings.Contains(body, `"conns":0`) || !strings.Contains(body, `"online":false`) {
		t.Fatalf("presence of a user with no connection: %s", body)
	}
}

// userSendLocal posts a user message to the admin API and returns the
// recipients it counted (this node's).
func userSendLocal(tb testing.TB, base, user, payload string) int {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"payload": payload})
	status, resp := adminDo(tb, "POST", base, "/api/users/"+user+"/send", string(body))
	if status != 200 {
		tb.Fatalf("user send: %d %s", status, resp)
	}
	var r struct {
		Recipients int `json:"recipients"`
	}
	if err := json.Unmarshal([]byte(resp), &r); err != nil {
		tb.Fatal(err)
	}
	return r.Recipients
}

// metricLine returns the value text of the series line that starts with
// series in node n's /metrics, or "".
func metricLine(t *testing.T, n *Server, series string) string {
	t.Helper()
	resp, err := http.Get(adminBase(n) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(series+" ")); ok {
			return string(rest)
		}
	}
	return ""
}
