// Package cluster wires what a wsgate node shares beyond its own
// connections: the rooms' history and the other nodes.
//
// A Node is built with the server (New), before the fan-out pool, since
// the pool records history through the Node's store; it joins the
// cluster in Start, once the pool exists, and leaves it in Close.
//
// A node on its own (no -nats, no -nats-embedded) has the Local broker,
// which only answers the admin API's cluster views for this node: no hub
// observer, no forwarder, so publishing costs what it always did.
//
// A node of a cluster wires three things. The fan-out pool forwards every
// message published on this node to the broker once its local members
// have it (Forward, on the room's worker, in the room's order), so local
// members never wait on the network. The hub tells the broker when a room
// or user gets its first local member and loses its last (interest), and
// the broker subscribes to their subjects accordingly. And the broker
// hands messages of other nodes to receive, which submits them to the
// local pool marked Remote, so they are framed, compressed and delivered
// like local ones and never forwarded back.
//
// History is kept in memory on a node on its own, and in the cluster's
// JetStream stream (history.Replicated over the broker's History) when
// the configuration asks for it.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admin"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/limits"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/stompproto"
)

// Options is what a Node needs of the server.
type Options struct {
	// Config is the server's configuration: the -nats*, -node-name,
	// -cluster-timeout and -history* settings, and the worker count.
	Config *config.Config
	// Logger gets the node's warnings.
	Logger *slog.Logger
	// Hub is the server's index of local members.
	Hub *hub.Hub[fanout.Subscriber]
	// Metrics gets the broker's and the history's series.
	Metrics *metrics.Metrics
	// Stats returns this node's counters, which other nodes gather.
	Stats func() admin.Stats
	// TuneBroker, if set, adjusts the broker's options when Start builds
	// it (tests shorten its timers).
	TuneBroker func(*broker.Options)
}

// Node is a wsgate node's part in its cluster and its rooms' history.
// Its methods are safe for concurrent use once Start has returned.
type Node struct {
	o    Options
	cfg  *config.Config
	hist history.Store // nil: no room keeps history
	// stream is the cluster's history stream; nil unless history lives
	// in JetStream.
	stream    *streamLog
	sweepStop chan struct{}

	// Set by Start.
	pool  *fanout.Pool
	brk   broker.Broker
	nats  *broker.NATS     // nil for the Local broker
	emb   *broker.Embedded // nil without -nats-embedded
	relay *queueRelay      // STOMP's /queue destinations; nil without STOMP or NATS

	// refused counts messages of other nodes that the local fan-out
	// refused (its queue stayed full for remoteWait).
	refused    atomic.Uint64
	refuseLog  limits.Lines
	subscribeL limits.Lines
	started    bool
	stopOnce   sync.Once
}

// remoteWait bounds how long a message of another node waits for room in
// a full fan-out queue before it is dropped. The broker's delivery
// goroutine waits meanwhile, and the messages behind it queue up in the
// broker (bounded, and counted when dropped): a node that cannot keep up
// loses messages rather than memory.
const remoteWait = 2 * time.Second

// New builds a node and its history store, whose series it registers
// with o.Metrics. Nothing runs until Start.
func New(o Options) (*Node, error) {
	n := &Node{o: o, cfg: o.Config}
	n.refuseLog.Burst, n.subscribeL.Burst = 1, 1
	if err := n.newHistory(); err != nil {
		return nil, err
	}
	return n, nil
}

// Store returns the rooms' history store, which the fan-out pool records
// through and the protocols replay from; nil when no room keeps history.
func (n *Node) Store() history.Store { return n.hist }

// Keeps reports whether room keeps history.
func (n *Node) Keeps(room string) bool { return n.hist != nil && n.hist.Keeps(room) }

