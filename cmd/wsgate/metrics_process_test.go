package main

import (
	"testing"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestMetricsPassPromtool scrapes the running binary's /metrics after
// some traffic (an echo, a rejected handshake) and runs Prometheus's own
// linter over it: every family has HELP text and a TYPE, counters end in
// _total, and nothing is printed beside the library.
func TestMetricsPassPromtool(t *testing.T) {
	c := startWsgate(t, nil)
	ws, err := wstest.Connect(c.addr, "/echo")
	if err != nil {
		t.Fatal(err)
	}
	ws.Bind(t)
	if err := ws.WriteMessage(frame.OpText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if _, err := wstest.Connect(c.addr, "/nowhere"); err == nil {
		t.Fatal("a handshake for an unknown path succeeded")
	}
	status, body := c.get("/metrics")
	if status != 200 {
		t.Fatalf("GET /metrics: %d", status)
	}
	wstest.PromtoolCheck(t, body)
}
