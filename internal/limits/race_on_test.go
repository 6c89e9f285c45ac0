//go:build race

package limits

// raceEnabled is true under -race, where allocation counts are meaningless.
const raceEnabled = true
