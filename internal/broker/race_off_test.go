//go:build !race

package broker

// raceEnabled is true under -race, where allocation counts are meaningless.
const raceEnabled = false
