//go:build race

package auth

// raceEnabled is true under -race, where allocation counts are meaningless.
const raceEnabled = true
