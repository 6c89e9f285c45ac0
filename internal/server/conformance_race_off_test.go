//go:build !race

package server_test

// underRace is true when the conformance tests run under the race
// detector (see conformance_race_on_test.go).
const underRace = false
