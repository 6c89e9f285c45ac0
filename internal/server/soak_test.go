//go:build soak

package server

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// TestSoakDrains runs the drain tests again and again (WSGATE_SOAK_ROUNDS,
// default 5): jobs provably pending at Shutdown, and a drain during a
// publish storm with more members and publishers than the short test.
func TestSoakDrains(t *testing.T) {
	rounds := 5
	if n, err := strconv.Atoi(os.Getenv("WSGATE_SOAK_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for i := range rounds {
		t.Run(fmt.Sprintf("pending_jobs/%d", i+1), TestDrainDeliversPendingJobs)
	}
	for i := range rounds {
		t.Run(fmt.Sprintf("publish_storm/%d", i+1), func(t *testing.T) {
			r := drainStorm(t, 400, 8, 2000)
			low, high := r.received[0], r.received[0]
			for _, n := range r.received {
				if n < r.ackedBefore {
					t.Errorf("a member got %d messages, fewer than the %d acknowledged before the drain", n, r.ackedBefore)
				}
				low, high = min(low, n), max(high, n)
			}
			t.Logf("%d publishes acknowledged (%d before Shutdown), %d refused as overloaded; members got %d to %d; %d deliveries counted skipped",
				r.acked, r.ackedBefore, r.refused, low, high, r.undelivered)
		})
	}
}
