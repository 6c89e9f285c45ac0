package interop

import (
	"testing"
	"time"
)

// TestClientsCatchFaultyServer proves that the clients can fail: against the
// stand-in server misbehaving on purpose, each must exit 1 and name the check
// that caught it. It always uses the stand-in, whatever startServer starts.
func TestClientsCatchFaultyServer(t *testing.T) {
	// A missing pong is seen only by waiting out the step timeout, so the
	// ping faults wait 2s; the others keep a timeout that a loaded machine
	// cannot hit, since a timed-out echo would end the run before the check
	// that should catch the fault.
	faults := []struct {
		fault, check string
		timeout      time.Duration
	}{
		{"flip", "binary/1", 20 * time.Second},
		{"opcode", "text/0", 20 * time.Second},
		{"close-code", "close", 20 * time.Second},
		{"no-pong", "ping", 2 * time.Second},
		{"pong-payload", "ping", 2 * time.Second},
	}
	for _, f := range faults {
		t.Run(f.fault, func(t *testing.T) {
			t.Parallel() // mostly waiting: overlap the timeouts
			url := startNodeEchoServer(t, "--fault", f.fault)
			for _, c := range echoClients() {
				run := runClient(t, c, url, f.timeout, "--sizes", "0,1,126")
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
		run := runClient(t, c, url, 20*time.Second, "--sizes", "0,1,126")
		if run.exitCode != 0 || !run.summary.OK || run.summary.Passed != expectedChecks("0,1,126", 1<<30, false) {
			t.Errorf("%s: exit %d, summary %+v\n--- output ---\n%s", c.name, run.exitCode, run.summary, run.output)
		}
	}
}
