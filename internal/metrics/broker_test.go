package metrics

import (
	"strings"
	"testing"
)

// TestBrokerSeries: the cross-node series show the state read at scrape
// time, with HELP text.
func TestBrokerSeries(t *testing.T) {
	m := full()
	st := BrokerState{Connected: true, Published: 4, Received: 5, DroppedPublish: 1, DroppedReceive: 2, DroppedStale: 3, Subscriptions: 6, Nodes: 2}
	m.RegisterBroker(func() BrokerState { return st })
	text := scrape(t, m)
	for _, want := range []string{
		"wsgate_broker_connected 1", "wsgate_broker_published_total 4", "wsgate_broker_received_total 5",
		`wsgate_broker_dropped_total{where="publish"} 1`, `wsgate_broker_dropped_total{where="receive"} 2`,
		`wsgate_broker_dropped_total{where="stale"} 3`, "wsgate_broker_subscriptions 6", "wsgate_broker_nodes 2",
		"# HELP wsgate_broker_connected 1 while",
	} {
		if !strings.Contains(text, want+"\n") && !strings.Contains(text, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	st.Connected = false
	if text = scrape(t, m); !strings.Contains(text, "wsgate_broker_connected 0\n") {
		t.Error("wsgate_broker_connected does not follow the state")
	}
}
