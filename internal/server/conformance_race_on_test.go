//go:build race

package server_test

// underRace is true when the conformance tests run under the race
// detector, which slows byte-heavy work several times over: the biggest
// messages are then sent in fewer variants to keep the package's tests
// within about a minute.
const underRace = true
