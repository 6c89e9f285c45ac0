package limits

import (
	"math"
	"time"
)

// Clock returns monotonic nanoseconds. Every method here takes "now" from
// the caller (the poller reads the clock once per loop iteration); tests
// pass their own values, so they are deterministic.
type Clock func() int64

// NewClock returns a Clock counting monotonic nanoseconds from the call
// (never negative, immune to wall-clock jumps).
func NewClock() Clock {
	start := time.Now()
	return func() int64 { return int64(time.Since(start)) + 1 }
}

// Limit is a token-bucket rate: Rate tokens per second with room for
// Burst at once. It is read-only once built and shared by every bucket it
// governs, so a bucket holds only its state. The zero Limit is unlimited.
type Limit struct {
	interval float64 // nanoseconds per token; 0 means unlimited
	tau      int64   // burst × interval: how far ahead a bucket may run
	rate     float64
	burst    int64
}

// NewLimit returns a limit of perSecond tokens per second and a burst of
// burst tokens (at least 1). perSecond <= 0 means unlimited.
func NewLimit(perSecond float64, burst int64) Limit {
	if perSecond <= 0 || math.IsInf(perSecond, 1) || math.IsNaN(perSecond) {
		return Limit{}
	}
	burst = max(burst, 1)
	iv := 1e9 / perSecond
	return Limit{interval: iv, tau: clampNanos(float64(burst) * iv), rate: perSecond, burst: burst}
}

// Unlimited reports whether l admits everything.
func (l Limit) Unlimited() bool { return l.interval == 0 }

// Rate is the sustained rate in tokens per second (0 when unlimited).
func (l Limit) Rate() float64 { return l.rate }

// Burst is the bucket size in tokens (0 when unlimited).
func (l Limit) Burst() int64 { return l.burst }

// Bucket is one token bucket in 8 bytes, kept as the GCRA "theoretical
// arrival time": the instant the bucket will be full again. A tat at or
// before now means a full bucket, so the zero Bucket is full and an idle
// bucket can be forgotten without changing any answer. Its Limit lives
// elsewhere and is passed in.
//
// A Bucket is not synchronized: its owner (the connection's poller
// goroutine, or a lock holder) calls it.
type Bucket struct {
	tat int64
}

// maxSpan bounds every span a bucket computes (about 36 years), so sums
// of times never overflow int64.
const maxSpan = 1 << 60

// clampNanos converts a span to int64 nanoseconds within [0, maxSpan].
func clampNanos(ns float64) int64 {
	if !(ns < maxSpan) { // also catches NaN
		return maxSpan
	}
	return max(int64(ns), 0)
}

// cost is the time n tokens are worth under l.
func (l *Limit) cost(n int64) int64 { return clampNanos(float64(n) * l.interval) }

// Allow takes n tokens at now if the bucket holds them and reports
// whether it did. A request larger than the whole burst passes only when
// the bucket is full and leaves it in debt, so the long-run rate still
// holds (a message bigger than the bytes burst is not refused forever).
func (b *Bucket) Allow(l *Limit, now, n int64) bool {
	if l.interval == 0 {
		return true
	}
	next, ok := b.next(l, now, n)
	if ok {
		b.tat = next
	}
	return ok
}

// next is the tat after taking n tokens at now, and whether that is
// allowed.
func (b *Bucket) next(l *Limit, now, n int64) (int64, bool) {
	tat := max(b.tat, now)
	next := tat + l.cost(n)
	return next, next-now <= l.tau || b.tat <= now
}

// Delay is how long from now until n tokens are available (0 if they
// are now). It takes nothing.
func (b *Bucket) Delay(l *Limit, now, n int64) time.Duration {
	if l.interval == 0 || b.tat <= now {
		return 0
	}
	return time.Duration(max(b.tat+l.cost(n)-l.tau-now, 0))
}

// Full reports whether the bucket is full at now: it remembers nothing
// and may be dropped.
func (b *Bucket) Full(now int64) bool { return b.tat <= now }

// ConnLimits are the per-connection (or per-user) rates: messages and
// bytes per second. A zero Limit is unlimited.
type ConnLimits struct {
	Msgs  Limit
	Bytes Limit
}

// ConnBuckets is one connection's rate state: a message bucket and a byte
// bucket, 16 bytes. It is owned by the connection's goroutine (the
// poller), which calls it without locks; the zero value is ready.
type ConnBuckets struct {
	msgs  Bucket
	bytes Bucket
}

// Allow admits one message of size bytes at now when both buckets hold
// enough, taking from both; otherwise it takes from neither. It does not
// allocate.
func (c *ConnBuckets) Allow(l *ConnLimits, now, size int64) bool {
	m, okm := c.msgs.next(&l.Msgs, now, 1)
	b, okb := c.bytes.next(&l.Bytes, now, size)
	okm = okm || l.Msgs.interval == 0
	okb = okb || l.Bytes.interval == 0
	if !okm || !okb {
		return false
	}
	if l.Msgs.interval != 0 {
		c.msgs.tat = m
	}
	if l.Bytes.interval != 0 {
		c.bytes.tat = b
	}
	return true
}

// Full reports whether both buckets are full at now.
func (c *ConnBuckets) Full(now int64) bool { return c.msgs.Full(now) && c.bytes.Full(now) }
