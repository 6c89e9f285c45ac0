package server

import (
	"context"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/fanout"
)

// TestClusterAllocs proves that a node's part of crossing nodes
// allocates nothing in steady state: forwarding a local message to the
// broker, and taking a message of another node into the fan-out.
func TestClusterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	e := startNATS(t, 1)[0]
	n := startNode(t, "n", []string{e.ClientURL()}, nil, func(o *broker.Options) { o.AnnounceInterval = time.Hour })
	payload := []byte(`{"text":"hello"}`)
	fb, hdr := fanout.FrameBuf(0, frame.OpText, payload)
	defer fb.Release()
	j := fanout.Job{Room: "chat.lobby", Buf: fb, Hdr: hdr, JSON: true, FromUser: "alice"}
	if a := testing.AllocsPerRun(1000, func() { n.cl.Forward(&j) }); a != 0 {
		t.Errorf("Forward: %v allocs", a)
	}
	m := broker.Message{Kind: broker.Room, Flags: broker.JSON, Origin: "other", Publisher: "bob", Target: "chat.lobby", Payload: payload}
	fence := func() {
		if err := n.pool.Fence(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for range 2000 { // warm the buffer pools: the worker may run only after the whole batch
		n.cl.receive(m)
	}
	fence()
	if a := testing.AllocsPerRun(1000, func() { n.cl.receive(m) }); a != 0 {
		t.Errorf("receive: %v allocs", a)
	}
	fence()
}
