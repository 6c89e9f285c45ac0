package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/broker/wire"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestClusterServerDown shuts down one NATS server of three while a
// publisher streams into a room with members on all three nodes. The
// stream goes on through the other servers; the messages lost in the
// switch are counted and logged, and what arrives arrives in order.
func TestClusterServerDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		down int // the server to shut down: 0 is the publisher's
	}{{"publisher's server", 0}, {"a receiver's server", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			servers, nodes := threeNodes(t, nil)
			const room = "stream"
			members := []*member{nodes[0].join(Room, room), nodes[1].join(Room, room), nodes[2].join(Room, room)}
			for _, n := range nodes {
				n.sync()
				// Each node must know the other servers' addresses
				// before one goes.
				wstest.WaitFor(t, patience, n.b.self.Name+" to learn the cluster", func() bool {
					return len(n.b.nc.DiscoveredServers()) >= 2
				})
			}
			waitInterest(t, servers, wire.Subject(DefaultSubjectPrefix, Room, room), 3)

			victim := nodes[tc.down]
			var published atomic.Int64
			stop := make(chan struct{})
			done := make(chan error, 1)
			go func() { done <- streamUntil(nodes[0], room, &published, stop) }()

			wstest.WaitFor(t, patience, "the stream to start", func() bool { return members[2].len() > 500 })
			servers[tc.down].Shutdown()
			wstest.WaitFor(t, patience, victim.b.self.Name+" to reconnect", func() bool {
				return victim.log.count("NATS reconnected", "conn=main") == 1
			})
			// Let the stream run on through the new route.
			mark := published.Load()
			wstest.WaitFor(t, patience, "500 more messages", func() bool { return published.Load() > mark+500 })
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			total := int(published.Load())
			last := fmt.Sprintf("pub:%d", total-1)
			for i, m := range members[1:] {
				wstest.WaitFor(t, patience, fmt.Sprintf("member %d to get the last message", i+1), func() bool {
					msgs := m.messages()
					return len(msgs) > 0 && string(msgs[len(msgs)-1].Payload) == last
				})
			}
			for i, m := range members {
				lost := checkStream(t, fmt.Sprintf("member %d", i), m.messages(), total)["pub"]
				t.Logf("server %d down: member on node %d got %d of %d, lost %d", tc.down, i, total-lost, total, lost)
				if i == 0 && lost != 0 {
					t.Errorf("the local member lost %d", lost)
				}
				if tc.down == 1 && i == 2 && lost != 0 {
					t.Errorf("node 2's path never broke, yet it lost %d", lost)
				}
			}
			for i, n := range nodes {
				t.Logf("node %d state %+v", i, n.b.State())
			}
			if got := victim.log.count("NATS disconnected", "conn=main"); got != 1 {
				t.Errorf("disconnect logged %d times, want once:\n%s", got, victim.log)
			}
			for i, n := range nodes {
				if n.b.State().Malformed != 0 || n.foreign != 0 {
					t.Errorf("node %d: malformed or echoed messages", i)
				}
			}
		})
	}
}

