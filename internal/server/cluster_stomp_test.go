package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/broker/wire"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestClusterStomp: STOMP clients on two nodes of a cluster. A SEND to a
// topic reaches a subscriber on the other node, and a SEND to another
// user's /user/ID/queue/NAME reaches that user's subscription of
// /user/queue/NAME on the other node, with its destination.
func TestClusterStomp(t *testing.T) {
	nats, err := broker.StartEmbedded(broker.EmbeddedOptions{Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats.Shutdown)
	node := func(name string) string {
		_, addr := startServer(t, func(c *config.Config) {
			c.DevMode, c.NATS, c.NodeName = true, []string{nats.ClientURL()}, name
		})
		return addr
	}
	a, b := node("a"), node("b")

	ws, err := wstest.Connect(b, "/stomp?user=bob")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	bob := newStompClient(t, ws)
	bob.send(stomp.CmdConnect, nil, "accept-version", "1.2", "host", "wsgate")
	bob.expect(stomp.CmdConnected)
	bob.subscribe("in", "/user/queue/inbox")
	bob.subscribe("news", "/topic/news")
	acct := nats.Server().GlobalAccount()
	for _, subj := range []string{wire.Subject("wsgate", wire.User, "bob"), wire.Subject("wsgate", wire.Room, "news")} {
		wstest.WaitFor(t, time.Minute, "node b's interest in "+subj, func() bool { return acct.Interest(subj) == 1 })
	}

	alice, _ := connectStomp(t, a)
	alice.send(stomp.CmdSend, []byte("to bob"), "destination", "/user/bob/queue/inbox", "receipt", "s1")
	alice.expectReceipt("s1")
	f := bob.expect(stomp.CmdMessage)
	if f.hdr["destination"] != "/user/queue/inbox" || f.hdr["subscription"] != "in" || string(f.body) != "to bob" {
		t.Fatalf("bob got %v, want his inbox message", f)
	}
	alice.send(stomp.CmdSend, []byte("headline"), "destination", "/topic/news", "receipt", "s2")
	alice.expectReceipt("s2")
	f = bob.expect(stomp.CmdMessage)
	if f.hdr["destination"] != "/topic/news" || f.hdr["subscription"] != "news" || string(f.body) != "headline" {
		t.Fatalf("bob got %v, want the news", f)
	}
}

// TestClusterStompQueue: consumers of one /queue destination on two nodes
// compete: each message a producer sends reaches exactly one of them, and
// both get some.
func TestClusterStompQueue(t *testing.T) {
	nats, err := broker.StartEmbedded(broker.EmbeddedOptions{Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats.Shutdown)
	var addrs []string
	for _, name := range []string{"a", "b"} {
		_, addr := startServer(t, func(c *config.Config) { c.NATS, c.NodeName = []string{nats.ClientURL()}, name })
		addrs = append(addrs, addr)
	}
	var consumers []*stompClient
	for i, addr := range addrs {
		c, _ := connectStomp(t, addr)
		c.subscribe(fmt.Sprint("q", i), "/queue/jobs")
		consumers = append(consumers, c)
	}
	subj := wire.Subject("wsgate", wire.Queue, "jobs")
	wstest.WaitFor(t, time.Minute, "both nodes in the queue group", func() bool { return nats.Server().GlobalAccount().Interest(subj) == 2 })

	const total = 200
	producer, _ := connectStomp(t, addrs[0])
	for i := range total {
		producer.send(stomp.CmdSend, fmt.Appendf(nil, "job %d", i), "destination", "/queue/jobs")
	}
	producer.send(stomp.CmdDisconnect, nil, "receipt", "bye")
	producer.expectReceipt("bye")
	seen := map[string]int{}
	per := make([]int, len(consumers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, c := range consumers {
		wg.Go(func() {
			for {
				f, err := c.nextErr()
				if err != nil {
					return // the test closes the connection once all arrived
				}
				mu.Lock()
				seen[string(f.body)]++
				per[i]++
				n := len(seen)
				mu.Unlock()
				if n == total {
					for _, o := range consumers {
						o.ws.Close()
					}
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		for _, o := range consumers {
			o.ws.Close()
		}
		<-done
	}
	mu.Lock()
	defer mu.Unlock()
	for body, n := range seen {
		if n != 1 {
			t.Errorf("%q delivered %d times", body, n)
		}
	}
	if len(seen) != total || per[0] == 0 || per[1] == 0 {
		t.Fatalf("%d of %d messages arrived, %v per node: want all, spread over both", len(seen), total, per)
	}
	t.Logf("%d queue messages over two nodes: %v", total, per)
}
