package hub

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// heapAlloc returns the live heap after two full collections.
func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// leakMargin is how far the heap may end above where it started. It covers
// runtime and testing noise; one cycle's members alone are 5,000 x 1 KiB.
const leakMargin = 128 << 10

// TestLeakCycles is the leak test at the hub level: 10 cycles of
// 5,000 members that join several rooms each (one private, shared ones of
// 10, 100 and 5,000 members) and the user index, then leave, half through
// LeaveAll and half one room at a time, in random order. Every cycle must
// end with no rooms and no users, and the heap must return to where it
// started.
func TestLeakCycles(t *testing.T) {
	const cycles, conns = 10, 5000
	h := New[*tconn](0)
	base := heapAlloc()
	var peak uint64
	rng := rand.New(rand.NewPCG(4, 4))
	for cycle := range cycles {
		peak = max(peak, leakCycle(t, h, rng, conns))
		if h.Len() != 0 || h.Users() != 0 {
			t.Fatalf("cycle %d: %d rooms and %d users left", cycle, h.Len(), h.Users())
		}
	}
	end := heapAlloc()
	runtime.KeepAlive(h) // the hub itself must stay live while measured
	t.Logf("heap: start %d B, peak %d B, end %d B (%+d B)", base, peak, end, int64(end)-int64(base))
	if peak < base+conns*1024 {
		t.Fatalf("peak heap %d is not above start %d: the test measures nothing", peak, base)
	}
	if end > base+leakMargin {
		t.Fatalf("heap grew from %d to %d B after %d cycles (margin %d)", base, end, cycles, leakMargin)
	}
}

// leakCycle runs one cycle and returns the heap at its fullest.
func leakCycle(t *testing.T, h *Hub[*tconn], rng *rand.Rand, n int) uint64 {
	t.Helper()
	cs := newConns(n)
	joined := make([][]string, n) // what the server keeps per connection
	users := make([]string, n)
	for i, c := range cs {
		joined[i] = []string{
			fmt.Sprint("conn-", i), fmt.Sprint("room-", i%500), fmt.Sprint("team-", i%50), "all",
		}
		for _, r := range joined[i] {
			if !h.Join(r, c) {
				t.Fatalf("Join(%q) of a new member = false", r)
			}
		}
		users[i] = fmt.Sprint("user-", i%2000)
		h.AddUser(users[i], c)
	}
	if h.Len() != n+500+50+1 || h.Users() != 2000 || h.Count("all") != n || h.CountUser("user-1") != 3 {
		t.Fatalf("joined: Len %d, Users %d, Count(all) %d", h.Len(), h.Users(), h.Count("all"))
	}
	peak := heapAlloc()
	for _, i := range rng.Perm(n) {
		c := cs[i]
		if i%2 == 0 {
			h.LeaveAll(joined[i], c)
		} else {
			for j := len(joined[i]) - 1; j >= 0; j-- {
				// A fresh string: the hub must not depend on identity.
				if !h.Leave(string([]byte(joined[i][j])), c) {
					t.Fatalf("Leave(%q) of a member = false", joined[i][j])
				}
			}
		}
		h.RemoveUser(users[i], c)
	}
	return peak
}
