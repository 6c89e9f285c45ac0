package stompproto

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/stomp"
)

// outgoing is one message a SEND (now or at COMMIT) puts on its way.
type outgoing struct {
	dest    string
	ctype   []byte
	body    []byte
	headers *stomp.Headers // the SEND's headers, for /app (nil when held in a transaction)
}

// onSend handles SEND: held in its transaction, or routed now.
func (s *session) onSend(f *stomp.Frame) {
	h := &f.Headers
	dest := h.Get(stomp.HeaderDestination)
	if len(dest) == 0 {
		s.fail(errDestination, "SEND without destination", receiptOf(f), frame.CloseProtocolError)
		return
	}
	if txn := h.Get(stomp.HeaderTransaction); txn != nil {
		s.hold(f, txn)
		return
	}
	if s.route(outgoing{dest: bytesString(dest), ctype: h.Get(stomp.HeaderContentType), body: f.Body, headers: h}, receiptOf(f)) {
		s.receipt(f)
	}
}

// route sends one message to its destination; false when it failed the
// session (the ERROR is sent).
func (s *session) route(m outgoing, rid []byte) bool {
	kind, name, ok := s.destination(m.dest)
	if !ok {
		s.fail(errDestination, "unknown destination "+m.dest+": use /topic/NAME, /queue/NAME, /user/ID/queue/NAME or /app/...", rid, frame.CloseProtocolError)
		return false
	}
	switch kind {
	case destApp:
		return s.forward(m, rid)
	case destUser:
		return s.sendToUser(m, rid)
	}
	if !s.mayPublish(name) {
		if s.p.m != nil {
			s.p.m.ForbiddenPublish.Inc()
		}
		s.fail(errForbidden, "token does not allow sending to "+m.dest, rid, frame.ClosePolicyViolation)
		return false
	}
	op, isJSON := bodyKind(m.ctype, m.body)
	if kind == destQueue {
		s.p.queues.sendOut(name, op, buildTail(0, tailType(op, isJSON, m.ctype), m.body, ""))
		return true
	}
	fb, hdr := fanout.FrameBuf(0, op, m.body)
	if !s.p.pool.TrySubmit(fanout.Job{Room: name, Buf: fb, Hdr: hdr, FromUser: s.user(), JSON: isJSON, History: s.p.keeps(name)}) {
		fb.Release()
		s.overloaded(rid, m.dest)
		return false
	}
	return true
}

// sendToUser handles SEND to /user/ID/queue/NAME (or /user/ID/topic/NAME):
// every session of user ID subscribed to /user/queue/NAME gets it. It
// needs a publish pattern matching "user.ID" (anonymous sessions may).
func (s *session) sendToUser(m outgoing, rid []byte) bool {
	rest := m.dest[len("/user/"):]
	id, sub, _ := strings.Cut(rest, "/")
	dest, ok := userDestination("/" + sub)
	if !ok || !hub.ValidName(id) || id == "queue" || id == "topic" {
		s.fail(errDestination, "send to another user's destination as /user/ID/queue/NAME, not "+m.dest, rid, frame.CloseProtocolError)
		return false
	}
	id = strings.Clone(id) // it aliases the frame; the job outlives it
	if !s.mayPublish("user." + id) {
		if s.p.m != nil {
			s.p.m.ForbiddenPublish.Inc()
		}
		s.fail(errForbidden, "token does not allow sending to "+m.dest, rid, frame.ClosePolicyViolation)
		return false
	}
	op, isJSON := bodyKind(m.ctype, m.body)
	fb, hdr := fanout.FrameBuf(0, op, m.body)
	if !s.p.pool.TrySubmit(fanout.Job{User: id, Buf: fb, Hdr: hdr, FromUser: s.user(), JSON: isJSON, From: &userDest{dest}}) {
		fb.Release()
		s.overloaded(rid, m.dest)
		return false
	}
	return true
}

// bodyKind maps a SEND body to the fan-out's terms: text (valid UTF-8,
// not declared binary) or binary, and whether it is a JSON value
// (content-type application/json and valid JSON).
func bodyKind(ctype, body []byte) (op frame.Opcode, isJSON bool) {
	if !frame.ValidUTF8(body) || isBinaryType(ctype) {
		return frame.OpBinary, false
	}
	if isJSONType(ctype) && json.Valid(body) {
		return frame.OpText, true
	}
	return frame.OpText, false
}

