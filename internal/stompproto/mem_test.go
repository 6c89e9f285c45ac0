package stompproto

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
)

// BenchmarkIdleSession measures the live heap an idle STOMP session holds
// after CONNECT and one SUBSCRIBE to /topic/bench, beyond its connection:
// every session's subscription with id sub-0 (as stompjs names a client's
// first), or each with an id of its own. It reports B/session; the
// connection's own memory is the server's, measured by make bench.
func BenchmarkIdleSession(b *testing.B) {
	b.Run("shared", func(b *testing.B) { benchIdleSession(b, false) })
	b.Run("own-ids", func(b *testing.B) { benchIdleSession(b, true) })
}

func benchIdleSession(b *testing.B, own bool) {
	const n = 10000
	p, pool := newTestProtocol(b)
	var per float64
	for range b.N {
		conns := make([]*fakeConn, n)
		for i := range conns {
			conns[i] = newFakeConn(b, 0)
		}
		before := liveHeap()
		for i, c := range conns {
			c.state = p.Open(c)
			id := "sub-0"
			if own {
				id = strconv.Itoa(i)
			}
			_ = p.Message(c, frame.OpText, []byte("CONNECT\naccept-version:1.2\nhost:x\nheart-beat:0,0\n\n\x00"))
			_ = p.Message(c, frame.OpText, []byte("SUBSCRIBE\nid:"+id+"\ndestination:/topic/bench\n\n\x00"))
		}
		for pool.Hub().Count("bench") < n {
			time.Sleep(time.Millisecond)
		}
		per = float64(liveHeap()-before) / n
		for _, c := range conns {
			p.Close(c)
		}
		runtime.KeepAlive(conns)
	}
	b.ReportMetric(per, "B/session")
}

// liveHeap returns the heap in use after two collections.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
