package limits

import (
	"sync/atomic"
	"time"
)

// Lines lets through at most Burst log lines per second for one kind of
// event, so a flood of bad handshakes or a long outage cannot flood the
// log. Lines over the limit are counted and reported with the next line
// that passes. The zero Lines lets nothing through; set Burst before use.
// It is safe for concurrent use.
type Lines struct {
	// Burst is how many lines pass per wall-clock second.
	Burst int64

	second     atomic.Int64
	n          atomic.Int64
	suppressed atomic.Int64
}

// Allow reports whether a line may be logged now, and if so how many were
// held back since the last one that was.
func (l *Lines) Allow() (ok bool, suppressed int64) {
	now := time.Now().Unix()
	if sec := l.second.Load(); sec != now && l.second.CompareAndSwap(sec, now) {
		l.n.Store(0)
	}
	if l.n.Add(1) > l.Burst {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}
