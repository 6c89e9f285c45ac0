package history

import (
	"context"
	"errors"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
)

// Log is a replicated, ordered log of the messages of rooms with history,
// shared by every node of a cluster (JetStream, through the broker): it
// gives each message its offset, so that offsets are the same on every
// node and a client may resume on any of them.
//
// A room's offsets are the log's positions: they increase within the
// room but skip the numbers that went to other rooms. The log tells every
// node that follows a room each message it takes, in the log's order, as
// a Remote job with Offset (the message's position) and Prev (the
// position of the room's message before it), so a node sees a message it
// missed at the next one.
//
// Append runs on the room's worker and must not wait on the network for
// long; the other methods are called off the workers and may.
type Log interface {
	// Epoch names the log: it changes when the log is lost and made
	// again, and is "" while the log is unreachable.
	Epoch() string
	// Append hands a message published on this node to the log. ref comes
	// back with the message (Replicated.Publisher) so the publisher can
	// be told apart from the other members.
	Append(room string, ref uint64, j *fanout.Job) error
	// Start reports where room stands in the log for a node that has just
	// begun to follow it: every message of the room that the log takes
	// after the answer reaches the node as it follows.
	Start(ctx context.Context, room string) (Start, error)
	// Fetch reads room's messages at offsets from from on (from itself
	// included when it is one of the room's), oldest first, at most limit
	// of them and about maxBytes.
	Fetch(ctx context.Context, room string, from uint64, limit, maxBytes int) ([]Entry, error)
	// Bounds reports the log's bounds and what it keeps of room.
	Bounds(ctx context.Context, room string) (Bounds, error)
	// Hold makes the node follow room (as if it had one more member there)
	// until Release: a join waits for the room's history on this node.
	Hold(room string)
	// Release ends one Hold.
	Release(room string)
}

// Start is where a room stood in the log when a node began to follow it.
type Start struct {
	// Last is the offset of the room's latest message in the log, which
	// Message holds; when the log keeps no message of the room (Message
	// nil), Last is an offset below which no message of the room exists
	// that the log has dropped.
	Last    uint64
	Message *Entry
}

// Bounds are a log's bounds and what it keeps of one room.
type Bounds struct {
	// First is the oldest offset the log keeps (of any room), Last its
	// latest.
	First, Last uint64
	// Count is the number of the room's messages kept; PerRoom the most
	// the log keeps of one room (0: no such limit).
	Count, PerRoom uint64
}

// Entry is one message read from the log.
type Entry struct {
	Offset  uint64
	Time    int64 // unix nanoseconds, when the log took it
	Op      frame.Opcode
	JSON    bool
	From    string // the publisher's user id
	Payload []byte
}

// ErrNoLog reports a log that cannot be reached or used.
var ErrNoLog = errors.New("history: log unavailable")
