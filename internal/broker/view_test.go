package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/wsgate/wsgate/internal/wstest"
)

// TestGatherView: a named view reaches every node's View with its name,
// Gather still gets the stats, and Local answers for itself.
func TestGatherView(t *testing.T) {
	servers := startCluster(t, 2)
	var nodes []*fakeNode
	for i, s := range servers {
		name := fmt.Sprintf("node%d", i)
		nodes = append(nodes, newFakeNode(t, name, s.ClientURL(), func(o *Options) {
			o.View = func(v string) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"view":%q,"node":%q}`, v, name)) }
		}))
	}
	for _, n := range nodes {
		wstest.WaitFor(t, patience, n.b.self.Name+" to know its peer", func() bool { return len(n.b.Peers()) == 1 })
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := nodes[0].b.GatherView(ctx, "rooms", patience)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 2 || len(c.Missing) != 0 {
		t.Fatalf("view %+v, want two nodes", c)
	}
	for _, ns := range c.Nodes {
		var v struct{ View, Node string }
		if err := json.Unmarshal(ns.Stats, &v); err != nil || v.View != "rooms" || v.Node != ns.Name {
			t.Errorf("view of %s: %s", ns.Name, ns.Stats)
		}
	}
	if c, err = nodes[1].b.Gather(ctx, patience); err != nil || len(c.Nodes) != 2 {
		t.Fatalf("gather after a view: %+v, %v", c, err)
	}
	for _, ns := range c.Nodes {
		var v struct{ View, Node string }
		if err := json.Unmarshal(ns.Stats, &v); err != nil || v.View != "" || v.Node != ns.Name {
			t.Errorf("stats of %s: %s", ns.Name, ns.Stats)
		}
	}
	l := NewLocal(Options{NodeName: "solo", View: func(v string) json.RawMessage { return json.RawMessage(`"` + v + `"`) }})
	if c, _ := l.GatherView(ctx, "x", 0); len(c.Nodes) != 1 || string(c.Nodes[0].Stats) != `"x"` {
		t.Fatalf("local view %+v", c)
	}
}