// Start builds the node's broker (and embedded NATS server) and wires it
// into the hub, pool and, when it is not nil, the STOMP protocol's /queue
// destinations; then it starts the history's sweeps. It runs before
// anything joins or publishes.
func (n *Node) Start(pool *fanout.Pool, stomp *stompproto.Protocol) error {
	if n.started {
		return nil
	}
	n.pool = pool
	if n.stream != nil {
		n.stream.store.Attach(pool)
	}
	cfg := n.cfg
	opts := broker.Options{
		URLs: cfg.NATS, CredsFile: cfg.NatsCreds, Token: cfg.NatsToken,
		TLSCA: cfg.NatsTLSCA, TLSCert: cfg.NatsTLSCert, TLSKey: cfg.NatsTLSKey,
		SubjectPrefix: cfg.NatsSubjectPrefix, NodeName: cfg.NodeName,
		Handler: n.receive, Stats: n.stats, View: n.view, UserConns: n.o.Hub.CountUser,
		Logger: n.o.Logger,
	}
	if n.stream != nil {
		n.stream.wire(&opts)
	}
	if n.o.TuneBroker != nil {
		n.o.TuneBroker(&opts)
	}
	if cfg.NatsEmbedded {
		emb, err := broker.StartEmbedded(broker.EmbeddedOptions{
			Listen: cfg.NatsListen, Cluster: cfg.NatsCluster, Routes: cfg.NatsRoutes,
			ServerName: cfg.NodeName, Token: cfg.NatsToken, Logger: n.o.Logger, StoreDir: cfg.NatsStoreDir,
		})
		if err != nil {
			return err
		}
		n.emb = emb
		opts.URLs = append([]string{emb.ClientURL()}, cfg.NATS...)
	}
	brk, err := broker.New(opts)
	if err != nil {
		if n.emb != nil {
			n.emb.Shutdown()
		}
		return err
	}
	n.brk = brk
	if nb, ok := brk.(*broker.NATS); ok {
		if err := n.join(nb, stomp, opts.URLs); err != nil {
			_ = brk.Close()
			if n.emb != nil {
				n.emb.Shutdown()
			}
			return err
		}
	}
	n.started = true
	if n.hist != nil {
		n.sweepStop = make(chan struct{})
		go n.sweep(n.sweepStop)
	}
	return nil
}

// join wires a NATS broker: interest, forwarding, metrics, the STOMP
// queue relay and the history stream.
func (n *Node) join(nb *broker.NATS, stomp *stompproto.Protocol, urls []string) error {
	n.nats = nb
	n.o.Hub.Observe(n.roomInterest, n.userInterest)
	n.pool.SetForwarder(n)
	n.o.Metrics.RegisterBroker(n.metricsState)
	if stomp != nil {
		n.relay = newQueueRelay(nb)
		stomp.SetQueueGroup(n.relay)
	}
	if n.stream != nil {
		if err := n.stream.open(nb); err != nil {
			return err
		}
	}
	n.o.Logger.Info("cluster: node joining on NATS", "node", nb.Self().Name, "id", nb.Self().ID,
		"servers", urls, "subject_prefix", n.cfg.NatsSubjectPrefix, "embedded", n.cfg.NatsEmbedded)
	return nil
}

// Close leaves the cluster: the history sweeps stop, the broker says
// goodbye and sends what it still holds, then the embedded NATS server
// stops. It runs once the pool has stopped, so every message published
// here has been forwarded. Close does nothing before Start.
func (n *Node) Close() {
	if !n.started {
		return
	}
	n.stopOnce.Do(func() {
		if n.sweepStop != nil {
			close(n.sweepStop)
		}
		if n.relay != nil {
			n.relay.close()
		}
		if n.stream != nil {
			n.stream.close()
		}
		_ = n.brk.Close()
		if n.emb != nil {
			n.emb.Shutdown()
		}
	})
}

// Broker returns the node's broker (the Local one for a node on its own);
// nil before Start.
func (n *Node) Broker() broker.Broker { return n.brk }

// Forward implements fanout.Forwarder: a message published on this node
// goes to the other nodes. A message the broker cannot send is counted
// there (wsgate_broker_dropped_total) and logged once per outage.
func (n *Node) Forward(j *fanout.Job) {
	m := broker.Message{Kind: broker.Room, Target: j.Room, Publisher: j.FromUser, Payload: j.Payload()}
	if j.Room == "" {
		m.Kind, m.Target = broker.User, j.User
		if d, ok := j.From.(fanout.Destined); ok {
			m.Dest = d.Destination()
		}
	}
	if j.Op() == frame.OpBinary {
		m.Flags |= broker.Binary
	}
	if j.JSON {
		m.Flags |= broker.JSON
	}
	_ = n.brk.Publish(m)
}

