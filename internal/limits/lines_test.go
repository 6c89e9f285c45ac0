package limits

import (
	"testing"
	"time"
)

// TestLinesBurstThenCount lets Burst lines through, holds back the rest
// of the second, and reports how many it held with the next line that
// passes in a later second.
func TestLinesBurstThenCount(t *testing.T) {
	for {
		l := Lines{Burst: 2}
		start := time.Now().Unix()
		var passed, held int
		for range 5 {
			if ok, _ := l.Allow(); ok {
				passed++
			} else {
				held++
			}
		}
		if time.Now().Unix() != start {
			continue // the second turned over mid-way: try again
		}
		if passed != 2 || held != 3 {
			t.Fatalf("passed %d, held %d; want 2 and 3", passed, held)
		}
		for time.Now().Unix() == start {
			time.Sleep(10 * time.Millisecond)
		}
		ok, suppressed := l.Allow()
		if !ok || suppressed != 3 {
			t.Fatalf("next second: ok %v, suppressed %d; want true, 3", ok, suppressed)
		}
		return
	}
}
