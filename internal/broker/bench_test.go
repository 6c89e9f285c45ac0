package broker

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func benchServer(b *testing.B) *Embedded {
	e, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Shutdown)
	return e
}

func benchBroker(b *testing.B, url string, h Handler) *NATS {
	n, err := NewNATS(Options{URLs: []string{url}, Handler: h, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Close() })
	return n
}

// BenchmarkPublish measures Publish into an embedded server on loopback
// with nobody else interested: the cost on the publishing node.
func BenchmarkPublish(b *testing.B) {
	e := benchServer(b)
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			n := benchBroker(b, e.ClientURL(), nil)
			m := Message{Kind: Room, Publisher: "alice", Target: "chat.lobby", Payload: make([]byte, size)}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := n.Publish(m); err != nil {
					b.Fatal(err)
				}
			}
			if err := n.nc.Flush(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkPublishReceive measures messages from one node to another
// through one embedded server: b.N messages published, the clock stopped
// when the last one reaches the other node's Handler.
func BenchmarkPublishReceive(b *testing.B) {
	e := benchServer(b)
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			var got atomic.Int64
			recv := benchBroker(b, e.ClientURL(), func(Message) { got.Add(1) })
			pub := benchBroker(b, e.ClientURL(), nil)
			if err := recv.Subscribe(Room, "chat.lobby"); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			if err := recv.Sync(ctx); err != nil {
				b.Fatal(err)
			}
			deadline := time.Now().Add(patience)
			m := Message{Kind: Room, Publisher: "alice", Target: "chat.lobby", Payload: make([]byte, size)}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				if err := pub.Publish(m); err != nil {
					b.Fatal(err)
				}
			}
			for got.Load() < int64(b.N) {
				if time.Now().After(deadline) {
					b.Fatalf("received %d of %d", got.Load(), b.N)
				}
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			if st := recv.State(); st.ReceiveDropped != 0 {
				b.Logf("receiver dropped %d", st.ReceiveDropped)
			}
		})
	}
}
