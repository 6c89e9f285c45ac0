package limits

import (
	"errors"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

func TestUserLimiterSharedAcrossConnections(t *testing.T) {
	u := NewUserLimiter(ConnLimits{Msgs: NewLimit(10, 10), Bytes: NewLimit(1e6, 1e6)}, time.Minute)
	now := sec
	// Two "connections" of alice share one budget.
	n := 0
	for i := 0; i < 20; i++ {
		if u.Allow("alice", now, 10) {
			n++
		}
		if u.Allow("alice", now, 10) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("alice got %d messages at once, want burst 10 across her connections", n)
	}
	if !u.Allow("bob", now, 10) {
		t.Error("bob refused because of alice")
	}
	if d := u.Delay("alice", now, 10); d != 100*time.Millisecond {
		t.Errorf("Delay = %v, want 100ms", d)
	}
	if !u.Allow("alice", now+int64(100*time.Millisecond), 10) {
		t.Error("alice refused after one interval")
	}
}

func TestKeyedSweep(t *testing.T) {
	u := NewUserLimiter(ConnLimits{Msgs: NewLimit(1, 5)}, time.Second)
	now := sec
	for i := 0; i < 1000; i++ {
		u.Allow("user"+strconv.Itoa(i), now, 1)
	}
	if u.Len() != 1000 {
		t.Fatalf("Len = %d, want 1000", u.Len())
	}
	// Still refilling: a sweep keeps them (dropping would forget debt).
	u.Sweep(now + sec/2)
	if u.Len() != 1000 {
		t.Errorf("sweep dropped entries that were not full: Len = %d", u.Len())
	}
	// After 1 s every bucket is full again: all go.
	u.Sweep(now + sec)
	if u.Len() != 0 {
		t.Errorf("Len after sweep = %d, want 0", u.Len())
	}
	// Allow sweeps by itself: fill, wait until full, then touch the shards.
	for i := 0; i < 1000; i++ {
		u.Allow("user"+strconv.Itoa(i), 10*sec, 1)
	}
	for i := 0; i < 2000; i++ {
		u.Allow("probe"+strconv.Itoa(i), 20*sec, 1)
	}
	left := 0
	for i := range u.m.shards {
		for k := range u.m.shards[i].m {
			if k[:4] == "user" {
				left++
			}
		}
	}
	if left > 0 {
		t.Errorf("Allow did not sweep idle entries: %d of 1000 left", left)
	}
}

func TestIPLimiterStorm(t *testing.T) {
	l := NewIPLimiter(5, 10, 64, time.Minute) // 5 new conns/s, burst 10
	storm := netip.MustParseAddr("192.0.2.7")
	other := netip.MustParseAddr("192.0.2.8")
	now := sec
	ok := 0
	var retry time.Duration
	for i := 0; i < 1000; i++ {
		if a, r := l.Allow(storm, now+int64(i)*int64(time.Millisecond)); a {
			ok++
		} else {
			retry = r
		}
	}
	// 1 s of storm: burst 10 plus 5 refilled.
	if ok < 10 || ok > 16 {
		t.Errorf("storm admitted %d connections in 1 s, want 10..16", ok)
	}
	if retry <= 0 || retry > 200*time.Millisecond {
		t.Errorf("retryAfter = %v, want (0, 200ms]", retry)
	}
	if RetryAfterSeconds(retry) != 1 || RetryAfterSeconds(2500*time.Millisecond) != 3 {
		t.Error("RetryAfterSeconds rounding")
	}
	if a, _ := l.Allow(other, now); !a {
		t.Error("another address refused because of the storm")
	}
	// A well-behaved address connecting at 4/s is never refused.
	good := netip.MustParseAddr("198.51.100.1")
	for i := 0; i < 1000; i++ {
		if a, _ := l.Allow(good, now+int64(i)*int64(250*time.Millisecond)); !a {
			t.Fatalf("well-behaved address refused at connection %d", i)
		}
	}
}

func TestIPLimiterCheck(t *testing.T) {
	l := NewIPLimiter(0.1, 1, 64, 0) // one connection per 10 s
	a := netip.MustParseAddr("192.0.2.9")
	if err := l.Check(a, sec); err != nil {
		t.Fatal(err)
	}
	err := l.Check(a, sec+sec/2)
	var r *Rejection
	if !errors.Is(err, ErrConnRate) || !errors.As(err, &r) || r.Status != 429 || r.RetryAfter != 10 {
		t.Fatalf("Check = %v (%+v), want 429 ErrConnRate Retry-After 10", err, r)
	}
	slow := NewIPLimiter(0.001, 1, 64, 0) // one per 1000 s: capped at 60
	slow.Check(a, sec)
	if err := slow.Check(a, sec); !errors.As(err, &r) || r.RetryAfter != 60 {
		t.Errorf("Retry-After not capped: %v", err)
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, func() { l.Check(a, sec+sec/2) }); n != 0 {
		t.Errorf("a refused Check allocates %v times", n)
	}
}

func TestIPKey(t *testing.T) {
	cases := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
	}
	for _, c := range cases {
		if got := IPKey(netip.MustParseAddr(c.in), 64); got != netip.MustParseAddr(c.want) {
			t.Errorf("IPKey(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	a := netip.MustParseAddr("2001:db8::1")
	if IPKey(a, 128) != a || IPKey(a, 0) != IPKey(a, 64) {
		t.Error("IPKey prefix bits")
	}
	// Same /64 shares a budget.
	l := NewIPLimiter(1, 1, 64, 0)
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:0:1::a"), sec); !ok {
		t.Fatal("first refused")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:0:1::b"), sec); ok {
		t.Error("second address in the same /64 got its own budget")
	}
	if ok, _ := l.Allow(netip.MustParseAddr("2001:db8:0:2::a"), sec); !ok {
		t.Error("another /64 refused")
	}
}

func TestKeyedDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	u := NewUserLimiter(ConnLimits{Msgs: NewLimit(1e9, 1e9), Bytes: NewLimit(1e12, 1e12)}, time.Hour)
	ipl := NewIPLimiter(1e9, 1e9, 64, time.Hour)
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	now := sec
	u.Allow("alice", now, 1)
	n := testing.AllocsPerRun(1000, func() {
		now++
		u.Allow("alice", now, 64)
		ipl.Allow(v4, now)
		ipl.Allow(v6, now)
	})
	if n != 0 {
		t.Errorf("keyed limiters allocate %v times per call", n)
	}
}
