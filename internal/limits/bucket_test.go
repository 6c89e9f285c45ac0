package limits

import (
	"testing"
	"time"
	"unsafe"
)

const sec = int64(time.Second)

func TestBucketBurstThenRate(t *testing.T) {
	l := NewLimit(10, 5) // 10/s, burst 5
	var b Bucket
	now := 100 * sec
	for i := 0; i < 5; i++ {
		if !b.Allow(&l, now, 1) {
			t.Fatalf("burst token %d refused", i)
		}
	}
	if b.Allow(&l, now, 1) {
		t.Fatal("6th token at once admitted with burst 5")
	}
	if d := b.Delay(&l, now, 1); d != 100*time.Millisecond {
		t.Errorf("Delay = %v, want 100ms", d)
	}
	if b.Allow(&l, now+99*int64(time.Millisecond), 1) {
		t.Error("token admitted before one interval passed")
	}
	if !b.Allow(&l, now+100*int64(time.Millisecond), 1) {
		t.Error("token refused after one interval")
	}
	// Idle long enough: full again, never more than burst.
	now += 10 * sec
	if !b.Full(now) {
		t.Error("bucket not full after 10s idle")
	}
	n := 0
	for b.Allow(&l, now, 1) {
		n++
	}
	if n != 5 {
		t.Errorf("after idle, %d tokens at once, want burst 5", n)
	}
}

func TestBucketUnlimitedAndZero(t *testing.T) {
	var l Limit
	var b Bucket
	for i := 0; i < 1000; i++ {
		if !b.Allow(&l, 1, 1<<40) {
			t.Fatal("zero Limit refused")
		}
	}
	if !NewLimit(0, 10).Unlimited() || !NewLimit(-1, 10).Unlimited() {
		t.Error("rate <= 0 should be unlimited")
	}
	if l2 := NewLimit(1, 0); l2.Burst() != 1 {
		t.Errorf("burst 0 became %d, want 1", l2.Burst())
	}
}

func TestBucketOversized(t *testing.T) {
	l := NewLimit(1000, 1000) // 1000 bytes/s, burst 1000
	var b Bucket
	now := sec
	if !b.Allow(&l, now, 5000) {
		t.Fatal("message larger than the burst refused on a full bucket")
	}
	// It left 4000 bytes of debt: empty at +4 s, full again at +5 s.
	if b.Allow(&l, now+3*sec, 1) {
		t.Error("admitted during the debt")
	}
	if b.Allow(&l, now+4*sec+sec/2, 1000) {
		t.Error("a full burst admitted before the bucket refilled")
	}
	if !b.Allow(&l, now+5*sec, 1000) {
		t.Error("refused once the debt was repaid and the bucket refilled")
	}
}

func TestBucketHugeValues(t *testing.T) {
	l := NewLimit(1e-3, 1<<62) // one token per 1000 s, enormous burst
	var b Bucket
	if !b.Allow(&l, sec, 1<<62) || b.Allow(&l, sec+1, 1) {
		t.Error("huge burst: first take should pass on a full bucket, the next not")
	}
	l2 := NewLimit(1, 1)
	var b2 Bucket
	if !b2.Allow(&l2, sec, 1<<62) {
		t.Error("oversized take on a full bucket refused")
	}
	if b2.Allow(&l2, sec+1000*sec, 1) || b2.tat <= sec {
		t.Errorf("oversized take overflowed: tat %d", b2.tat)
	}
}

// TestFlood sends at 10× the rate for 10 s: what passes is the burst plus
// the rate over the time, no more.
func TestFlood(t *testing.T) {
	l := NewLimit(100, 20)
	var b Bucket
	start := 50 * sec
	step := int64(time.Millisecond) // 1000/s offered
	passed := 0
	for now := start; now < start+10*sec; now += step {
		if b.Allow(&l, now, 1) {
			passed++
		}
	}
	if min, max := 100*10, 100*10+20+1; passed < min || passed > max {
		t.Errorf("flood: %d passed, want between %d and %d", passed, min, max)
	}
}

