//go:build !race

package poller

import "github.com/lesismal/nbio"

// raceHandoff is a no-op outside race builds; see race_on.go.
func raceHandoff(*nbio.Conn) {}