// streamUntil publishes "pub:<seq>" into room, a few messages at a time,
// until stop closes; it gives up after a bounded count.
func streamUntil(n *fakeNode, room string, published *atomic.Int64, stop chan struct{}) error {
	for seq := 0; seq < 1_000_000; seq++ {
		if err := n.publish(Room, room, "pub", fmt.Sprintf("pub:%d", seq)); err != nil {
			return err
		}
		published.Add(1)
		if seq%20 == 19 {
			select {
			case <-stop:
				return nil
			case <-time.After(time.Millisecond):
			}
		}
	}
	return errors.New("stream ran out of messages before the test stopped it")
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestNATSUnreachableAtStart starts a broker with no NATS server up: it is
// usable at once, not connected, and connects when a server appears.
func TestNATSUnreachableAtStart(t *testing.T) {
	addr := freeAddr(t)
	n := newFakeNode(t, "early", "nats://"+addr, nil)
	if n.b.State().Connected {
		t.Fatal("connected to nothing")
	}
	if got := n.log.count("NATS not reachable yet", "conn=main"); got != 1 {
		t.Errorf("the missing server was logged %d times, want once", got)
	}
	local := n.join(Room, "r")
	if err := n.publish(Room, "r", "p", "p:0"); err != nil {
		t.Fatalf("publish while disconnected: %v", err)
	}
	if local.len() != 1 {
		t.Fatal("the local member missed a message")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	c, err := n.b.Gather(ctx, time.Second)
	cancel()
	if err != nil || len(c.Nodes) != 1 {
		t.Fatalf("gather while disconnected: %+v, %v", c, err)
	}

	e, err := StartEmbedded(EmbeddedOptions{Listen: addr, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	wstest.WaitFor(t, patience, "the broker to connect", func() bool { return n.b.State().Connected })
	wstest.WaitFor(t, patience, "the connection to be logged", func() bool { return n.log.count("NATS connected", "conn=main") == 1 })
	n.sync()
	late := newFakeNode(t, "late", e.ClientURL(), nil)
	if err := late.publish(Room, "r", "q", "q:0"); err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, patience, "the early node's member to hear the late node", func() bool { return local.len() == 2 })
}

// TestReconnectBufferBound publishes into a tiny reconnect buffer with no
// server: past the bound, publishes fail and are counted as dropped.
func TestReconnectBufferBound(t *testing.T) {
	n := newFakeNode(t, "n", "nats://"+freeAddr(t), func(o *Options) { o.ReconnectBuffer = 4096 })
	var failed int
	for i := range 100 {
		err := n.b.Publish(Message{Kind: Room, Target: "r", Payload: make([]byte, 200)})
		if err != nil {
			if !errors.Is(err, ErrDropped) {
				t.Fatalf("publish %d: %v", i, err)
			}
			failed++
		}
	}
	st := n.b.State()
	if failed == 0 || st.PublishDropped != uint64(failed) || st.Published+st.PublishDropped != 100 {
		t.Fatalf("%d failed, state %+v", failed, st)
	}
	if got := n.log.count("dropping messages"); got != 1 {
		t.Errorf("drops logged %d times, want once", got)
	}
}

// TestSlowConsumerMissed fills a node's only delivery queue while its
// handler is stuck, so that NATS drops messages for it (a slow consumer),
// the last ones of the room among them. Nothing later would reveal those:
// the broker must call Missed once the queue has drained, when every
// message it was sent has been either delivered or dropped.
func TestSlowConsumerMissed(t *testing.T) {
	servers := startCluster(t, 1)
	url := servers[0].ClientURL()
	release := make(chan struct{})
	type look struct{ handled, dropped uint64 }
	var (
		mu    sync.Mutex
		looks []look
		b     *fakeNode
		mb    *member
	)
	b = newFakeNode(t, "b", url, func(o *Options) {
		o.Dispatchers, o.DispatchQueue = 1, 4
		deliver := o.Handler
		o.Handler = func(m Message) {
			<-release
			deliver(m)
		}
		o.Missed = func() {
			l := look{handled: uint64(mb.len()), dropped: b.b.State().ReceiveDropped}
			mu.Lock()
			looks = append(looks, l)
			mu.Unlock()
		}
	})
	a := newFakeNode(t, "a", url, nil)
	const room, total = "r.slow", 200
	mb = b.join(Room, room)
	b.sync()
	waitInterest(t, servers, wire.Subject(DefaultSubjectPrefix, Room, room), 1)
	for i := range total {
		if err := a.publish(Room, room, "p", fmt.Sprintf("p:%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	wstest.WaitFor(t, patience, "NATS to drop messages for the stuck node", func() bool {
		return b.b.State().ReceiveDropped > 0
	})
	close(release)
	wstest.WaitFor(t, patience, "Missed after the queue drained", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(looks) > 0 && looks[len(looks)-1].handled+looks[len(looks)-1].dropped == total
	})
	st := b.b.State()
	if got := uint64(mb.len()); got+st.ReceiveDropped != total || got != st.Received {
		t.Fatalf("delivered %d, state %+v: want every one of %d messages delivered or dropped", got, st, total)
	}
	if b.log.count("catching up from the history log") == 0 || b.log.count("slow consumer") == 0 {
		t.Errorf("log lacks the drop or the catch-up:\n%s", b.log)
	}
}
