package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/wsgate/wsgate/internal/broker/wire"
)

// History keeps the messages of rooms with history in one JetStream
// stream, shared by every node of the cluster.
//
// The stream takes the subjects <prefix>.h.> (a room's messages go to
// <prefix>.h.<room>, escaped as room subjects are), keeps at most
// HistoryOptions.PerRoom messages of each room and republishes every
// message it stores to the room's ordinary subject, <prefix>.r.<room>,
// with its sequence number and that of the room's message before it in
// the headers. Nodes receive a room's history messages on the room
// subscription they hold anyway (Handler gets them with Message.Offset,
// Prev and Time set), the publisher's node included, in the stream's
// order. An offset is the stream's sequence number: it increases within a
// room and skips the numbers of other rooms' messages.
//
// The epoch is the stream's identity, its creation time: a stream that is
// lost (deleted, or every replica gone) and made again has another one.
type History struct {
	b       *NATS
	o       HistoryOptions
	js      jetstream.JetStream
	name    string // the stream's name
	hprefix string // "<prefix>.h."
	ackSub  *nats.Subscription
	ackTo   string

	epoch                   atomic.Pointer[string]
	appended, acked, failed atomic.Uint64

	done chan struct{}
	wg   sync.WaitGroup
}

// HistoryOptions configure the history stream. Nodes of one cluster must
// agree on them (the last node to start sets the stream's limits).
type HistoryOptions struct {
	// PerRoom is the most messages kept per room (the largest count of
	// the history rules); 0: no limit.
	PerRoom int64
	// MaxAge drops messages older than it (the longest age of the rules,
	// or 0 when a rule has none).
	MaxAge time.Duration
	// MaxBytes bounds the stream; past it the oldest messages go. 0: no
	// limit.
	MaxBytes int64
	// Replicas is the number of NATS servers that hold the stream.
	// Default 1.
	Replicas int
	// Memory keeps the stream in the servers' memory instead of files.
	Memory bool
	// Epoch is called when the stream's identity is first learnt and when
	// it changes (the stream was lost and made again). It runs on the
	// History's goroutine.
	Epoch func(epoch string)
	// Check is how often the stream's identity is checked. Default 5s.
	Check time.Duration
}

// ErrNoStream: the history stream is not there (yet), or JetStream does
// not answer.
var ErrNoStream = errors.New("broker: history stream unavailable")

// History returns the broker's history stream, made (or its limits
// updated) in the background: until it is there, appends fail and Epoch
// is "". Call it once.
func (b *NATS) History(o HistoryOptions) (*History, error) {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Check <= 0 {
		o.Check = 5 * time.Second
	}
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, fmt.Errorf("broker: JetStream: %w", err)
	}
	h := &History{b: b, o: o, js: js, name: StreamName(b.prefix), hprefix: b.prefix + ".h.", done: make(chan struct{})}
	empty := ""
	h.epoch.Store(&empty)
	h.ackTo = b.nc.NewRespInbox()
	if h.ackSub, err = b.nc.Subscribe(h.ackTo, h.ack); err != nil {
		return nil, fmt.Errorf("broker: history acknowledgements: %w", err)
	}
	h.wg.Add(1)
	go h.run()
	return h, nil
}

// StreamName is the name of the history stream of the subject prefix.
func StreamName(prefix string) string {
	b := []byte(prefix)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b) + "-history"
}

