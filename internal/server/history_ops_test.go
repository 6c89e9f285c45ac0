package server_test

import (
	"testing"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestHistoryMetrics: with rooms that keep history, /metrics has the
// history series, well-formed, and they follow what happens.
func TestHistoryMetrics(t *testing.T) {
	srv, addr := startServer(t, func(c *config.Config) {
		c.History, _ = config.ParseHistoryRules("h.*=2")
		c.PingInterval, c.IdleTimeout = 0, 0
	})
	admin := "http://" + srv.AdminAddr().String()
	for _, p := range []string{"1", "2", "3"} {
		opsPublish(t, admin, "h.a", p)
	}
	c := wstest.Dial(t, addr, "/ws")
	c.Send(true, 0, 1, []byte(`{"type":"join","room":"h.a","since":{"offset":0,"epoch":"old"}}`))
	if _, p, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("joined: %s", p)
	}
	p := opsScrape(t, admin)
	for key, want := range map[string]float64{
		"wsgate_history_rooms":                             1,
		"wsgate_history_messages":                          2,
		`wsgate_history_resumes_total{result="missed"}`:    1,
		`wsgate_history_resumes_total{result="recovered"}`: 0,
		`wsgate_history_dropped_total{cause="memory"}`:     0,
	} {
		s, ok := p.samples[key]
		if !ok || s.value != want {
			t.Errorf("%s = %v (present %v), want %v", key, s.value, ok, want)
		}
	}
	if p.samples["wsgate_history_bytes"].value <= 0 {
		t.Error("wsgate_history_bytes is not positive")
	}
}
