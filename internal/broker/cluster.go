package broker

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
)

// Cluster views. Every node announces itself on <prefix>.nodes.hello
// every Options.AnnounceInterval, when it connects or reconnects (asking
// the others to announce themselves at once), and says goodbye when it
// closes. So each node knows which others are up, and a view (Gather,
// Presence) can wait for exactly those nodes: it returns as soon as all of
// them answered, and names the ones that did not. Counting distinct
// repliers would have to wait out the whole timeout every time and could
// not say who is missing.
//
// A node that has just started may answer a view without being expected
// yet; its answer is kept. A node that dies unannounced is expected, and
// named missing, until three of its intervals pass.

type hello struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	EveryMS int64  `json:"every_ms,omitempty"`
	Probe   bool   `json:"probe,omitempty"`
	Bye     bool   `json:"bye,omitempty"`
}

type peer struct {
	Node
	expires time.Time
}

type statsReply struct {
	Node
	Stats json.RawMessage `json:"stats"`
}

// viewRequest asks for a view other than the stats (whose request has
// no body).
type viewRequest struct {
	View string `json:"view"`
}

type presenceRequest struct {
	User string `json:"user"`
}

type presenceReply struct {
	Node
	Conns int `json:"conns"`
}

// startCluster subscribes to the nodes' subjects, announces this node and
// starts the periodic announcements.
func (b *NATS) startCluster() error {
	for _, s := range []struct {
		subj string
		h    nats.MsgHandler
	}{{b.subjHello, b.onHello}, {b.subjStats, b.onStats}, {b.subjPresence, b.onPresence}} {
		if _, err := b.nc.Subscribe(s.subj, s.h); err != nil {
			return err
		}
	}
	b.announce(true)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(b.opts.AnnounceInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.announce(false)
			case <-b.done:
				return
			}
		}
	}()
	return nil
}

func (b *NATS) announce(probe bool) {
	if b.closed.Load() {
		return
	}
	h := hello{ID: b.self.ID, Name: b.self.Name, EveryMS: b.opts.AnnounceInterval.Milliseconds(), Probe: probe}
	data, _ := json.Marshal(h)
	_ = b.nc.Publish(b.subjHello, data)
}

func (b *NATS) announceBye() {
	data, _ := json.Marshal(hello{ID: b.self.ID, Name: b.self.Name, Bye: true})
	_ = b.nc.Publish(b.subjHello, data)
}

func (b *NATS) onHello(msg *nats.Msg) {
	var h hello
	if json.Unmarshal(msg.Data, &h) != nil || h.ID == "" || h.ID == b.self.ID {
		return
	}
	b.pmu.Lock()
	_, known := b.peers[h.ID]
	if h.Bye {
		delete(b.peers, h.ID)
	} else {
		every := time.Duration(h.EveryMS) * time.Millisecond
		if every <= 0 {
			every = b.opts.AnnounceInterval
		}
		b.peers[h.ID] = peer{Node: Node{ID: h.ID, Name: h.Name}, expires: time.Now().Add(3 * every)}
	}
	b.pmu.Unlock()
	switch {
	case h.Bye && known:
		b.log.Info("node left", "node", h.Name, "id", h.ID)
	case !h.Bye && !known:
		b.log.Info("node joined", "node", h.Name, "id", h.ID)
	}
	if h.Probe {
		b.announce(false)
	}
}

// Peers returns the other nodes that announced themselves recently,
// sorted by name.
func (b *NATS) Peers() []Node {
	now := time.Now()
	var gone []Node
	b.pmu.Lock()
	out := make([]Node, 0, len(b.peers))
	for id, p := range b.peers {
		if now.After(p.expires) {
			delete(b.peers, id)
			gone = append(gone, p.Node)
			continue
		}
		out = append(out, p.Node)
	}
	b.pmu.Unlock()
	for _, n := range gone {
		b.log.Info("node expired: no announcement for three intervals", "node", n.Name, "id", n.ID)
	}
	sortNodes(out)
	return out
}

