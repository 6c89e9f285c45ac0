//go:build !race

package deflate

// raceEnabled is true under -race, where allocation counts are meaningless.
const raceEnabled = false
