package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/metrics"
)

// cluster is the server's part in a cluster of wsgate nodes: the broker,
// and the NATS server it runs in process with -nats-embedded.
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
type cluster struct {
	s    *Server
	brk  broker.Broker
	nats *broker.NATS     // nil for the Local broker
	emb  *broker.Embedded // nil without -nats-embedded
	// relay carries STOMP's /queue destinations over the broker; nil
	// without STOMP or without NATS.
	relay *queueRelay

	// refused counts messages of other nodes that the local fan-out
	// refused (its queue stayed full for remoteWait).
	refused    atomic.Uint64
	refuseLog  logLimiter
	subscribeL logLimiter
	stopOnce   sync.Once
}

// remoteWait bounds how long a message of another node waits for room in
// a full fan-out queue before it is dropped. The broker's delivery
// goroutine waits meanwhile, and the messages behind it queue up in the
// broker (bounded, and counted when dropped): a node that cannot keep up
// loses messages rather than memory.
const remoteWait = 2 * time.Second

// roomsViewBudget bounds the bytes of one node's answer to the rooms view,
// well under NATS's default payload limit of 1 MiB; a node with more rooms
// reports the first ones and says it truncated.
const roomsViewBudget = 512 << 10

// startCluster builds the node's broker (and embedded NATS server) and
// wires it into the hub and the pool. It runs in Start, before anything
// joins or publishes.
func (s *Server) startCluster() error {
	if s.cl != nil {
		return nil
	}
	cl := &cluster{s: s}
	cl.refuseLog.burst, cl.subscribeL.burst = 1, 1
	cfg := &s.cfg
	opts := broker.Options{
		URLs: cfg.NATS, CredsFile: cfg.NatsCreds, Token: cfg.NatsToken,
		TLSCA: cfg.NatsTLSCA, TLSCert: cfg.NatsTLSCert, TLSKey: cfg.NatsTLSKey,
		SubjectPrefix: cfg.NatsSubjectPrefix, NodeName: cfg.NodeName,
		Handler: cl.receive, Stats: cl.stats, View: cl.view, UserConns: s.hub.CountUser,
		Logger: s.log,
	}
	if s.hlog != nil {
		s.hlog.wire(&opts)
	}
	if s.tuneBroker != nil {
		s.tuneBroker(&opts)
	}
	if cfg.NatsEmbedded {
		emb, err := broker.StartEmbedded(broker.EmbeddedOptions{
			Listen: cfg.NatsListen, Cluster: cfg.NatsCluster, Routes: cfg.NatsRoutes,
			ServerName: cfg.NodeName, Token: cfg.NatsToken, Logger: s.log, StoreDir: cfg.NatsStoreDir,
		})
		if err != nil {
			return err
		}
		cl.emb = emb
		opts.URLs = append([]string{emb.ClientURL()}, cfg.NATS...)
	}
	brk, err := broker.New(opts)
	if err != nil {
		if cl.emb != nil {
			cl.emb.Shutdown()
		}
		return err
	}
	cl.brk = brk
	if n, ok := brk.(*broker.NATS); ok {
		cl.nats = n
		s.hub.Observe(cl.roomInterest, cl.userInterest)
		s.pool.SetForwarder(cl)
		s.m.RegisterBroker(cl.metricsState)
		if s.stomp != nil {
			cl.relay = newQueueRelay(brk)
			s.stomp.SetQueueGroup(cl.relay)
		}
		if s.hlog != nil {
			if err := s.hlog.open(n); err != nil {
				_ = brk.Close()
				if cl.emb != nil {
					cl.emb.Shutdown()
				}
				return err
			}
		}
		s.log.Info("cluster: node joining on NATS", "node", n.Self().Name, "id", n.Self().ID,
			"servers", opts.URLs, "subject_prefix", cfg.NatsSubjectPrefix, "embedded", cfg.NatsEmbedded)
	}
	s.cl = cl
	return nil
}

// stopCluster leaves the cluster: the broker says goodbye and sends what
// it still holds, then the embedded NATS server stops. It runs once the
// pool has stopped, so every message published here has been forwarded.
func (s *Server) stopCluster() {
	cl := s.cl
	if cl == nil {
		return
	}
	cl.stopOnce.Do(func() {
		if cl.relay != nil {
			cl.relay.close()
		}
		if s.hlog != nil {
			s.hlog.close()
		}
		_ = cl.brk.Close()
		if cl.emb != nil {
			cl.emb.Shutdown()
		}
	})
}

