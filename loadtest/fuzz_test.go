package loadtest

import (
	"testing"
)

// FuzzStamp: parseStamp never panics and round-trips what putStamp wrote.
func FuzzStamp(f *testing.F) {
	f.Add([]byte("W0000000000000001000000020000000000000003|xyz"), int64(5), uint32(6), uint64(7))
	f.Fuzz(func(t *testing.T, b []byte, ts int64, id uint32, seq uint64) {
		parseStamp(b)
		p := make([]byte, stampLen)
		putStamp(p, ts, id, seq)
		gt, gi, gs, ok := parseStamp(p)
		if !ok || gt != ts || gi != id || gs != seq {
			t.Fatalf("round trip %d %d %d -> %d %d %d %v", ts, id, seq, gt, gi, gs, ok)
		}
	})
}
