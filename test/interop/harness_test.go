package interop

import (
	"testing"
	"time"
)

// TestClientsCatchFaultyServer proves that the clients can fail: against the
// stand-in server misbehaving on purpose, each must exit 1 and name the check
// that caught it. It always uses the stand-in, whatever startServer starts.
func TestClientsCatchFaultyServer(t *testing.T) {
	faults := []struct {
		fault, check string
	}{
		{"flip", "binary/1"},
		{"opcode", "text/0"},
		{"close-code", "close"},
		{"no-pong", "ping"},
		{"pong-payload", "ping"},
	}
	for _, f := range faults {
		t.Run(f.fault, func(t *testing.T) {
			url := startNodeEchoServer(t, "--fault", f.fault)
			for _, c := range echoClients() {
				run := runClient(t, c, url, time.Second, "--sizes", "0,1,126")
				if run.exitCode != 1 || run.summary.OK || !run.failed(f.check) {
					t.Errorf("%s against a server with fault %q: exit %d, ok %v, want exit 1 and a failed %q check\n--- output ---\n%s",
						c.name, f.fault, run.exitCode, run.summary.OK, f.check, run.output)
				}
			}
		})
	}
}

// TestClientsPassFaultFreeServer is the control for the fault cases: the
// same clients, sizes and timeouts pass against the stand-in without a fault.
func TestClientsPassFaultFreeServer(t *testing.T) {
	url := startNodeEchoServer(t)
	for _, c := range echoClients() {
		run := runClient(t, c, url, time.Second, "--sizes", "0,1,126")
		if run.exitCode != 0 || !run.summary.OK || run.summary.Passed != expectedChecks("0,1,126", 1<<30, false) {
			t.Errorf("%s: exit %d, summary %+v\n--- output ---\n%s", c.name, run.exitCode, run.summary, run.output)
		}
	}
}