// mediaType returns ctype's type/subtype, lower-cased parameters dropped.
func mediaType(ctype []byte) []byte {
	if i := bytes.IndexByte(ctype, ';'); i >= 0 {
		ctype = ctype[:i]
	}
	return bytes.TrimSpace(ctype)
}

func isJSONType(ctype []byte) bool {
	mt := mediaType(ctype)
	return bytes.EqualFold(mt, []byte(typeJSON)) || bytes.HasSuffix(bytes.ToLower(mt), []byte("+json"))
}

// isBinaryType reports a content type that is not text: anything but
// text/*, JSON, XML and the like; no content type is not binary.
func isBinaryType(ctype []byte) bool {
	mt := bytes.ToLower(mediaType(ctype))
	switch {
	case len(mt) == 0, bytes.HasPrefix(mt, []byte("text/")), isJSONType(ctype),
		bytes.HasSuffix(mt, []byte("+xml")), bytes.Equal(mt, []byte("application/xml")),
		bytes.Equal(mt, []byte("application/javascript")):
		return false
	}
	return true
}

// tailType is the content-type of a queue message: the sender's own when
// it gave one, else as for topics.
func tailType(op frame.Opcode, isJSON bool, ctype []byte) string {
	if len(ctype) > 0 && len(ctype) <= 256 {
		return string(ctype)
	}
	switch {
	case op == frame.OpBinary:
		return typeBinary
	case isJSON:
		return typeJSON
	}
	return typeText
}

// disconnect handles DISCONNECT: with a receipt, the RECEIPT goes out once
// every job queued before it (the session's SENDs, SUBSCRIBEs) has been
// fanned out and what it produced queued, and the connection closes after
// it; without one, it closes at once.
func (s *session) disconnect(f *stomp.Frame) {
	s.state.Store(stateDisconnect)
	rb := receiptBuf(f)
	closer, async := s.c.(protocol.AsyncCloser)
	if rb == nil || !async {
		if rb != nil {
			s.c.Queue(rb)
			rb.Release()
		}
		s.c.Fail(frame.CloseNormal, "")
		return
	}
	c := s.c
	pool := s.p.pool
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = pool.Fence(ctx)
		cancel()
		c.Queue(rb)
		rb.Release()
		c.Flush()
		closer.CloseQueued(frame.CloseNormal, "")
	}()
}

// onAck handles ACK and NACK: held in a transaction, or applied.
func (s *session) onAck(f *stomp.Frame) {
	h := &f.Headers
	id := h.Get(stomp.HeaderID)
	if s.ver != stomp.V12 || id == nil {
		id = h.Get(stomp.HeaderMessageID)
	}
	if len(id) == 0 {
		s.fail(errSubscription, f.Command.String()+" without id", receiptOf(f), frame.CloseProtocolError)
		return
	}
	if txn := h.Get(stomp.HeaderTransaction); txn != nil {
		s.hold(f, txn)
		return
	}
	s.ack(id, f.Command == stomp.CmdNack)
	s.receipt(f)
}

// ack applies an ACK or NACK of message id. Messages of topics, and ids
// the session does not hold, are acknowledged already: nothing happens.
func (s *session) ack(id []byte, nack bool) {
	n, ok := parseUint(id)
	if !ok {
		return
	}
	for sb := s.subs; sb != nil; sb = sb.next {
		if sb.kind == destQueue && sb.ack != ackAuto && s.p.queues.ack(sb, n, nack) {
			return
		}
	}
}

// parseUint parses a decimal message id.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// destination is parseDestination with the last topic or queue name kept,
// so a session sending to the same destination again (its dest aliasing
// the frame) does not copy the name each time.
func (s *session) destination(dest string) (kind uint8, name string, ok bool) {
	if x := s.x.Load(); x != nil && dest == x.lastDest && x.lastDest != "" {
		return x.lastKind, x.lastName, true
	}
	kind, name, ok = parseDestination(dest)
	if ok && (kind == destTopic || kind == destQueue) {
		x := s.more()
		x.lastDest, x.lastKind, x.lastName = strings.Clone(dest), kind, strings.Clone(name)
		return kind, x.lastName, true
	}
	return kind, name, ok
}
