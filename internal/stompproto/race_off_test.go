//go:build !race

package stompproto

const raceEnabled = false
