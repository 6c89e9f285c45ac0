package cluster

import (
	"context"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
)

// streamLog is the history.Log of a cluster: the broker's JetStream
// stream. It exists from New (the store needs it); the stream is opened
// in Start, and until it is there appends fail and the epoch is "".
type streamLog struct {
	n     *Node
	store *history.Replicated
	h     *broker.History // nil until Start
}

// newReplicated builds the store of a cluster's history.
func (n *Node) newReplicated(rules []history.Rule) (*history.Replicated, error) {
	lg := &streamLog{n: n}
	st, err := history.NewReplicated(history.ReplicatedConfig{
		Config: history.Config{Rules: rules, MaxBytes: n.cfg.HistoryMemory, Workers: n.cfg.Workers},
	}, lg)
	if err != nil {
		return nil, err
	}
	lg.store = st
	n.stream = lg
	return st, nil
}

// streamOptions are the history stream's limits: the loosest of the
// rules (each room's own rule is applied by the nodes).
func streamOptions(cfg *config.Config) broker.HistoryOptions {
	o := broker.HistoryOptions{MaxBytes: cfg.HistoryStreamBytes, Replicas: cfg.HistoryReplicas}
	aged := true
	for _, r := range cfg.History {
		o.PerRoom = max(o.PerRoom, int64(r.Count))
		o.MaxAge = max(o.MaxAge, r.MaxAge)
		aged = aged && r.MaxAge > 0
	}
	if !aged {
		o.MaxAge = 0
	}
	return o
}

// wire plugs the log into the broker's options: the rooms the node
// follows, and when messages may have been lost on the way to it.
func (lg *streamLog) wire(opts *broker.Options) {
	n := lg.n
	opts.RoomFollowed = func(room string) {
		if n.Keeps(room) {
			lg.store.Follow(room)
		}
	}
	opts.RoomUnfollowed = func(room string) {
		if n.Keeps(room) {
			lg.store.Unfollow(room)
		}
	}
	opts.Missed = lg.store.Recheck
}

// open opens the stream on the node's broker.
func (lg *streamLog) open(n *broker.NATS) error {
	o := streamOptions(lg.n.cfg)
	o.Epoch = lg.store.Reset
	h, err := n.History(o)
	if err != nil {
		return err
	}
	lg.h = h
	return nil
}

// Epoch implements history.Log.
func (lg *streamLog) Epoch() string {
	if lg.h == nil {
		return ""
	}
	return lg.h.Epoch()
}

// Append implements history.Log.
func (lg *streamLog) Append(room string, ref uint64, j *fanout.Job) error {
	if lg.h == nil {
		return history.ErrNoLog
	}
	return lg.h.Append(room, ref, jobMessage(j))
}

// jobMessage is the broker message of a job's payload.
func jobMessage(j *fanout.Job) broker.Message {
	m := broker.Message{Publisher: j.FromUser, Payload: j.Payload()}
	if j.Op() == frame.OpBinary {
		m.Flags |= broker.Binary
	}
	if j.JSON {
		m.Flags |= broker.JSON
	}
	return m
}

// Start implements history.Log.
func (lg *streamLog) Start(ctx context.Context, room string) (history.Start, error) {
	if lg.h == nil {
		return history.Start{}, history.ErrNoLog
	}
	last, m, err := lg.h.Start(ctx, room)
	if err != nil {
		return history.Start{}, err
	}
	st := history.Start{Last: last}
	if m != nil {
		e := storedEntry(m)
		st.Message = &e
	}
	return st, nil
}

// Fetch implements history.Log.
func (lg *streamLog) Fetch(ctx context.Context, room string, from uint64, limit, maxBytes int) ([]history.Entry, error) {
	if lg.h == nil {
		return nil, history.ErrNoLog
	}
	ms, err := lg.h.Fetch(ctx, room, from, limit, maxBytes)
	if err != nil {
		return nil, err
	}
	es := make([]history.Entry, len(ms))
	for i := range ms {
		es[i] = storedEntry(&ms[i])
	}
	return es, nil
}

func storedEntry(m *broker.Stored) history.Entry {
	e := history.Entry{Offset: m.Offset, Time: m.Time, Op: frame.OpText, JSON: m.Flags&broker.JSON != 0, From: m.Publisher, Payload: m.Payload}
	if m.Flags&broker.Binary != 0 {
		e.Op = frame.OpBinary
	}
	return e
}

// Bounds implements history.Log.
func (lg *streamLog) Bounds(ctx context.Context, room string) (history.Bounds, error) {
	if lg.h == nil {
		return history.Bounds{}, history.ErrNoLog
	}
	first, last, count, per, err := lg.h.Bounds(ctx, room)
	return history.Bounds{First: first, Last: last, Count: count, PerRoom: per}, err
}

// Hold implements history.Log: one more local interest in the room.
func (lg *streamLog) Hold(room string) {
	if brk := lg.n.brk; brk != nil {
		_ = brk.Subscribe(broker.Room, room)
	}
}

// Release implements history.Log.
func (lg *streamLog) Release(room string) {
	if brk := lg.n.brk; brk != nil {
		brk.Unsubscribe(broker.Room, room)
	}
}

// close stops watching the stream.
func (lg *streamLog) close() {
	if lg.h != nil {
		lg.h.Close()
	}
}

// InStream reports whether room's history lives in the cluster's stream:
// a publish to it must go through Append.
func (n *Node) InStream(room string) bool { return n.stream != nil && n.Keeps(room) }

// Append is the admin API's publish to a room whose history is in the
// cluster's stream (InStream): it returns once the stream holds the
// message, so an acknowledged message survives the loss of this node.
func (n *Node) Append(ctx context.Context, room string, op frame.Opcode, payload []byte) error {
	lg := n.stream
	if lg == nil || lg.h == nil {
		return history.ErrNoLog
	}
	m := broker.Message{Payload: payload}
	if op == frame.OpBinary {
		m.Flags |= broker.Binary
	}
	_, err := lg.h.AppendWait(ctx, room, m)
	return err
}
