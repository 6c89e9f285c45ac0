package interop

import (
	"strconv"
	"testing"
)

// This file is the one place that decides which server the interop clients
// talk to. Swapping in wsgate means changing the three declarations below.

// serverMaxMessageSize is the largest message the server under test accepts
// and echoes; the clients skip larger sizes.
const serverMaxMessageSize = 16 << 20

// serverDeflate reports whether the server under test negotiates
// permessage-deflate; the deflate cases skip when it does not.
const serverDeflate = true

// startServer starts the echo server under test, stops it when t ends, and
// returns its echo URL (ws://127.0.0.1:PORT/echo).
//
// For now it is the npm ws stand-in, test/node/echo_server.js. Its frame
// limit has 1 MiB of room above serverMaxMessageSize because ws also applies
// it to compressed frames, and deflate makes incompressible data a little
// longer.
func startServer(t *testing.T) (url string) {
	t.Helper()
	return startNodeEchoServer(t, "--max-payload", strconv.Itoa(serverMaxMessageSize+1<<20))
}