// config is the stream's configuration.
func (h *History) config() jetstream.StreamConfig {
	p := h.b.prefix
	cfg := jetstream.StreamConfig{
		Name:              h.name,
		Description:       "wsgate room history",
		Subjects:          []string{p + ".h.>"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: h.o.PerRoom,
		MaxAge:            h.o.MaxAge,
		MaxBytes:          h.o.MaxBytes,
		MaxMsgs:           -1,
		Replicas:          h.o.Replicas,
		Storage:           jetstream.FileStorage,
		AllowDirect:       true,
		RePublish:         &jetstream.RePublish{Source: p + ".h.>", Destination: p + ".r.>"},
	}
	if cfg.MaxMsgsPerSubject == 0 {
		cfg.MaxMsgsPerSubject = -1
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = -1
	}
	if h.o.Memory {
		cfg.Storage = jetstream.MemoryStorage
	}
	return cfg
}

// run makes the stream and then watches its identity until Close.
func (h *History) run() {
	defer h.wg.Done()
	made := false
	wait, fails := time.Duration(0), 0
	for {
		select {
		case <-h.done:
			return
		case <-time.After(wait):
		}
		// JetStream does not answer at all until its cluster has a
		// leader: ask often, and wait for each answer briefly.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var info *jetstream.StreamInfo
		var err error
		if !made {
			var s jetstream.Stream
			if s, err = h.js.CreateOrUpdateStream(ctx, h.config()); err == nil {
				info = s.CachedInfo()
				made = true
			}
		} else if info, err = h.info(ctx, ""); errors.Is(err, jetstream.ErrStreamNotFound) {
			made = false // lost: make it again (under a new epoch)
		}
		cancel()
		wait = h.o.Check
		if err != nil {
			if fails++; fails%10 == 3 && !errors.Is(err, jetstream.ErrStreamNotFound) {
				h.b.log.Warn("history stream unavailable", "stream", h.name, "err", err)
			}
			wait = 500 * time.Millisecond
			continue
		}
		fails = 0
		e := "j" + strconv.FormatInt(info.Created.UnixNano(), 36)
		if old := h.epoch.Swap(&e); *old != e {
			if *old != "" {
				h.b.log.Warn("history stream made again: its rooms start a new epoch", "stream", h.name, "epoch", e, "was", *old)
			} else {
				h.b.log.Info("history stream ready", "stream", h.name, "epoch", e, "replicas", info.Config.Replicas)
			}
			if h.o.Epoch != nil {
				h.o.Epoch(e)
			}
		}
	}
}

// Epoch returns the stream's identity; "" until it is known.
func (h *History) Epoch() string { return *h.epoch.Load() }

// subject returns room's subject in the stream.
func (h *History) subject(room string) string {
	return string(wire.AppendEscaped([]byte(h.hprefix), room))
}

// Append sends a message of room to the stream without waiting for it:
// it comes back to every node that follows the room with its offset.
// ref travels as the message's Seq (Message.Seq), so the node that
// published it knows its own. The stream's acknowledgement is counted
// (HistoryState) when it comes.
func (h *History) Append(room string, ref uint64, m Message) error {
	if h.b.closed.Load() {
		return ErrClosed
	}
	m.Kind, m.Target, m.Origin, m.Seq = Room, room, h.b.self.ID, ref
	bp := pubBufs.Get().(*[]byte)
	buf := wire.AppendEscaped(append((*bp)[:0], h.hprefix...), room)
	n := len(buf)
	var err error
	if n > wire.MaxSubjectLen {
		err = ErrNameTooLong
	} else {
		buf = wire.AppendMessage(buf, &m)
		err = h.b.nc.PublishRequest(unsafe.String(&buf[0], n), h.ackTo, buf[n:])
	}
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		pubBufs.Put(bp)
	}
	if err != nil {
		h.failed.Add(1)
		return err
	}
	h.appended.Add(1)
	return nil
}

// ack counts one acknowledgement of the stream.
func (h *History) ack(msg *nats.Msg) {
	if len(msg.Data) == 0 || bytes.Contains(msg.Data, []byte(`"error"`)) {
		h.failed.Add(1)
		return
	}
	h.acked.Add(1)
}

// AppendWait sends a message of room to the stream and waits until the
// stream has stored it (on as many servers as the stream's replicas
// require), returning its offset.
func (h *History) AppendWait(ctx context.Context, room string, m Message) (uint64, error) {
	m.Kind, m.Target, m.Origin = Room, room, h.b.self.ID
	subj := h.subject(room)
	if len(subj) > wire.MaxSubjectLen {
		return 0, ErrNameTooLong
	}
	resp, err := h.b.nc.RequestWithContext(ctx, subj, wire.AppendMessage(nil, &m))
	if err != nil {
		h.failed.Add(1)
		return 0, fmt.Errorf("%w: %w", ErrNoStream, err)
	}
	var ack struct {
		Seq   uint64 `json:"seq"`
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil || ack.Error != nil || ack.Seq == 0 {
		h.failed.Add(1)
		if ack.Error != nil {
			return 0, fmt.Errorf("%w: %s", ErrNoStream, ack.Error.Description)
		}
		return 0, fmt.Errorf("%w: bad acknowledgement %q", ErrNoStream, resp.Data)
	}
	h.appended.Add(1)
	h.acked.Add(1)
	return ack.Seq, nil
}

// Stored is one message read from the stream.
type Stored struct {
	Message
}

// Start reports where room stands in the stream, for a node that has
// just subscribed to the room: the offset of its latest message and that
// message, or (nil message) an offset below which the stream dropped none
// of the room's messages. The requests go to the stream's leader, after
// the node's subscription on the same connection: the leader knows of
// the subscription before it answers, so every message it stores after
// the answer reaches the node.
func (h *History) Start(ctx context.Context, room string) (uint64, *Stored, error) {
	subj := h.subject(room)
	for range 3 {
		m, err := h.lastOf(ctx, subj)
		if err == nil {
			return m.Offset, m, nil
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return 0, nil, err
		}
		info, err := h.info(ctx, subj)
		if err != nil {
			return 0, nil, err
		}
		if info.State.Subjects[subj] == 0 {
			if info.State.FirstSeq == 0 {
				return 0, nil, nil
			}
			return info.State.FirstSeq - 1, nil, nil
		}
		// A message came meanwhile: ask again.
	}
	return 0, nil, fmt.Errorf("%w: the room's messages kept moving", ErrNoStream)
}

// lastOf reads the latest message on subj from the stream's leader.
func (h *History) lastOf(ctx context.Context, subj string) (*Stored, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": subj})
	resp, err := h.b.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+h.name, req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoStream, err)
	}
	var r struct {
		Message *struct {
			Seq  uint64    `json:"seq"`
			Data []byte    `json:"data"`
			Time time.Time `json:"time"`
		} `json:"message"`
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoStream, err)
	}
	switch {
	case r.Error != nil && r.Error.Code == 404 && r.Error.ErrCode == 10037:
		return nil, jetstream.ErrMsgNotFound
	case r.Error != nil:
		return nil, fmt.Errorf("%w: %s", ErrNoStream, r.Error.Description)
	case r.Message == nil:
		return nil, fmt.Errorf("%w: empty answer", ErrNoStream)
	}
	m, err := wire.Decode(r.Message.Data)
	if err != nil {
		return nil, err
	}
	m.Offset, m.Time = r.Message.Seq, r.Message.Time.UnixNano()
	return &Stored{m}, nil
}