func sortNodes(n []Node) {
	slices.SortFunc(n, func(a, b Node) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
}

func (b *NATS) onStats(msg *nats.Msg) {
	var v json.RawMessage
	if len(msg.Data) == 0 {
		v = b.opts.Stats()
	} else {
		var req viewRequest
		if json.Unmarshal(msg.Data, &req) != nil {
			return
		}
		v = b.opts.View(req.View)
	}
	data, err := json.Marshal(statsReply{Node: b.self, Stats: validJSON(v)})
	if err == nil {
		_ = msg.Respond(data)
	}
}

func (b *NATS) onPresence(msg *nats.Msg) {
	var req presenceRequest
	if json.Unmarshal(msg.Data, &req) != nil {
		return
	}
	data, err := json.Marshal(presenceReply{Node: b.self, Conns: b.opts.UserConns(req.User)})
	if err == nil {
		_ = msg.Respond(data)
	}
}

// validJSON turns an empty or broken stats value into null, so one bad
// callback cannot spoil a whole reply.
func validJSON(v json.RawMessage) json.RawMessage {
	if len(v) == 0 || !json.Valid(v) {
		return json.RawMessage("null")
	}
	return v
}

// collect publishes a request on subject and passes each answer to
// onReply, which returns the answering node's ID (empty to ignore the
// answer). It returns when every expected node answered, the timeout
// passed, or ctx ended (then with its error), and returns the expected
// nodes that did not answer.
func (b *NATS) collect(ctx context.Context, subject string, body []byte, timeout time.Duration, onReply func([]byte) string) ([]Node, error) {
	peers := b.Peers()
	if b.closed.Load() {
		return peers, ErrClosed
	}
	if !b.nc.IsConnected() || len(peers) == 0 {
		return peers, nil
	}
	expected := make(map[string]Node, len(peers))
	for _, p := range peers {
		expected[p.ID] = p
	}
	inbox := b.nc.NewInbox()
	ch := make(chan *nats.Msg, 4*len(peers)+16)
	sub, err := b.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return peers, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := b.nc.PublishRequest(subject, inbox, body); err != nil {
		return peers, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for len(expected) > 0 {
		select {
		case msg := <-ch:
			if id := onReply(msg.Data); id != "" {
				delete(expected, id)
			}
		case <-timer.C:
			missing := make([]Node, 0, len(expected))
			for _, n := range expected {
				missing = append(missing, n)
			}
			sortNodes(missing)
			return missing, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, nil
}

// Gather implements Broker.
func (b *NATS) Gather(ctx context.Context, timeout time.Duration) (Cluster, error) {
	return b.gather(ctx, b.opts.Stats(), nil, timeout)
}

// GatherView implements Broker.
func (b *NATS) GatherView(ctx context.Context, name string, timeout time.Duration) (Cluster, error) {
	body, _ := json.Marshal(viewRequest{View: name})
	return b.gather(ctx, b.opts.View(name), body, timeout)
}

// gather asks the nodes with body (nil: their stats) and adds their
// answers to this node's own, mine.
func (b *NATS) gather(ctx context.Context, mine json.RawMessage, body []byte, timeout time.Duration) (Cluster, error) {
	c := Cluster{Nodes: []NodeStats{{Node: b.self, Stats: validJSON(mine)}}}
	seen := map[string]bool{b.self.ID: true}
	missing, err := b.collect(ctx, b.subjStats, body, timeout, func(data []byte) string {
		var r statsReply
		if json.Unmarshal(data, &r) != nil || r.ID == "" || seen[r.ID] {
			return ""
		}
		seen[r.ID] = true
		c.Nodes = append(c.Nodes, NodeStats(r))
		return r.ID
	})
	c.Missing = missing
	rest := c.Nodes[1:]
	slices.SortFunc(rest, func(x, y NodeStats) int { return cmp.Compare(x.Name, y.Name) })
	return c, err
}

// Presence implements Broker.
func (b *NATS) Presence(ctx context.Context, user string, timeout time.Duration) (Presence, error) {
	p := Presence{User: user}
	add := func(n Node, conns int) {
		if conns > 0 {
			p.Conns += conns
			p.Nodes = append(p.Nodes, NodeCount{Node: n, Count: conns})
		}
	}
	add(b.self, b.opts.UserConns(user))
	body, _ := json.Marshal(presenceRequest{User: user})
	seen := map[string]bool{b.self.ID: true}
	missing, err := b.collect(ctx, b.subjPresence, body, timeout, func(data []byte) string {
		var r presenceReply
		if json.Unmarshal(data, &r) != nil || r.ID == "" || seen[r.ID] {
			return ""
		}
		seen[r.ID] = true
		add(r.Node, r.Conns)
		return r.ID
	})
	p.Missing = missing
	return p, err
}
