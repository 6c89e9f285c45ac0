package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histBuckets covers 0 µs to beyond 2^40 µs: 32 one-microsecond buckets,
// then 16 per power of two (about 6 % wide).
const histBuckets = 32 + 35*16

// hist is a latency histogram in microseconds, safe for concurrent adds.
type hist struct {
	n [histBuckets]atomic.Int64
}

func bucketOf(d time.Duration) int {
	u := uint64(max(d, 0) / time.Microsecond)
	if u < 32 {
		return int(u)
	}
	l := bits.Len64(u)              // ≥ 6
	top := int(u >> (l - 5))        // 16..31
	i := 32 + (l-6)*16 + (top - 16) // l-6 groups of 16 above the linear range
	return min(i, histBuckets-1)
}

// bucketMid returns the middle of bucket i.
func bucketMid(i int) time.Duration {
	if i < 32 {
		return time.Duration(i)*time.Microsecond + time.Microsecond/2
	}
	k := (i - 32) / 16
	top := int64(16 + (i-32)%16)
	lo, width := top<<(k+1), int64(1)<<(k+1)
	return time.Duration(lo)*time.Microsecond + time.Duration(width)*time.Microsecond/2
}

// add records one latency.
func (h *hist) add(d time.Duration) { h.n[bucketOf(d)].Add(1) }

// count returns the number of recorded latencies.
func (h *hist) count() int64 {
	var t int64
	for i := range h.n {
		t += h.n[i].Load()
	}
	return t
}

// quantile returns the latency below which a fraction q of the recorded
// ones lie, 0 when none was recorded.
func (h *hist) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	want := int64(q*float64(total) + 0.5)
	want = max(want, 1)
	var seen int64
	for i := range h.n {
		seen += h.n[i].Load()
		if seen >= want {
			return bucketMid(i)
		}
	}
	return bucketMid(histBuckets - 1)
}

// merge adds o's counts to h.
func (h *hist) merge(o *hist) {
	for i := range h.n {
		h.n[i].Add(o.n[i].Load())
	}
}

// latencies is the JSON form of a histogram.
type latencies struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
}

func (h *hist) summary() latencies {
	ms := func(q float64) float64 { return float64(h.quantile(q)) / float64(time.Millisecond) }
	return latencies{Count: h.count(), P50: ms(0.5), P90: ms(0.9), P99: ms(0.99), P999: ms(0.999)}
}