// info asks the stream's leader for its state, with the message count of
// subj when it is not "".
func (h *History) info(ctx context.Context, subj string) (*jetstream.StreamInfo, error) {
	s, err := h.js.Stream(ctx, h.name)
	if err != nil {
		return nil, err
	}
	var opts []jetstream.StreamInfoOpt
	if subj != "" {
		opts = append(opts, jetstream.WithSubjectFilter(subj))
	}
	return s.Info(ctx, opts...)
}

// Bounds reports the stream's first and last offsets, how many messages
// of room it keeps, and its per-room limit (0: none).
func (h *History) Bounds(ctx context.Context, room string) (first, last, count, perRoom uint64, err error) {
	subj := h.subject(room)
	info, err := h.info(ctx, subj)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if info.Config.MaxMsgsPerSubject > 0 {
		perRoom = uint64(info.Config.MaxMsgsPerSubject)
	}
	return info.State.FirstSeq, info.State.LastSeq, info.State.Subjects[subj], perRoom, nil
}

// Fetch reads room's messages at offsets from from on (from itself
// included when it is one of room's), oldest first: at most limit of them
// and about maxBytes. Any server holding the stream may answer.
func (h *History) Fetch(ctx context.Context, room string, from uint64, limit, maxBytes int) ([]Stored, error) {
	req, _ := json.Marshal(struct {
		Seq      uint64 `json:"seq"`
		Next     string `json:"next_by_subj"`
		Batch    int    `json:"batch"`
		MaxBytes int    `json:"max_bytes,omitempty"`
	}{max(from, 1), h.subject(room), limit, maxBytes})
	inbox := h.b.nc.NewRespInbox()
	sub, err := h.b.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoStream, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := h.b.nc.PublishRequest("$JS.API.DIRECT.GET."+h.name, inbox, req); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoStream, err)
	}
	var out []Stored
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoStream, err)
		}
		switch status := msg.Header.Get("Status"); status {
		case "":
		case "204", "404": // end of the batch; nothing (more) to read
			return out, nil
		default:
			return nil, fmt.Errorf("%w: direct get: %s %s", ErrNoStream, status, msg.Header.Get("Description"))
		}
		m, err := wire.Decode(msg.Data)
		if err != nil || !stamped(&m, msg.Header) {
			continue // not a message of ours: skip it
		}
		m.Prev = 0 // a batch's Last-Sequence is the batch's, not the room's
		out = append(out, Stored{m})
	}
}

// stamped sets m's Offset, Prev and Time from the stream's headers of a
// republished message or a direct get answer; false when they are
// missing.
func stamped(m *Message, h nats.Header) bool {
	seq, err := strconv.ParseUint(h.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil || seq == 0 {
		return false
	}
	m.Offset = seq
	if p := h.Get(jetstream.LastSequenceHeader); p != "" {
		m.Prev, _ = strconv.ParseUint(p, 10, 64)
	}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(jetstream.TimeStampHeaer)); err == nil {
		m.Time = t.UnixNano()
	}
	return true
}

// HistoryState is what the history stream's counters show.
type HistoryState struct {
	// Appended counts messages sent to the stream; Acked those it
	// confirmed; Failed those it refused or that could not be sent.
	Appended, Acked, Failed uint64
}

// State returns the counters.
func (h *History) State() HistoryState {
	return HistoryState{Appended: h.appended.Load(), Acked: h.acked.Load(), Failed: h.failed.Load()}
}

// Close stops watching the stream. Call it before the broker's Close.
func (h *History) Close() {
	select {
	case <-h.done:
		return
	default:
	}
	close(h.done)
	h.wg.Wait()
	_ = h.ackSub.Unsubscribe()
}
