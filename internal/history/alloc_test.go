package history

import (
	"testing"

	"github.com/wsgate/wsgate/internal/fanout"
)

// TestRecordAllocatesNothing: once a room's ring has grown to its count,
// recording a message (keeping a reference to its buffer, dropping the
// oldest) allocates nothing, and neither does a replay.
func TestRecordAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	m := newStore(t, newClock(), 1, 1<<30, Rule{Pattern: "r.*", Count: 64})
	j := textJob("r.a", "payload")
	record := func() {
		j.Buf.Retain() // the job's own reference, released after the fan-out
		m.Record(0, &j)
		j.Buf.Release()
	}
	for range 200 {
		record()
	}
	if n := testing.AllocsPerRun(1000, record); n != 0 {
		t.Errorf("Record: %v allocations per message, want 0", n)
	}
	since := Since{Kind: SinceOffset, Offset: j.Offset - 10, Epoch: j.Epoch}
	var count int
	fn := func(fanout.Job) { count++ }
	if n := testing.AllocsPerRun(100, func() { m.Replay(0, "r.a", since, 1<<20, fn) }); n != 0 {
		t.Errorf("Replay: %v allocations, want 0", n)
	}
	if count == 0 {
		t.Fatal("nothing replayed")
	}
}
