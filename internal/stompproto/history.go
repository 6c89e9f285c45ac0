package stompproto

import (
	"strconv"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/poller"
)

// Rooms with history (see package history) over STOMP: a /topic/NAME of a
// room with history carries each message's position in two headers of
// its MESSAGE frames, and a SUBSCRIBE may resume from one.
//
//	>> SUBSCRIBE                      (first time: no since)
//	   destination:/topic/chat.a
//	   id:0
//	   receipt:s1
//	<< RECEIPT
//	   receipt-id:s1
//	   recovered:false
//	   offset:41
//	   epoch:k3x9-2
//	<< MESSAGE ... offset:42 epoch:k3x9-2 ...
//	   (connection lost; a new session)
//	>> SUBSCRIBE
//	   destination:/topic/chat.a
//	   id:0
//	   since-offset:42
//	   since-epoch:k3x9-2
//	   receipt:s2
//	<< MESSAGE ... offset:43 ...      (what was missed)
//	<< RECEIPT receipt-id:s2 recovered:true offset:44 epoch:k3x9-2
//	<< MESSAGE ... offset:45 ...      (live)
//
// The room's worker replays, adds the subscription to the room and
// queues the RECEIPT in one step, as for a /ws join: no gap and no
// duplicate between the replay and the live stream. since-offset names
// the last offset the client has; "since:last" asks for the room's
// latest message. recovered:false (too old, another epoch, more than the
// send queue allows) replays nothing: the client has missed messages.
// The RECEIPT is the only place the answer appears, so a client that
// resumes should ask for one.

// Headers of history.
const (
	headerOffset      = "offset"
	headerEpoch       = "epoch"
	headerSinceOffset = "since-offset"
	headerSinceEpoch  = "since-epoch"
	headerSince       = "since"
	headerRecovered   = "recovered"
)

// maxEpoch bounds the epoch a client sends back.
const maxEpoch = 64

// keeps reports whether room keeps history.
func (p *Protocol) keeps(room string) bool { return p.hist != nil && p.hist.Keeps(room) }

// appendPosition appends the offset and epoch headers of a history
// message (nothing for others).
func appendPosition(dst []byte, j *fanout.Job) []byte {
	if j.Epoch == "" {
		return dst
	}
	dst = append(dst, headerOffset+":"...)
	dst = strconv.AppendUint(dst, j.Offset, 10)
	dst = append(dst, "\n"+headerEpoch+":"...)
	dst = append(dst, j.Epoch...)
	return append(dst, '\n')
}

// positionLen is len(appendPosition(nil, j)).
func positionLen(j *fanout.Job) int {
	if j.Epoch == "" {
		return 0
	}
	return len(headerOffset+":\n"+headerEpoch+":\n") + 20 + len(j.Epoch)
}

// parseSince reads a SUBSCRIBE's resume headers; ok is false when they
// are malformed.
func parseSince(h *stomp.Headers) (since history.Since, ok bool) {
	if v := h.Get(headerSince); v != nil {
		return history.Since{Kind: history.SinceLast}, string(v) == "last"
	}
	off, epoch := h.Get(headerSinceOffset), h.Get(headerSinceEpoch)
	if off == nil && epoch == nil {
		return since, true
	}
	n, err := strconv.ParseUint(string(off), 10, 63)
	if err != nil || len(epoch) == 0 || len(epoch) > maxEpoch || !frame.ValidUTF8(epoch) {
		return since, false
	}
	return history.Since{Kind: history.SinceOffset, Offset: n, Epoch: string(epoch)}, true
}

// resumeMembership joins a topic subscription to a room with history on
// the room's worker: replay, membership and RECEIPT in one step.
type resumeMembership struct {
	sb    *sub
	since history.Since
	rid   []byte // the SUBSCRIBE's receipt header; nil when none
}

// Apply implements fanout.Control.
func (m *resumeMembership) Apply(d *fanout.Delivery) bool {
	sb := m.sb
	s := sb.sess
	p := s.p
	j := d.Job()
	if df, ok := p.hist.(history.Deferrer); ok && df.Defer(d.Worker(), j.Room, m.since, *j) {
		return false // the store runs this join again once it can answer
	}
	mu := s.lock()
	mu.Lock()
	if s.closed || sb.dead.Load() {
		mu.Unlock()
		return false
	}
	d.Hub().Join(sb.k().name, sb)
	mu.Unlock()
	pos, recovered := p.hist.Replay(d.Worker(), j.Room, m.since, p.o.ReplayBytes, func(r fanout.Job) {
		d.DeliverTo(sb, r)
	})
	if m.rid == nil {
		return false
	}
	var tmp [512]byte
	body := append(tmp[:0], "RECEIPT\n"...)
	body = stomp.AppendHeader(body, stomp.CmdReceipt, stomp.HeaderReceiptID, m.rid)
	body = append(body, headerRecovered+":"...)
	body = strconv.AppendBool(body, recovered)
	body = append(body, "\n"+headerOffset+":"...)
	body = strconv.AppendUint(body, pos.Offset, 10)
	body = append(body, "\n"+headerEpoch+":"...)
	body = append(body, pos.Epoch...)
	body = append(body, '\n')
	body = stomp.AppendBody(body, nil)
	b := poller.NewBuf(frame.HeaderSize(len(body), false) + len(body))
	b.B = frame.AppendFrame(b.B, true, 0, frame.OpText, body)
	first, ok := s.c.Queue(b)
	b.Release()
	return first && ok
}
