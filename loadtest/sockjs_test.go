package loadtest

import (
	"github.com/wsgate/wsgate/loadtest/wsclient"
	"testing"
	"time"
)

// TestWsgateSockJS runs the echo and broadcast scenarios over both SockJS
// transports against wsgate with -sockjs, with a small response limit so
// that streaming responses end and are renewed many times mid-run.
func TestWsgateSockJS(t *testing.T) {
	g := startWsgate(t, "-anonymous", "-no-limits", "-sockjs", "-sockjs-response-limit", "4KiB")
	for _, tr := range []string{wsclient.TransportXHRStreaming, wsclient.TransportXHRPolling} {
		t.Run(tr, func(t *testing.T) {
			cfg := echoCfg(g.URL)
			cfg.Transport, cfg.InFlight = tr, 4
			checkExactEcho(t, run(t, cfg), 20)

			s := run(t, &Config{Scenario: "broadcast", Targets: []string{g.URL}, Transport: tr, Conns: 30,
				Publishers: 2, PubRate: 200, Duration: time.Second, Drain: 5 * time.Second, Room: "sj-" + tr})
			c := s.Counters
			if c.Connected != 32 || c.Published == 0 || c.Delivered != c.Published*30 {
				t.Errorf("broadcast: connected %d published %d delivered %d (want 30 per message); failures %v",
					c.Connected, c.Published, c.Delivered, s.Failures)
			}
			if c.Duplicates != 0 || c.Reordered != 0 || c.Corrupt != 0 || c.Errors != 0 {
				t.Errorf("broadcast: duplicates %d reordered %d corrupt %d errors %d", c.Duplicates, c.Reordered, c.Corrupt, c.Errors)
			}
		})
	}
	bad := &Config{Scenario: "echo", Targets: []string{g.URL}, Transport: "jsonp"}
	bad.Defaults()
	if bad.Validate() == nil {
		t.Error("an unknown transport was accepted")
	}
}
