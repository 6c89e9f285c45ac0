package server

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/wsgate/wsgate/internal/admin"
	"github.com/wsgate/wsgate/internal/broker"
)

// The admin API's cluster views (admin.ClusterBackend). A node on its own
// answers them for itself; a node of a cluster asks the others through the
// broker, waits at most -cluster-timeout, and names the nodes that did not
// answer: their members are missing from the totals.

// clusterStats is the answer of GET /api/stats?scope=cluster.
type clusterStats struct {
	Scope string `json:"scope"`
	// Totals adds up the counters of the nodes that answered.
	Totals Stats `json:"totals"`
	// Nodes holds each node's counters, this node first.
	Nodes []nodeStats `json:"nodes"`
	// Missing names the nodes known to be up that did not answer.
	Missing []broker.Node `json:"missing"`
}

type nodeStats struct {
	broker.Node
	Stats json.RawMessage `json:"stats"`
}

// clusterRoom is one room of GET /api/rooms?scope=cluster.
type clusterRoom struct {
	Name string `json:"name"`
	// Members adds up the room's members on the nodes that answered.
	Members int `json:"members"`
	// Nodes is how many of them have members in the room.
	Nodes int `json:"nodes"`
}

// clusterRooms is the answer of GET /api/rooms?scope=cluster.
type clusterRooms struct {
	Scope   string        `json:"scope"`
	Rooms   []clusterRoom `json:"rooms"`
	Nodes   []broker.Node `json:"nodes"`
	Missing []broker.Node `json:"missing"`
	// Truncated names the nodes with too many rooms to list them all:
	// some of their rooms are missing.
	Truncated []broker.Node `json:"truncated,omitempty"`
}

// presence is the answer of GET /api/users/{id}.
type presence struct {
	broker.Presence
	// Online is true when the user has a connection on a node that
	// answered.
	Online bool `json:"online"`
}

// cluster returns the broker and ctx bounded a little past the time the
// broker waits for answers.
func (b *adminBackend) cluster(ctx context.Context) (broker.Broker, context.Context, context.CancelFunc) {
	s := b.srv()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ClusterTimeout+s.cfg.ClusterTimeout/2)
	return s.cl.brk, ctx, cancel
}

// ClusterStats implements admin.ClusterBackend.
func (b *adminBackend) ClusterStats(ctx context.Context) (any, error) {
	brk, ctx, cancel := b.cluster(ctx)
	defer cancel()
	c, err := brk.Gather(ctx, b.srv().cfg.ClusterTimeout)
	if err != nil {
		return nil, err
	}
	out := clusterStats{Scope: admin.ScopeCluster, Missing: nonNil(c.Missing)}
	for _, n := range c.Nodes {
		out.Nodes = append(out.Nodes, nodeStats(n))
		var st Stats
		if json.Unmarshal(n.Stats, &st) == nil {
			out.Totals.add(&st)
		}
	}
	return out, nil
}

// ClusterRooms implements admin.ClusterBackend.
func (b *adminBackend) ClusterRooms(ctx context.Context) (any, error) {
	brk, ctx, cancel := b.cluster(ctx)
	defer cancel()
	c, err := brk.GatherView(ctx, "rooms", b.srv().cfg.ClusterTimeout)
	if err != nil {
		return nil, err
	}
	out := clusterRooms{Scope: admin.ScopeCluster, Rooms: []clusterRoom{}, Missing: nonNil(c.Missing)}
	byName := map[string]*clusterRoom{}
	for _, n := range c.Nodes {
		out.Nodes = append(out.Nodes, n.Node)
		var v roomsView
		if json.Unmarshal(n.Stats, &v) != nil {
			continue
		}
		if v.Truncated {
			out.Truncated = append(out.Truncated, n.Node)
		}
		for name, members := range v.Rooms {
			r := byName[name]
			if r == nil {
				r = &clusterRoom{Name: name}
				byName[name] = r
			}
			r.Members += members
			r.Nodes++
		}
	}
	for _, r := range byName {
		out.Rooms = append(out.Rooms, *r)
	}
	sort.Slice(out.Rooms, func(i, j int) bool { return out.Rooms[i].Name < out.Rooms[j].Name })
	return out, nil
}

// UserPresence implements admin.ClusterBackend.
func (b *adminBackend) UserPresence(ctx context.Context, user string) (any, error) {
	brk, ctx, cancel := b.cluster(ctx)
	defer cancel()
	p, err := brk.Presence(ctx, user, b.srv().cfg.ClusterTimeout)
	if err != nil {
		return nil, err
	}
	p.Nodes, p.Missing = nonNil(p.Nodes), nonNil(p.Missing)
	return presence{Presence: p, Online: p.Conns > 0}, nil
}

// Degraded implements admin.ClusterBackend.
func (b *adminBackend) Degraded() string { return b.srv().cl.degraded() }

// nonNil turns a nil slice into an empty one, so JSON shows [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// add adds o's counters to st.
func (st *Stats) add(o *Stats) {
	st.Open += o.Open
	st.Accepted += o.Accepted
	st.Rejected += o.Rejected
	st.Rooms += o.Rooms // a room with members on two nodes counts twice
	st.Users += o.Users // so does a user
	st.MessagesIn += o.MessagesIn
	st.MessagesOut += o.MessagesOut
	st.SlowClosed += o.SlowClosed
	st.Dropped += o.Dropped
	st.WriteSyscalls += o.WriteSyscalls
	st.WrittenBytes += o.WrittenBytes
}
