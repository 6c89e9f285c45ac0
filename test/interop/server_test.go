package interop

import (
	"strconv"
	"testing"
)

// This file is the one place that decides which server the interop clients
// talk to. Swapping in wsgate means changing the three declarations below.
// This in-process version (imports internal/config and internal/server)
// passed TestEcho with all three clients up to 16 MiB, and every
// TestEchoDeflate case but one, against internal/server at commit 66df653
// (serverDeflate = true): plain-offer/node-ws closed with 1009 on the
// 16 MiB binary message, whose compressed frame is a few KB longer than the
// 16 MiB MaxFrame (which defaults to MaxMessage).
//
//	cfg := config.Default()
//	cfg.Listen = "127.0.0.1:0"
//	cfg.Admin = "" // the admin listener's fixed port would collide
//	cfg.MaxMessage = serverMaxMessageSize
//	srv, err := server.New(cfg)
//	if err != nil {
//		t.Fatal(err)
//	}
//	if err := srv.Start(); err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { _ = srv.Close() })
//	return "ws://" + srv.Addr().String() + cfg.EchoPath

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
