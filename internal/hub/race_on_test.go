//go:build race

package hub

// raceEnabled is true under -race, where allocation counts are meaningless.
const raceEnabled = true
