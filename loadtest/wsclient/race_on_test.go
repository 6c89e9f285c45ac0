//go:build race

package wsclient

const raceEnabled = true
