//go:build !race

package wire

// raceEnabled is true under -race, where allocation counts are meaningless.
const raceEnabled = false
