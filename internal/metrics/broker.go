package metrics

import "github.com/prometheus/client_golang/prometheus"

// BrokerState is what the cross-node series show, read once per scrape.
type BrokerState struct {
	// Connected is true while the node is connected to NATS.
	Connected bool
	// Published counts messages sent to other nodes; Received messages
	// from other nodes delivered to this node's members.
	Published, Received uint64
	// DroppedPublish counts messages this node could not send (the
	// reconnect buffer was full, the message was over the NATS payload
	// limit, the connection was closed); DroppedReceive messages from
	// other nodes dropped because this node's delivery queues were full;
	// DroppedStale messages dropped after a failover because a later one
	// of the same node had already arrived.
	DroppedPublish, DroppedReceive, DroppedStale uint64
	// Subscriptions is the number of rooms and users the node receives
	// from NATS; Nodes the number of other nodes it knows to be up.
	Subscriptions, Nodes int
}

var (
	brokerConnected = prometheus.NewDesc("wsgate_broker_connected",
		"1 while the node is connected to NATS (the cluster's broker), else 0: local delivery goes on, other nodes are not reached.", nil, nil)
	brokerPublished = prometheus.NewDesc("wsgate_broker_published_total",
		"Messages published on this node and handed to NATS for the other nodes.", nil, nil)
	brokerReceived = prometheus.NewDesc("wsgate_broker_received_total",
		"Messages from other nodes delivered to this node's members.", nil, nil)
	brokerDropped = prometheus.NewDesc("wsgate_broker_dropped_total",
		"Messages between nodes lost on this node, by where: publish (not sent: NATS unreachable past the reconnect buffer, or over its payload limit), receive (this node's delivery queues full), stale (arrived after a later message of the same node, after a NATS failover).",
		[]string{"where"}, nil)
	brokerSubs = prometheus.NewDesc("wsgate_broker_subscriptions",
		"Rooms and users this node receives from NATS: those with local members, and those in their grace period after the last left.", nil, nil)
	brokerNodes = prometheus.NewDesc("wsgate_broker_nodes",
		"Other wsgate nodes that announced themselves recently.", nil, nil)
)

// brokerCollector reads a BrokerState at each scrape.
type brokerCollector func() BrokerState

// RegisterBroker adds the cross-node series (wsgate_broker_*), read
// through f at each scrape. A node on its own registers none.
func (m *Metrics) RegisterBroker(f func() BrokerState) { m.reg.MustRegister(brokerCollector(f)) }

// Describe implements prometheus.Collector.
func (brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{brokerConnected, brokerPublished, brokerReceived, brokerDropped, brokerSubs, brokerNodes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (f brokerCollector) Collect(ch chan<- prometheus.Metric) {
	s := f()
	up := 0.0
	if s.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(brokerConnected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(brokerPublished, prometheus.CounterValue, float64(s.Published))
	ch <- prometheus.MustNewConstMetric(brokerReceived, prometheus.CounterValue, float64(s.Received))
	ch <- prometheus.MustNewConstMetric(brokerDropped, prometheus.CounterValue, float64(s.DroppedPublish), "publish")
	ch <- prometheus.MustNewConstMetric(brokerDropped, prometheus.CounterValue, float64(s.DroppedReceive), "receive")
	ch <- prometheus.MustNewConstMetric(brokerDropped, prometheus.CounterValue, float64(s.DroppedStale), "stale")
	ch <- prometheus.MustNewConstMetric(brokerSubs, prometheus.GaugeValue, float64(s.Subscriptions))
	ch <- prometheus.MustNewConstMetric(brokerNodes, prometheus.GaugeValue, float64(s.Nodes))
}
