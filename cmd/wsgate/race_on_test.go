//go:build race

package main

// raceEnabled trims the data volume of the biggest tests under -race.
const raceEnabled = true
