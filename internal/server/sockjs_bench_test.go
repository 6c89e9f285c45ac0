package server

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// BenchmarkSockJSFanout publishes to a room of 200 xhr-streaming SockJS
// sessions (raw sockets reading into fixed buffers, so the client side
// allocates nothing) and reports the process's allocations per session
// delivery: the message is quoted and framed once, and each session's
// delivery is a reference to the shared frame.
func BenchmarkSockJSFanout(b *testing.B) {
	const sessions = 200
	srv := startTestServer(b, func(c *config.Config) {
		withSockJS(c)
		c.SockJS.ResponseLimit = 1 << 30 // these clients do not renew their responses
	})
	addr := srv.Addr().String()
	var got atomic.Int64
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, sessions)
	for i := range sessions {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, nc)
		fmt.Fprintf(nc, "POST /room/bench/000/s%d/xhr_streaming HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := nc.Read(buf)
				got.Add(int64(bytes.Count(buf[:n], []byte{']'}))) // one per frame; a byte is never split
				if err != nil {
					return
				}
			}
		}()
	}
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
		wg.Wait()
	}()
	wstest.WaitFor(b, 30*time.Second, "sessions", func() bool { return srv.hub.Count("bench") == sessions })
	pub := wstest.Dial(b, addr, "/room/bench")
	payload := []byte(strings.Repeat("x", 100))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	b.ResetTimer()
	for i := range b.N {
		pub.Send(true, 0, frame.OpText, payload)
		if i%64 == 63 { // keep the room's queue short
			want := int64(i+1) * sessions
			wstest.WaitFor(b, 30*time.Second, "deliveries", func() bool { return got.Load() >= want })
		}
	}
	want := int64(b.N) * sessions
	wstest.WaitFor(b, 60*time.Second, "deliveries", func() bool { return got.Load() >= want })
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Mallocs-before)/float64(want), "allocs/delivery")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/delivery")
}
