//go:build race

package stomp

// raceEnabled is true when tests run under the race detector, which
// allocates on its own and makes allocation counts meaningless.
const raceEnabled = true