// TestWellBehavedNeverRefused sends at exactly the rate, and in bursts
// within the burst size spaced to the rate: nothing is refused.
func TestWellBehavedNeverRefused(t *testing.T) {
	cases := []struct {
		rate  float64
		burst int64
	}{{1, 1}, {3, 1}, {7, 2}, {100, 10}, {1000, 50}, {12345, 100}, {1e6, 1000}}
	for _, c := range cases {
		l := NewLimit(c.rate, c.burst)
		var b Bucket
		iv := float64(time.Second) / c.rate
		start := 7 * sec
		for i := 0; i < 10000; i++ {
			now := start + int64(float64(i)*iv+0.999) // round the sender late, never early
			if !b.Allow(&l, now, 1) {
				t.Fatalf("rate %v burst %d: message %d at exactly the rate refused", c.rate, c.burst, i)
			}
		}
		// Bursts of `burst` messages every burst intervals.
		var b2 Bucket
		for k := 0; k < 1000; k++ {
			now := start + int64(float64(k)*float64(c.burst)*iv+0.999)
			for j := int64(0); j < c.burst; j++ {
				if !b2.Allow(&l, now, 1) {
					t.Fatalf("rate %v burst %d: burst %d message %d refused", c.rate, c.burst, k, j)
				}
			}
		}
	}
}

func TestConnBucketsBoth(t *testing.T) {
	l := ConnLimits{Msgs: NewLimit(10, 10), Bytes: NewLimit(1000, 1000)}
	var c ConnBuckets
	now := sec
	if !c.Allow(&l, now, 900) {
		t.Fatal("first message refused")
	}
	// Bytes refuse: the message bucket must not be charged.
	for i := 0; i < 20; i++ {
		if c.Allow(&l, now, 200) {
			t.Fatal("bytes over the burst admitted")
		}
	}
	for i := 0; i < 9; i++ {
		if !c.Allow(&l, now, 1) {
			t.Fatalf("message %d refused: byte refusals charged the message bucket", i+2)
		}
	}
	if c.Allow(&l, now, 1) {
		t.Error("11th message admitted with burst 10")
	}
	// Only bytes limited.
	lb := ConnLimits{Bytes: NewLimit(100, 100)}
	var cb ConnBuckets
	for i := 0; i < 100; i++ {
		if !cb.Allow(&lb, now, 1) {
			t.Fatalf("byte-only limit refused message %d", i)
		}
	}
	if cb.Allow(&lb, now, 1) {
		t.Error("byte-only limit admitted past its burst")
	}
}

func TestSizes(t *testing.T) {
	if s := unsafe.Sizeof(Bucket{}); s != 8 {
		t.Errorf("Bucket is %d bytes, want 8", s)
	}
	if s := unsafe.Sizeof(ConnBuckets{}); s != 16 {
		t.Errorf("ConnBuckets is %d bytes, want 16", s)
	}
	if s := unsafe.Sizeof(Violations{}); s != 4 {
		t.Errorf("Violations is %d bytes, want 4", s)
	}
}

func TestConnBucketsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	l := ConnLimits{Msgs: NewLimit(1e9, 1e9), Bytes: NewLimit(1e12, 1e12)}
	var c ConnBuckets
	var v Violations
	p := Policy{CloseAfter: 1 << 30}
	now := sec
	n := testing.AllocsPerRun(1000, func() {
		now++
		if !c.Allow(&l, now, 64) {
			p.Violation(&v)
		}
	})
	if n != 0 {
		t.Errorf("per-message check allocates %v times", n)
	}
}

func TestPolicy(t *testing.T) {
	p := Policy{CloseAfter: 3}
	var v Violations
	want := []Action{Drop, Drop, Close, Close}
	for i, w := range want {
		if a := p.Violation(&v); a != w {
			t.Errorf("violation %d: %v, want %v", i+1, a, w)
		}
	}
	if v.Count() != 4 {
		t.Errorf("Count = %d, want 4", v.Count())
	}
	var v1 Violations
	if a := (Policy{}).Violation(&v1); a != Close {
		t.Errorf("CloseAfter 0: first violation %v, want close", a)
	}
	if Drop.String() != "drop" || Close.String() != "close" {
		t.Error("Action names")
	}
}
