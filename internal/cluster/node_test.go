package cluster

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admin"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/metrics"
)

// startNode starts a node on a NATS server of its own, with its pool
// running, and stops both when the test ends.
func startNode(t *testing.T, mod func(*config.Config)) (*Node, *fanout.Pool) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := broker.StartEmbedded(broker.EmbeddedOptions{Listen: "127.0.0.1:0", ServerName: "nats0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	cfg := config.Default()
	cfg.NATS, cfg.NodeName = []string{e.ClientURL()}, "n"
	if mod != nil {
		mod(&cfg)
	}
	m := metrics.New(nil, nil, nil, 1, metrics.Gauges{})
	h := hub.New[fanout.Subscriber](0)
	n, err := New(Options{Config: &cfg, Logger: quiet, Hub: h, Metrics: m,
		Stats:      func() admin.Stats { return admin.Stats{Open: int64(h.Len())} },
		TuneBroker: func(o *broker.Options) { o.AnnounceInterval = time.Hour }})
	if err != nil {
		t.Fatal(err)
	}
	pool := fanout.New(fanout.Config{Workers: 2, Recorder: recorder(n), Metrics: m}, h)
	if err := n.Start(pool, nil); err != nil {
		t.Fatal(err)
	}
	pool.Start()
	t.Cleanup(func() {
		pool.Stop()
		n.Close()
	})
	if _, ok := n.Broker().(*broker.NATS); !ok {
		t.Fatalf("broker %T, want *broker.NATS", n.Broker())
	}
	return n, pool
}

// recorder is the pool's Recorder for n: its store, or none.
func recorder(n *Node) fanout.Recorder {
	if st := n.Store(); st != nil {
		return st
	}
	return nil
}

// TestAllocs proves that a node's part of crossing nodes allocates
// nothing in steady state: forwarding a local message to the broker, and
// taking a message of another node into the fan-out.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	n, pool := startNode(t, nil)
	payload := []byte(`{"text":"hello"}`)
	fb, hdr := fanout.FrameBuf(0, frame.OpText, payload)
	defer fb.Release()
	j := fanout.Job{Room: "chat.lobby", Buf: fb, Hdr: hdr, JSON: true, FromUser: "alice"}
	if a := testing.AllocsPerRun(1000, func() { n.Forward(&j) }); a != 0 {
		t.Errorf("Forward: %v allocs", a)
	}
	m := broker.Message{Kind: broker.Room, Flags: broker.JSON, Origin: "other", Publisher: "bob", Target: "chat.lobby", Payload: payload}
	fence := func() {
		if err := pool.Fence(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for range 2000 { // warm the buffer pools: the worker may run only after the whole batch
		n.receive(m)
	}
	fence()
	if a := testing.AllocsPerRun(1000, func() { n.receive(m) }); a != 0 {
		t.Errorf("receive: %v allocs", a)
	}
	fence()
}
