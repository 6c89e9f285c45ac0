package limits

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"testing"
)

func TestCounterMaxima(t *testing.T) {
	c := NewCounter(CounterOptions{MaxTotal: 5, MaxPerUser: 2, MaxPerIP: 3})
	ip1 := netip.MustParseAddr("192.0.2.1")
	ip2 := netip.MustParseAddr("192.0.2.2")
	must := func(user string, ip netip.Addr) {
		t.Helper()
		if err := c.Acquire(user, ip); err != nil {
			t.Fatalf("Acquire(%q, %s): %v", user, ip, err)
		}
	}
	reject := func(user string, ip netip.Addr, want error, status, retry int) {
		t.Helper()
		err := c.Acquire(user, ip)
		var r *Rejection
		if !errors.Is(err, want) || !errors.As(err, &r) {
			t.Fatalf("Acquire(%q, %s) = %v, want %v", user, ip, err, want)
		}
		if r.Status != status || r.RetryAfter != retry || r.RetryAfterText() != strconv.Itoa(retry) {
			t.Errorf("%v: status %d retry %d (%q), want %d %d", err, r.Status, r.RetryAfter, r.RetryAfterText(), status, retry)
		}
	}
	must("alice", ip1)
	must("alice", ip1)
	reject("alice", ip2, ErrTooManyUserConns, http.StatusTooManyRequests, 10)
	must("bob", ip1)
	reject("carol", ip1, ErrTooManyIPConns, http.StatusTooManyRequests, 10)
	must("carol", ip2)
	must("", ip2) // anonymous: not counted per user
	reject("dave", ip2, ErrTooManyConns, http.StatusServiceUnavailable, 5)
	if c.Total() != 5 || c.User("alice") != 2 || c.IP(ip1) != 3 || c.IP(ip2) != 2 {
		t.Errorf("counts: total %d alice %d ip1 %d ip2 %d", c.Total(), c.User("alice"), c.IP(ip1), c.IP(ip2))
	}
	// A user refusal must not leave the IP counted.
	c.Release("bob", ip1)
	reject("alice", ip1, ErrTooManyUserConns, http.StatusTooManyRequests, 10)
	if c.IP(ip1) != 2 || c.Total() != 4 {
		t.Errorf("refused Acquire left counts: ip1 %d total %d", c.IP(ip1), c.Total())
	}
	c.Release("alice", ip1)
	c.Release("alice", ip1)
	c.Release("carol", ip2)
	c.Release("", ip2)
	if c.Total() != 0 || c.Entries() != 0 {
		t.Errorf("after releasing all: total %d entries %d", c.Total(), c.Entries())
	}
}

func TestCounterUnlimited(t *testing.T) {
	c := NewCounter(CounterOptions{})
	ip := netip.MustParseAddr("192.0.2.1")
	for i := 0; i < 1000; i++ {
		if err := c.Acquire("u", ip); err != nil {
			t.Fatal(err)
		}
	}
	if c.Entries() != 0 {
		t.Error("no maxima should keep no per-key entries")
	}
	for i := 0; i < 1000; i++ {
		c.Release("u", ip)
	}
	if c.Total() != 0 {
		t.Errorf("Total = %d", c.Total())
	}
}

// TestCounterConcurrent acquires and releases from many goroutines (run
// it under -race): maxima are never exceeded and everything ends at zero.
func TestCounterConcurrent(t *testing.T) {
	const maxUser, maxIP = 3, 4
	c := NewCounter(CounterOptions{MaxTotal: 50, MaxPerUser: maxUser, MaxPerIP: maxIP})
	var wg sync.WaitGroup
	var mu sync.Mutex
	over := 0
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			type held struct {
				user string
				ip   netip.Addr
			}
			var mine []held
			for i := 0; i < 2000; i++ {
				if len(mine) > 0 && r.IntN(2) == 0 {
					j := r.IntN(len(mine))
					c.Release(mine[j].user, mine[j].ip)
					mine = append(mine[:j], mine[j+1:]...)
					continue
				}
				h := held{"u" + strconv.Itoa(r.IntN(8)), netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(8))})}
				if c.Acquire(h.user, h.ip) == nil {
					mine = append(mine, h)
					if c.User(h.user) > maxUser || c.IP(h.ip) > maxIP || c.Total() > 50 {
						mu.Lock()
						over++
						mu.Unlock()
					}
				}
			}
			for _, h := range mine {
				c.Release(h.user, h.ip)
			}
		}(g)
	}
	wg.Wait()
	if over > 0 {
		t.Errorf("maxima exceeded %d times", over)
	}
	if c.Total() != 0 || c.Entries() != 0 {
		t.Errorf("leak: total %d entries %d", c.Total(), c.Entries())
	}
}

func TestCounterDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	c := NewCounter(CounterOptions{MaxTotal: 10, MaxPerUser: 1, MaxPerIP: 1})
	ip := netip.MustParseAddr("2001:db8::1")
	c.Acquire("alice", ip)
	n := testing.AllocsPerRun(1000, func() {
		if err := c.Acquire("alice", ip); err == nil {
			t.Fatal("second connection admitted")
		}
		c.Release("alice", ip)
		if err := c.Acquire("alice", ip); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("Acquire/Release allocate %v times", n)
	}
}
