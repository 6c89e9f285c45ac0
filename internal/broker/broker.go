package broker

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/wsgate/wsgate/internal/broker/wire"
)

// Message is what travels between nodes: kind, flags, origin node,
// publisher, target name and payload (see package wire for its encoding).
type Message = wire.Message

// Kind says what a message is addressed to: Room, User or Queue.
type Kind = wire.Kind

// Flags describe a message's payload: Binary, JSON.
type Flags = wire.Flags

// Kinds and flags, from package wire.
const (
	Room   = wire.Room
	User   = wire.User
	Queue  = wire.Queue
	Binary = wire.Binary
	JSON   = wire.JSON
)

// Broker carries messages between wsgate nodes. The caller serves its own
// local members first and then hands the message to the broker, which
// reaches members on other nodes; local members never wait on the
// network. Local is the broker of a single node, NATS the one of a
// cluster. Every method is safe for concurrent use.
type Broker interface {
	// Publish sends m to the other nodes with interest in m.Target: the
	// nodes that Subscribe to the room or user (Kind Room or User), or one
	// queue subscriber of the destination (Kind Queue). The broker sets
	// m.Origin. It does not wait for a disconnected network: while
	// disconnected, messages wait in a bounded buffer and those past its
	// bound are dropped, counted in State and reported as an error. On a
	// live but congested connection it may wait for the socket (bounded
	// by Options.WriteTimeout), so call it from a worker, not from an
	// event loop.
	Publish(m Message) error
	// Subscribe counts one more local member of the room or user name
	// (kind Room or User). The node starts receiving the name's messages
	// from other nodes when its count goes from 0 to 1.
	Subscribe(kind Kind, name string) error
	// Unsubscribe counts one local member fewer. When the count reaches 0
	// the node stops receiving the name's messages after a grace period,
	// unless a member comes back first. Unbalanced calls are ignored.
	Unsubscribe(kind Kind, name string)
	// QueueSubscribe makes this node a competing consumer of the queue
	// destination name: each message published to it with Kind Queue
	// reaches exactly one subscriber in the cluster, which h receives.
	QueueSubscribe(name string, h Handler) (Subscription, error)
	// Gather asks every node for its stats (Options.Stats) and returns
	// the answers, this node's first, and the nodes known to be up that
	// did not answer within timeout.
	Gather(ctx context.Context, timeout time.Duration) (Cluster, error)
	// GatherView is Gather for the named view: each node answers with
	// what its Options.View returns for name (the Stats field of each
	// NodeStats holds it).
	GatherView(ctx context.Context, name string, timeout time.Duration) (Cluster, error)
	// Presence asks every node how many connections user has there
	// (Options.UserConns) and adds the answers up.
	Presence(ctx context.Context, user string, timeout time.Duration) (Presence, error)
	// State reports the connection and its counters.
	State() State
	// Close leaves the cluster: it stops deliveries, sends what is still
	// buffered if it can, and closes the connection. Later calls fail.
	Close() error
}

// Handler receives a message from another node. It runs on one of the
// broker's delivery goroutines: messages of one room, user or queue reach
// it one at a time and in order, messages of different ones concurrently.
// It must not block for long: while it runs, later messages of the same
// name wait, and past the delivery queue's bound they are dropped.
//
// m's strings and payload point into a buffer that the broker never reuses
// or changes, so the handler may keep them after it returns.
type Handler func(m Message)

// Subscription is a queue subscription made by QueueSubscribe.
type Subscription interface {
	// Unsubscribe stops deliveries to this subscriber. Messages already
	// taken off the network may still reach its handler.
	Unsubscribe() error
}

// Node names one wsgate node.
type Node struct {
	// ID is unique per process; it is the Origin of the node's messages.
	ID string `json:"id"`
	// Name is the human name (Options.NodeName), not necessarily unique.
	Name string `json:"name"`
}

// NodeStats is one node's answer to Gather.
type NodeStats struct {
	Node
	// Stats is the JSON value the node's Options.Stats returned, or null.
	Stats json.RawMessage `json:"stats"`
}

// Cluster is what Gather collected.
type Cluster struct {
	// Nodes holds the answers, this node first.
	Nodes []NodeStats `json:"nodes"`
	// Missing names the nodes that announced themselves recently but did
	// not answer in time: down, partitioned, or too busy.
	Missing []Node `json:"missing"`
}

// NodeCount is a number reported by one node.
type NodeCount struct {
	Node
	Count int `json:"count"`
}

// Presence is what Presence collected about one user.
type Presence struct {
	// User is the user asked about.
	User string `json:"user"`
	// Conns is the number of the user's connections over all nodes that
	// answered.
	Conns int `json:"conns"`
	// Nodes lists the nodes where the user has at least one connection.
	Nodes []NodeCount `json:"nodes"`
	// Missing names the nodes that did not answer in time.
	Missing []Node `json:"missing"`
}

// State is a broker's connection state and counters, for metrics and the
// admin API. Counters only grow.
type State struct {
	// Mode is "local" or "nats".
	Mode string `json:"mode"`
	// Connected is true while the NATS connection is up (always false for
	// Local).
	Connected bool `json:"connected"`
	// Server is the URL of the NATS server connected to, if any.
	Server string `json:"server,omitempty"`
	// Published counts messages handed to the network.
	Published uint64 `json:"published"`
	// Received counts messages from other nodes handed to the Handler.
	Received uint64 `json:"received"`
	// PublishDropped counts messages that could not be sent: the
	// reconnect buffer was full, the connection was closed, or the
	// message exceeded the server's payload limit.
	PublishDropped uint64 `json:"publish_dropped"`
	// ReceiveDropped counts messages from other nodes dropped because the
	// delivery queue was full (the Handler was too slow).
	ReceiveDropped uint64 `json:"receive_dropped"`
	// Malformed counts received messages that failed to decode.
	Malformed uint64 `json:"malformed"`
	// Stale counts messages from other nodes dropped because a later
	// message of the same node had already been delivered: they took a
	// slower path during a failover, and delivering them would break
	// order.
	Stale uint64 `json:"stale"`
	// Subscriptions is the number of rooms and users the node currently
	// receives from the network, including those in their grace period.
	Subscriptions int `json:"subscriptions"`
	// Nodes is the number of other nodes that announced themselves
	// recently.
	Nodes int `json:"nodes"`
}

// Dropped is the total of PublishDropped, ReceiveDropped and Stale: the
// value of a wsgate_broker_dropped_total counter.
func (s State) Dropped() uint64 { return s.PublishDropped + s.ReceiveDropped + s.Stale }

// Errors returned by the broker.
var (
	// ErrClosed: the broker was closed.
	ErrClosed = errors.New("broker: closed")
	// ErrKind: the kind does not fit the call (Subscribe takes Room or
	// User; Publish takes Room, User or Queue).
	ErrKind = errors.New("broker: wrong kind")
	// ErrNameTooLong: a room, user or queue name whose subject would be
	// longer than MaxSubjectLen.
	ErrNameTooLong = errors.New("broker: name too long")
	// ErrNoConsumer: Local has no queue subscriber for the destination.
	ErrNoConsumer = errors.New("broker: no queue consumer")
	// ErrDropped wraps the reason a publish was dropped.
	ErrDropped = errors.New("broker: message dropped")
)

// New returns a NATS broker when opts names NATS servers and a Local
// broker otherwise.
func New(opts Options) (Broker, error) {
	if len(opts.URLs) == 0 {
		return NewLocal(opts), nil
	}
	return NewNATS(opts)
}
