package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/wsgate/wsgate/internal/wstest"
)

// patience bounds every wait in these tests: generous, because the
// machine may be busy; a healthy run waits far less.
const patience = 60 * time.Second

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// logRecorder keeps a logger's lines so a test can count them.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.lines = append(r.lines, string(p))
	r.mu.Unlock()
	return len(p), nil
}

// count returns how many lines contain every one of parts.
func (r *logRecorder) count(parts ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
outer:
	for _, l := range r.lines {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue outer
			}
		}
		n++
	}
	return n
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "")
}

func (r *logRecorder) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(r, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startCluster starts n embedded NATS servers on random loopback ports,
// routed into one cluster, and waits until each has routes to all others.
func startCluster(t *testing.T, n int) []*Embedded {
	t.Helper()
	var servers []*Embedded
	var routes []string
	for i := range n {
		e, err := StartEmbedded(EmbeddedOptions{
			Listen:      "127.0.0.1:0",
			Cluster:     "127.0.0.1:0",
			ClusterName: "wsgate-test",
			ServerName:  fmt.Sprintf("s%d", i),
			Routes:      routes,
			Logger:      quiet,
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
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for _, e := range servers {
		if err := e.WaitRoutes(ctx, n-1); err != nil {
			t.Fatal(err)
		}
	}
	return servers
}

// member is a fake local connection: it keeps what it was delivered.
type member struct {
	mu  sync.Mutex
	got []Message
}

func (m *member) deliver(msg Message) {
	m.mu.Lock()
	m.got = append(m.got, msg)
	m.mu.Unlock()
}

func (m *member) messages() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.got...)
}

func (m *member) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.got)
}

// fakeNode is a wsgate node reduced to what the broker sees: local room
// and user members, a Handler that delivers to them, and the publish
// path (local members first, then the broker).
type fakeNode struct {
	t   *testing.T
	b   *NATS
	log *logRecorder

	mu      sync.Mutex
	members map[interestKey][]*member
	foreign int // messages whose origin was this node
}

// newFakeNode connects a node to url; tweak may adjust its options.
func newFakeNode(t *testing.T, name, url string, tweak func(*Options)) *fakeNode {
	t.Helper()
	n := &fakeNode{t: t, log: &logRecorder{}, members: make(map[interestKey][]*member)}
	opts := Options{
		URLs:             []string{url},
		NodeName:         name,
		Handler:          n.handle,
		Stats:            func() json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"node":%q}`, name)) },
		UserConns:        func(user string) int { return len(n.local(User, user)) },
		Grace:            time.Hour,
		AnnounceInterval: time.Second,
		ReconnectWait:    50 * time.Millisecond,
		Logger:           n.log.logger(),
	}
	if tweak != nil {
		tweak(&opts)
	}
	b, err := NewNATS(opts)
	if err != nil {
		t.Fatal(err)
	}
	n.b = b
	t.Cleanup(func() { _ = b.Close() })
	return n
}

func (n *fakeNode) local(kind Kind, name string) []*member {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.members[interestKey{kind, name}]
}

func (n *fakeNode) handle(m Message) {
	n.mu.Lock()
	if m.Origin == n.b.self.ID {
		n.foreign++
	}
	ms := n.members[interestKey{m.Kind, m.Target}]
	n.mu.Unlock()
	for _, x := range ms {
		x.deliver(m)
	}
}

// join adds a local member of a room or user and tells the broker.
func (n *fakeNode) join(kind Kind, name string) *member {
	m := &member{}
	n.mu.Lock()
	k := interestKey{kind, name}
	n.members[k] = append(n.members[k], m)
	n.mu.Unlock()
	if err := n.b.Subscribe(kind, name); err != nil {
		n.t.Fatal(err)
	}
	return m
}

// publish serves local members and then the other nodes, as the server
// does.
func (n *fakeNode) publish(kind Kind, target, publisher, payload string) error {
	m := Message{Kind: kind, Target: target, Publisher: publisher, Payload: []byte(payload)}
	local := m
	local.Origin = n.b.self.ID
	for _, x := range n.local(kind, target) {
		x.deliver(local)
	}
	return n.b.Publish(m)
}

// sync waits until n's interest is on its NATS server.
func (n *fakeNode) sync() {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := n.b.Sync(ctx); err != nil {
		n.t.Fatal(err)
	}
}

// waitInterest waits until every server sees want subscribers (local or
// across routes) for subject.
func waitInterest(t *testing.T, servers []*Embedded, subject string, want int) {
	t.Helper()
	for i, e := range servers {
		wstest.WaitFor(t, patience, fmt.Sprintf("server %d to see %d subscribers of %s", i, want, subject), func() bool {
			return e.Server().GlobalAccount().Interest(subject) == want
		})
	}
}

// localSubs counts the client subscriptions that a server holds for
// subject.
func localSubs(t *testing.T, s *server.Server, subject string) int {
	t.Helper()
	sz, err := s.Subsz(&server.SubszOptions{Subscriptions: true, Test: subject})
	if err != nil {
		t.Fatal(err)
	}
	return sz.Total
}

// checkStream checks that msgs holds, in order, payloads "<pub>:<seq>"
// of each publisher with strictly increasing seq, and returns how many of
// each publisher's first total messages are missing.
func checkStream(t *testing.T, who string, msgs []Message, total int) (lost map[string]int) {
	t.Helper()
	last := make(map[string]int)
	got := make(map[string]int)
	for i, m := range msgs {
		pub, seqText, ok := strings.Cut(string(m.Payload), ":")
		var seq int
		if _, err := fmt.Sscan(seqText, &seq); !ok || err != nil {
			t.Fatalf("%s: payload %q", who, m.Payload)
		}
		if prev, seen := last[pub]; seen && seq <= prev {
			t.Fatalf("%s: from %s seq %d after %d; received around it: %s", who, pub, seq, prev, around(msgs, i))
		}
		if m.Publisher != pub {
			t.Fatalf("%s: publisher %q carries payload of %q", who, m.Publisher, pub)
		}
		last[pub] = seq
		got[pub]++
	}
	lost = make(map[string]int)
	for pub, n := range got {
		lost[pub] = total - n
	}
	return lost
}

// around lists the payloads near msgs[i], for a failure message.
func around(msgs []Message, i int) string {
	var b strings.Builder
	for j := max(0, i-40); j < min(len(msgs), i+40); j++ {
		fmt.Fprintf(&b, "%s ", msgs[j].Payload)
	}
	return b.String()
}
