package hub

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkJoinLeave measures one Join plus one Leave from parallel
// goroutines. "existing" rooms keep a resident member, so the pair is the
// steady state of a connection joining a live room; "new" rooms are created
// by the Join and deleted by the Leave. shards=1 shows the cost of a single
// lock for comparison.
func BenchmarkJoinLeave(b *testing.B) {
	rooms := make([]string, 1024)
	for i := range rooms {
		rooms[i] = fmt.Sprint("room-", i)
	}
	for _, shards := range []int{1, 64} {
		for _, kind := range []string{"existing", "new"} {
			b.Run(fmt.Sprintf("shards=%d/%s", shards, kind), func(b *testing.B) {
				h := New[*tconn](shards)
				if kind == "existing" {
					for _, r := range rooms {
						h.Join(r, &tconn{})
					}
				}
				var next atomic.Int64
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					// Each goroutine has its own member and starts at its
					// own offset in the names.
					m := &tconn{}
					i := int(next.Add(1)) * 257
					for pb.Next() {
						r := rooms[i&(len(rooms)-1)]
						i++
						h.Join(r, m)
						h.Leave(r, m)
					}
				})
			})
		}
	}
}

// BenchmarkAppendMembers10k measures the fan-out snapshot of a room of
// 10,000 members into a reused slice.
func BenchmarkAppendMembers10k(b *testing.B) {
	const n = 10000
	h := New[*tconn](0)
	for range n {
		h.Join("big", &tconn{})
	}
	dst := make([]*tconn, 0, n)
	b.ReportAllocs()
	for b.Loop() {
		dst = h.AppendMembers(dst[:0], "big")
	}
	if len(dst) != n {
		b.Fatalf("snapshot has %d members", len(dst))
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "members/s")
}

// BenchmarkCount measures Count of an existing room from parallel readers.
func BenchmarkCount(b *testing.B) {
	h := New[*tconn](0)
	rooms := make([]string, 256)
	for i := range rooms {
		rooms[i] = fmt.Sprint("room-", i)
		h.Join(rooms[i], &tconn{})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if h.Count(rooms[i&255]) != 1 {
				b.Error("wrong count")
				return
			}
			i++
		}
	})
}

// BenchmarkMemory reports the heap cost of membership: B/room for rooms of
// one member (the room's map entry, set, slice and name included) and
// B/member for one room of 10,000 members (slice slot plus map entry).
func BenchmarkMemory(b *testing.B) {
	const n = 10000
	conns := make([]*tconn, n)
	names := make([]string, n)
	for i := range conns {
		conns[i] = &tconn{}
		names[i] = fmt.Sprintf("room-%05d", i) // 10-byte names
	}
	for _, tc := range []struct {
		name, unit string
		fill       func(h *Hub[*tconn])
	}{
		{"room-of-1", "B/room", func(h *Hub[*tconn]) {
			for i, c := range conns {
				h.Join(names[i], c)
			}
		}},
		{"room-of-10k", "B/member", func(h *Hub[*tconn]) {
			for _, c := range conns {
				h.Join("big", c)
			}
		}},
		{"user-of-1", "B/user", func(h *Hub[*tconn]) {
			for i, c := range conns {
				h.AddUser(names[i], c)
			}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var perItem float64
			for b.Loop() {
				h := New[*tconn](0)
				before := heapAlloc()
				tc.fill(h)
				after := heapAlloc()
				runtime.KeepAlive(h)
				perItem = float64(after-before) / n
			}
			b.ReportMetric(perItem, tc.unit)
		})
	}
}
