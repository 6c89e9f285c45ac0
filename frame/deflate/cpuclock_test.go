package deflate

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock measures the process's CPU time (user+system) during a
// benchmark. On a shared, oversubscribed machine wall-clock ns/op includes
// time spent waiting for a core; cpu-ns/op does not.
type cpuClock struct {
	start time.Duration
	bytes int64
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPU starts the clock; bytesPerOp is what SetBytes got.
func startCPU(bytesPerOp int64) cpuClock { return cpuClock{start: cpuNow(), bytes: bytesPerOp} }

// report adds cpu-ns/op and cpu-MB/s (MB/s computed from CPU time) for n ops.
func (c cpuClock) report(b *testing.B, n int) {
	d := cpuNow() - c.start
	if n == 0 || d <= 0 {
		return
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(n), "cpu-ns/op")
	if c.bytes > 0 {
		b.ReportMetric(float64(c.bytes)*float64(n)/d.Seconds()/1e6, "cpu-MB/s")
	}
}
