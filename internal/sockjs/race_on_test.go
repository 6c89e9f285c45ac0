//go:build race

package sockjs

// raceEnabled reports whether the race detector is on; allocation
// assertions are skipped under it.
const raceEnabled = true
