package broker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/internal/broker/wire"
)

// Local is the broker of a single node. The caller has already served
// every member, so room and user messages go no further; interest calls
// only check their arguments. Queue messages loop back to this node's
// queue subscribers, one subscriber per message in turn, on the
// publisher's goroutine before Publish returns.
type Local struct {
	opts   Options
	self   Node
	closed atomic.Bool

	mu     sync.Mutex
	queues map[string]*localQueue // guarded by mu
}

type localQueue struct {
	subs []*localQueueSub
	next int // index of the next subscriber to receive
}

type localQueueSub struct {
	l    *Local
	name string
	h    Handler
}

// NewLocal returns the broker of a node that runs alone.
func NewLocal(opts Options) *Local {
	opts = opts.withDefaults()
	return &Local{
		opts:   opts,
		self:   Node{ID: opts.NodeID, Name: opts.NodeName},
		queues: make(map[string]*localQueue),
	}
}

// Self names this node.
func (l *Local) Self() Node { return l.self }

// Publish implements Broker: queue messages reach one local queue
// subscriber (ErrNoConsumer without one); room and user messages are
// already delivered.
func (l *Local) Publish(m Message) error {
	if l.closed.Load() {
		return ErrClosed
	}
	switch m.Kind {
	case Room, User:
		return nil
	case Queue:
	default:
		return ErrKind
	}
	m.Origin = l.self.ID
	l.mu.Lock()
	q := l.queues[m.Target]
	if q == nil || len(q.subs) == 0 {
		l.mu.Unlock()
		return ErrNoConsumer
	}
	q.next %= len(q.subs)
	h := q.subs[q.next].h
	q.next++
	l.mu.Unlock()
	h(m)
	return nil
}

// Subscribe implements Broker; there is no other node to hear from.
func (l *Local) Subscribe(kind Kind, name string) error {
	if kind != Room && kind != User {
		return ErrKind
	}
	return checkName(l.opts.SubjectPrefix, kind, name)
}

// Unsubscribe implements Broker; it does nothing.
func (l *Local) Unsubscribe(Kind, string) {}

// QueueSubscribe implements Broker.
func (l *Local) QueueSubscribe(name string, h Handler) (Subscription, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if err := checkName(l.opts.SubjectPrefix, Queue, name); err != nil {
		return nil, err
	}
	s := &localQueueSub{l: l, name: name, h: h}
	l.mu.Lock()
	q := l.queues[name]
	if q == nil {
		q = &localQueue{}
		l.queues[name] = q
	}
	q.subs = append(q.subs, s)
	l.mu.Unlock()
	return s, nil
}

// Unsubscribe implements Subscription.
func (s *localQueueSub) Unsubscribe() error {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queues[s.name]
	if q == nil {
		return nil
	}
	for i, x := range q.subs {
		if x == s {
			q.subs = append(q.subs[:i], q.subs[i+1:]...)
			break
		}
	}
	if len(q.subs) == 0 {
		delete(l.queues, s.name)
	}
	return nil
}

// Gather implements Broker: the cluster is this node.
func (l *Local) Gather(context.Context, time.Duration) (Cluster, error) {
	return Cluster{Nodes: []NodeStats{{Node: l.self, Stats: l.opts.Stats()}}}, nil
}

// GatherView implements Broker: the cluster is this node.
func (l *Local) GatherView(_ context.Context, name string, _ time.Duration) (Cluster, error) {
	return Cluster{Nodes: []NodeStats{{Node: l.self, Stats: validJSON(l.opts.View(name))}}}, nil
}

// Presence implements Broker: the user's connections on this node.
func (l *Local) Presence(_ context.Context, user string, _ time.Duration) (Presence, error) {
	p := Presence{User: user, Conns: l.opts.UserConns(user)}
	if p.Conns > 0 {
		p.Nodes = []NodeCount{{Node: l.self, Count: p.Conns}}
	}
	return p, nil
}

// State implements Broker.
func (l *Local) State() State { return State{Mode: "local"} }

// Close implements Broker.
func (l *Local) Close() error {
	if l.closed.Swap(true) {
		return ErrClosed
	}
	return nil
}

// checkName refuses a kind that does not fit and a name too long for a
// subject.
func checkName(prefix string, kind Kind, name string) error {
	if !kind.Valid() {
		return ErrKind
	}
	if len(prefix)+3+3*len(name)+1 > wire.MaxSubjectLen && len(wire.AppendSubject(nil, prefix, kind, name)) > wire.MaxSubjectLen {
		return ErrNameTooLong
	}
	return nil
}
