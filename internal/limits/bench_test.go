package limits

import (
	"net/netip"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/time/rate"
)

// BenchmarkConnBuckets is the per-message check on the poller: our two
// 8-byte buckets (16 bytes per connection) ...
func BenchmarkConnBuckets(b *testing.B) {
	l := ConnLimits{Msgs: NewLimit(1e9, 1e9), Bytes: NewLimit(1e12, 1e12)}
	var c ConnBuckets
	clock := NewClock()
	b.ReportAllocs()
	for b.Loop() {
		c.Allow(&l, clock(), 64)
	}
	b.ReportMetric(float64(unsafe.Sizeof(c)), "B/conn")
}

// BenchmarkConnBucketsNoClock is the check alone, with the loop's now
// passed in as the poller does.
func BenchmarkConnBucketsNoClock(b *testing.B) {
	l := ConnLimits{Msgs: NewLimit(1e9, 1e9), Bytes: NewLimit(1e12, 1e12)}
	var c ConnBuckets
	now := sec
	b.ReportAllocs()
	for b.Loop() {
		now++
		c.Allow(&l, now, 64)
	}
}

// ... against two golang.org/x/time/rate Limiters, which carry a mutex,
// their own rate and burst, and time.Time values.
func BenchmarkRateLimiter(b *testing.B) {
	msgs := rate.NewLimiter(1e9, 1e9)
	bytes := rate.NewLimiter(1e12, 1e12)
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		if msgs.AllowN(now, 1) {
			bytes.AllowN(now, 64)
		}
	}
	b.ReportMetric(float64(2*unsafe.Sizeof(*msgs)), "B/conn")
}

func BenchmarkUserLimiter(b *testing.B) {
	u := NewUserLimiter(ConnLimits{Msgs: NewLimit(1e9, 1e9), Bytes: NewLimit(1e12, 1e12)}, time.Hour)
	users := make([]string, 1024)
	for i := range users {
		users[i] = "user-" + strconv.Itoa(i)
	}
	clock := NewClock()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			u.Allow(users[i&1023], clock(), 64)
			i++
		}
	})
}

func BenchmarkIPLimiter(b *testing.B) {
	l := NewIPLimiter(1e9, 1e9, 64, time.Hour)
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	clock := NewClock()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(addrs[i&1], clock())
		i++
	}
}

func BenchmarkCounterAcquireRelease(b *testing.B) {
	c := NewCounter(CounterOptions{MaxTotal: 1 << 20, MaxPerUser: 100, MaxPerIP: 100})
	ip := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Acquire("alice", ip); err != nil {
			b.Fatal(err)
		}
		c.Release("alice", ip)
	}
}
