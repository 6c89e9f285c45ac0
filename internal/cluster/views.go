package cluster

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

// roomsViewBudget bounds the bytes of one node's answer to the rooms view,
// well under NATS's default payload limit of 1 MiB; a node with more rooms
// reports the first ones and says it truncated.
const roomsViewBudget = 512 << 10

// clusterStats is the answer of GET /api/stats?scope=cluster.
type clusterStats struct {
	Scope string `json:"scope"`
	// Totals adds up the counters of the nodes that answered.
	Totals admin.Stats `json:"totals"`
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

// roomsView is one node's answer to the "rooms" view.
type roomsView struct {
	Rooms     map[string]int `json:"rooms"`
	Truncated bool           `json:"truncated,omitempty"`
}

// stats is this node's answer to Gather: its counters.
func (n *Node) stats() json.RawMessage {
	b, _ := json.Marshal(n.o.Stats())
	return b
}

// view answers the cluster views other than the stats.
func (n *Node) view(name string) json.RawMessage {
	if name != "rooms" {
		return nil
	}
	v := roomsView{Rooms: map[string]int{}}
	size := 0
	n.o.Hub.Rooms(func(room string, members int) bool {
		if size += len(room) + 16; size > roomsViewBudget {
			v.Truncated = true
			return false
		}
		v.Rooms[room] = members
		return true
	})
	b, _ := json.Marshal(v)
	return b
}

// bounded returns ctx bounded a little past the time the broker waits
// for answers.
func (n *Node) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, n.cfg.ClusterTimeout+n.cfg.ClusterTimeout/2)
}

// ClusterStats implements admin.ClusterBackend.
func (n *Node) ClusterStats(ctx context.Context) (any, error) {
	ctx, cancel := n.bounded(ctx)
	defer cancel()
	c, err := n.brk.Gather(ctx, n.cfg.ClusterTimeout)
	if err != nil {
		return nil, err
	}
	out := clusterStats{Scope: admin.ScopeCluster, Missing: nonNil(c.Missing)}
	for _, nd := range c.Nodes {
		out.Nodes = append(out.Nodes, nodeStats(nd))
		var st admin.Stats
		if json.Unmarshal(nd.Stats, &st) == nil {
			out.Totals.Add(&st)
		}
	}
	return out, nil
}

// ClusterRooms implements admin.ClusterBackend.
func (n *Node) ClusterRooms(ctx context.Context) (any, error) {
	ctx, cancel := n.bounded(ctx)
	defer cancel()
	c, err := n.brk.GatherView(ctx, "rooms", n.cfg.ClusterTimeout)
	if err != nil {
		return nil, err
	}
	out := clusterRooms{Scope: admin.ScopeCluster, Rooms: []clusterRoom{}, Missing: nonNil(c.Missing)}
	byName := map[string]*clusterRoom{}
	for _, nd := range c.Nodes {
		out.Nodes = append(out.Nodes, nd.Node)
		var v roomsView
		if json.Unmarshal(nd.Stats, &v) != nil {
			continue
		}
		if v.Truncated {
			out.Truncated = append(out.Truncated, nd.Node)
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
func (n *Node) UserPresence(ctx context.Context, user string) (any, error) {
	ctx, cancel := n.bounded(ctx)
	defer cancel()
	p, err := n.brk.Presence(ctx, user, n.cfg.ClusterTimeout)
	if err != nil {
		return nil, err
	}
	p.Nodes, p.Missing = nonNil(p.Nodes), nonNil(p.Missing)
	return presence{Presence: p, Online: p.Conns > 0}, nil
}

// nonNil turns a nil slice into an empty one, so JSON shows [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
