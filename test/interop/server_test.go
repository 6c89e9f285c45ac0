package interop

import (
	"testing"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
)

// This file is the one place that decides which server the interop clients
// talk to: wsgate itself, in-process, with its defaults (permessage-deflate
// on) and a 16 MiB message limit. The npm ws stand-in
// (test/node/echo_server.js, startNodeEchoServer) remains for the clients'
// own fault self-tests.

// serverMaxMessageSize is the largest message the server under test accepts
// and echoes; the clients skip larger sizes.
const serverMaxMessageSize = 16 << 20

// serverDeflate reports whether the server under test negotiates
// permessage-deflate; the deflate cases skip when it does not.
const serverDeflate = true

// startServer starts wsgate in-process on a free loopback port, stops it
// when t ends, and returns its echo URL (ws://127.0.0.1:PORT/echo).
func startServer(t *testing.T) (url string) {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin = ""
	cfg.Anonymous, cfg.NoLimits = true, true // core tests: no token, no rate limits
	cfg.MaxMessage = serverMaxMessageSize
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return "ws://" + srv.Addr().String() + cfg.EchoPath
}
