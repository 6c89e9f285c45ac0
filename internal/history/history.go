// Package history keeps the recent messages of rooms so that a client
// that lost its connection gets exactly what it missed, once and in order,
// and then the live stream with no gap and no duplicate.
//
// Every message published to a room with history gets an offset, strictly
// increasing within the room, and carries the room's epoch, which names
// the history it belongs to: when history is lost (the process restarted,
// or an idle room was forgotten) the room starts again under a new epoch,
// so a client holding an old one knows it cannot resume.
//
// The Store is the seam. It plugs into the fan-out as its Recorder: the
// worker that owns a room (fanout.Pool sends all of a room's jobs to one
// worker, in order) records each of the room's messages, which assigns the
// offset, before any member gets it. A join that resumes is a Control on
// the same worker: it reads what the member missed from the store,
// delivers it, and adds the member to the room in one step of the worker,
// so no message published meanwhile can fall between the replay and the
// live stream or be delivered twice.
//
// Memory is the in-process Store: a ring per room bounded by count, age
// and bytes, and a global memory cap, each room's ring written and read
// only by the room's worker, so nothing is locked. Replicated is the
// Store of a cluster, over a Log that all nodes share (JetStream): the
// log gives offsets, every node delivers what the log passes on, and a
// resume may wait (Deferrer) while the node reads what it lacks from the
// log; Replay and Read still run on the room's worker and never block it.
package history

import (
	"time"

	"github.com/wsgate/wsgate/internal/fanout"
)

// Store keeps the history of the rooms its rules select. Keeps and Stats
// may be called from any goroutine; Record, Replay, Read and Sweep run on
// the worker that owns the room (worker is the fan-out worker's index,
// fanout.Delivery.Worker), never concurrently for one worker.
type Store interface {
	fanout.Recorder
	// Keeps reports whether room keeps history (its name matches a rule).
	// It does not allocate; publishers cache its answer per room name and
	// mark their jobs fanout.Job.History.
	Keeps(room string) bool
	// Replay reports room's position and whether a client at since can
	// resume: the epoch is the room's and every message after since.Offset
	// is still kept (since "last": the latest message is). When it can,
	// and the messages to deliver total at most maxBytes, Replay calls fn
	// with each of them, oldest first, as a job for
	// fanout.Delivery.DeliverTo (fn must not keep it), and reports true;
	// otherwise it calls fn for none of them and reports false.
	Replay(worker int, room string, since Since, maxBytes int, fn func(fanout.Job)) (pos Position, recovered bool)
	// Read returns up to limit of room's messages after offset after,
	// copied, for the admin API.
	Read(worker int, room string, after uint64, limit int) Page
	// Sweep drops the worker's messages past their age and forgets idle
	// rooms with nothing left; it is called about once a second.
	Sweep(worker int, now time.Time)
	// Rooms calls fn with the position of each room of the worker that
	// has history state.
	Rooms(worker int, fn func(room string, pos Position))
	// Stats returns counters for metrics.
	Stats() Stats
}

// Position is where a room's history stands: the offset of its latest
// message (0 before the first) and its epoch.
type Position struct {
	Offset uint64
	Epoch  string
}

// SinceKind says where a join asks its replay to start.
type SinceKind uint8

// Kinds of Since.
const (
	// SinceNone: no replay, only the room's position.
	SinceNone SinceKind = iota
	// SinceOffset: every message after Offset, in Epoch.
	SinceOffset
	// SinceLast: the room's latest message (a last-value cache for rooms
	// that hold a state).
	SinceLast
)

// Since is where a resuming client stands.
type Since struct {
	Kind   SinceKind
	Offset uint64 // the last offset the client has (it wants the ones after it)
	Epoch  string
}

// Page is what Read returns.
type Page struct {
	// Epoch names the room's history ("" when the room has none yet).
	Epoch string
	// First is the offset of the oldest message kept (0 when none is);
	// Last the offset of the latest message published.
	First, Last uint64
	// Complete reports that no message after the requested offset was
	// dropped: Messages starts right after it.
	Complete bool
	// Messages are the messages read, oldest first.
	Messages []Message
}

// Message is one stored message, as Read copies it out.
type Message struct {
	Offset  uint64
	Time    time.Time
	Binary  bool
	Payload []byte
	// JSON reports that Payload is known to be one JSON value.
	JSON bool
	// From is the publisher's user id ("" when anonymous or the admin API).
	From string
}

// Stats are a store's counters.
type Stats struct {
	// Rooms, Messages and Bytes are what is kept now: rooms with history
	// state, messages, and the memory they hold (payload buffers and
	// bookkeeping).
	Rooms, Messages, Bytes int64
	// Evicted counts messages dropped before their count or age limit to
	// keep under the memory cap; Expired counts those dropped by age.
	Evicted, Expired uint64
	// Recovered and Missed count the joins that asked to resume: those
	// that got everything after their offset, and those that could not
	// (offset too old, another epoch, over the replay budget).
	Recovered, Missed uint64
	// The counters of a Replicated store (zero for Memory). Appended
	// counts messages published on this node handed to the log,
	// AppendFailed those the log could not take (dropped: no member got
	// them). Fills counts catch-ups: messages of the log this node had not
	// received, fetched before it went on. Gaps counts messages members of
	// this node missed because the log no longer had them when this node
	// noticed (a long outage). Fetches counts reads of the log for
	// resumes from before what this node holds.
	Appended, AppendFailed, Fills, Gaps, Fetches uint64
}

// Deferrer is implemented by stores whose rooms may not be ready to
// replay on this node at once (a Replicated store that has yet to learn
// where a room stands in the log, or to read what a client missed from
// it). A resuming join asks Defer on the room's worker before it joins:
// true means the store keeps job (the join's control job, with its
// reference to job.Buf) and runs it with fanout.Delivery.Run on the
// room's worker once it can answer, when Defer, asked again, reports
// false. The join then proceeds as with any store.
type Deferrer interface {
	Defer(worker int, room string, since Since, job fanout.Job) bool
}
