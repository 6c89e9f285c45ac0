package interop

import (
	"strings"
	"testing"
)

// TestEcho runs each client's full echo check (text and binary messages at
// the frame-length boundaries up to 16 MiB, ping/pong, close 1000) against
// the server, one connection per client.
func TestEcho(t *testing.T) {
	url := startServer(t)
	sizes := echoSizes(testing.Short())
	for _, c := range echoClients() {
		t.Run(c.name, func(t *testing.T) {
			s := runEcho(t, c, url, sizes, false)
			if s.Extensions != "" {
				t.Errorf("%s: server accepted extensions %q that were not offered", c.name, s.Extensions)
			}
		})
	}
}

// deflateCase is one permessage-deflate offer.
type deflateCase struct {
	name string
	args []string
	// want are parameters the server's answer must carry.
	want []string
	// full runs every size up to 16 MiB with the node client; the other
	// runs stop at 1 MiB (16 MiB through Python's deflate costs ~10 s of CPU
	// for little more than the node run shows).
	full bool
}

func deflateCases() []deflateCase {
	return []deflateCase{
		{name: "plain-offer", full: true},
		{
			name: "no-context-takeover",
			args: []string{"--server-no-context-takeover", "--client-no-context-takeover"},
			want: []string{"server_no_context_takeover"},
		},
		{
			name: "window-bits-15",
			args: []string{"--server-max-window-bits", "15", "--client-max-window-bits", "15"},
		},
		{
			name: "window-bits-10-9",
			args: []string{"--server-max-window-bits", "10", "--client-max-window-bits", "9"},
			want: []string{"server_max_window_bits=10"},
		},
	}
}

// TestEchoDeflate runs the echo check with permessage-deflate offered in
// several shapes; each must be accepted and every message must survive
// compression both ways.
func TestEchoDeflate(t *testing.T) {
	if !serverDeflate {
		t.Skip("the server under test does not negotiate permessage-deflate (serverDeflate in server_test.go)")
	}
	url := startServer(t)
	for _, dc := range deflateCases() {
		for _, c := range echoClients() {
			sizes := echoSizes(true)
			if dc.full && c.name == nodeClient().name && !testing.Short() {
				sizes = echoSizes(false)
			}
			t.Run(dc.name+"/"+c.name, func(t *testing.T) {
				s := runEcho(t, c, url, sizes, true, dc.args...)
				for _, w := range dc.want {
					if !strings.Contains(s.Extensions, w) {
						t.Errorf("%s: server answered %q, want it to carry %s", c.name, s.Extensions, w)
					}
				}
			})
		}
	}
}