// receive is the broker's Handler: a message of another node, framed
// once and handed to the local pool for this node's members.
func (n *Node) receive(m broker.Message) {
	var j fanout.Job
	switch m.Kind {
	case broker.Room:
		if !hub.ValidName(m.Target) {
			return
		}
		j.Room, j.History = m.Target, n.Keeps(m.Target)
		if j.History && m.Offset != 0 && n.stream != nil {
			// From the history stream: its position, and, for a message
			// published here, its publisher.
			j.Offset, j.Prev = m.Offset, m.Prev
			if m.Origin == n.nats.Self().ID {
				j.From = n.stream.store.Publisher(m.Seq)
			}
		}
	case broker.User:
		j.User = m.Target
		if m.Dest != "" {
			j.From = &remoteDest{m.Dest}
		}
	default:
		return
	}
	op := frame.OpText
	if m.Flags&broker.Binary != 0 {
		op = frame.OpBinary
	}
	j.Buf, j.Hdr = fanout.FrameBuf(0, op, m.Payload)
	j.JSON = m.Flags&broker.JSON != 0
	j.FromUser = m.Publisher // the broker never reuses the message's buffer
	j.Remote = true
	if n.pool.TrySubmit(j) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteWait)
	err := n.pool.Submit(ctx, j)
	cancel()
	if err == nil {
		return
	}
	j.Buf.Release()
	if errors.Is(err, fanout.ErrStopped) {
		return // shutting down
	}
	n.refused.Add(1)
	if ok, suppressed := n.refuseLog.Allow(); ok {
		n.o.Logger.Warn("cluster: a message of another node was dropped: the local fan-out queue stayed full",
			"room", j.Room, "user", j.User, "dropped_since_last", suppressed)
	}
}

// remoteDest is the destination within a user's sessions that a user
// message of another node names (fanout.Destined).
type remoteDest struct{ dest string }

func (*remoteDest) Deliver(*fanout.Delivery) (bool, bool) { return false, false }
func (*remoteDest) Flush()                                {}
func (d *remoteDest) Destination() string                 { return d.dest }

// roomInterest and userInterest are the hub's observers: the broker
// follows the rooms and users with local members.
func (n *Node) roomInterest(room string, first bool) { n.interest(broker.Room, room, first) }
func (n *Node) userInterest(user string, first bool) { n.interest(broker.User, user, first) }

func (n *Node) interest(kind broker.Kind, name string, first bool) {
	if !first {
		n.brk.Unsubscribe(kind, name)
		return
	}
	if err := n.brk.Subscribe(kind, name); err != nil {
		if ok, suppressed := n.subscribeL.Allow(); ok {
			n.o.Logger.Warn("cluster: other nodes cannot reach this "+kind.String(), "name", name, "err", err, "suppressed_since_last", suppressed)
		}
	}
}

// metricsState is what the wsgate_broker_* series show.
func (n *Node) metricsState() metrics.BrokerState {
	st := n.brk.State()
	return metrics.BrokerState{
		Connected: st.Connected, Published: st.Published, Received: st.Received,
		DroppedPublish: st.PublishDropped + n.relayDropped(), DroppedReceive: st.ReceiveDropped + n.refused.Load(),
		DroppedStale: st.Stale, Subscriptions: st.Subscriptions, Nodes: st.Nodes,
	}
}

func (n *Node) relayDropped() uint64 {
	if n.relay == nil {
		return 0
	}
	return n.relay.dropped.Load()
}

// Degraded implements admin.ClusterBackend: why the node reaches only its
// own members, or "".
func (n *Node) Degraded() string {
	if n.nats != nil && n.nats.State().Connected && n.stream != nil && n.stream.Epoch() == "" {
		return "history stream unavailable (JetStream): rooms with history deliver nothing until it is there"
	}
	if n.nats == nil || n.nats.State().Connected {
		return ""
	}
	servers := len(n.cfg.NATS)
	if n.emb != nil {
		servers++
	}
	return fmt.Sprintf("not connected to NATS (%d servers configured): delivering to this node's members only, reconnecting in the background", servers)
}