// Broker returns the node's broker (the Local one for a node on its own);
// nil before Start.
func (s *Server) Broker() broker.Broker {
	if s.cl == nil {
		return nil
	}
	return s.cl.brk
}

// Forward implements fanout.Forwarder: a message published on this node
// goes to the other nodes. A message the broker cannot send is counted
// there (wsgate_broker_dropped_total) and logged once per outage.
func (cl *cluster) Forward(j *fanout.Job) {
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
	_ = cl.brk.Publish(m)
}

// receive is the broker's Handler: a message of another node, framed
// once and handed to the local pool for this node's members.
func (cl *cluster) receive(m broker.Message) {
	var j fanout.Job
	switch m.Kind {
	case broker.Room:
		if !hub.ValidName(m.Target) {
			return
		}
		j.Room, j.History = m.Target, cl.s.keeps(m.Target)
		if j.History && m.Offset != 0 && cl.s.hlog != nil {
			// From the history stream: its position, and, for a message
			// published here, its publisher.
			j.Offset, j.Prev = m.Offset, m.Prev
			if m.Origin == cl.nats.Self().ID {
				j.From = cl.s.hlog.store.Publisher(m.Seq)
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
	pool := cl.s.pool
	if pool.TrySubmit(j) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteWait)
	err := pool.Submit(ctx, j)
	cancel()
	if err == nil {
		return
	}
	j.Buf.Release()
	if errors.Is(err, fanout.ErrStopped) {
		return // shutting down
	}
	cl.refused.Add(1)
	if ok, suppressed := cl.refuseLog.allow(); ok {
		cl.s.log.Warn("cluster: a message of another node was dropped: the local fan-out queue stayed full",
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
func (cl *cluster) roomInterest(room string, first bool) { cl.interest(broker.Room, room, first) }
func (cl *cluster) userInterest(user string, first bool) { cl.interest(broker.User, user, first) }

func (cl *cluster) interest(kind broker.Kind, name string, first bool) {
	if !first {
		cl.brk.Unsubscribe(kind, name)
		return
	}
	if err := cl.brk.Subscribe(kind, name); err != nil {
		if ok, suppressed := cl.subscribeL.allow(); ok {
			cl.s.log.Warn("cluster: other nodes cannot reach this "+kind.String(), "name", name, "err", err, "suppressed_since_last", suppressed)
		}
	}
}

// stats is this node's answer to Gather: its counters.
func (cl *cluster) stats() json.RawMessage {
	b, _ := json.Marshal(cl.s.Stats())
	return b
}

// roomsView is one node's answer to the "rooms" view.
type roomsView struct {
	Rooms     map[string]int `json:"rooms"`
	Truncated bool           `json:"truncated,omitempty"`
}

// view answers the cluster views other than the stats.
func (cl *cluster) view(name string) json.RawMessage {
	if name != "rooms" {
		return nil
	}
	v := roomsView{Rooms: map[string]int{}}
	size := 0
	cl.s.hub.Rooms(func(room string, members int) bool {
		if size += len(room) + 16; size > roomsViewBudget {
			v.Truncated = true
			return false
		}
		v.Rooms[room] = members
		return true
	})
	b, _ := json.Marshal(v)
	return b
}

// metricsState is what the wsgate_broker_* series show.
func (cl *cluster) metricsState() metrics.BrokerState {
	st := cl.brk.State()
	return metrics.BrokerState{
		Connected: st.Connected, Published: st.Published, Received: st.Received,
		DroppedPublish: st.PublishDropped + cl.relayDropped(), DroppedReceive: st.ReceiveDropped + cl.refused.Load(),
		DroppedStale: st.Stale, Subscriptions: st.Subscriptions, Nodes: st.Nodes,
	}
}

func (cl *cluster) relayDropped() uint64 {
	if cl.relay == nil {
		return 0
	}
	return cl.relay.dropped.Load()
}

// degraded says why the node reaches only its own members, or "".
func (cl *cluster) degraded() string {
	if cl.nats != nil && cl.nats.State().Connected && cl.s.hlog != nil && cl.s.hlog.Epoch() == "" {
		return "history stream unavailable (JetStream): rooms with history deliver nothing until it is there"
	}
	if cl.nats == nil || cl.nats.State().Connected {
		return ""
	}
	return fmt.Sprintf("not connected to NATS (%d servers configured): delivering to this node's members only, reconnecting in the background", len(cl.s.cfg.NATS)+btoi(cl.emb != nil))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
