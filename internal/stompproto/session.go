package stompproto

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/poller"
)

// Session states.
const (
	stateNew        uint32 = iota // waiting for CONNECT
	stateConnected                // CONNECTED sent
	stateDisconnect               // DISCONNECT received: nothing more is read
)

// session is one STOMP connection. Ownership: parser, ver, failed, ident,
// user, tx belong to the event loop; subs is written by the loop under mu
// and read under mu by fan-out workers and forwarders; the atomics are
// shared with the timer wheel (Tick), which alone uses lastHeard and
// nextSend.
type session struct {
	p      *Protocol
	c      protocol.Conn
	parser stomp.Parser
	ver    stomp.Version
	failed bool // an ERROR was sent: the rest of the input is ignored
	num    uint64
	ident  *auth.Identity
	user   string
	tx     map[string]*transaction
	// lastDest is the last topic or queue destination sent to, with its
	// kind and name (owned copies).
	lastDest, lastName string
	lastKind           uint8

	mu     sync.Mutex
	closed bool
	subs   []*sub

	state  atomic.Uint32
	msgID  atomic.Uint64
	opened atomic.Int64 // unix nanos of Open
	hbSend atomic.Int64 // negotiated send interval, nanos; 0: none
	hbRecv atomic.Int64 // negotiated receive interval, nanos; 0: none
	heard  atomic.Bool  // something arrived since the last Tick

	lastHeard, nextSend int64 // Tick's own
}

// OnHeartbeat implements stomp.Handler: an EOL between frames.
func (s *session) OnHeartbeat() error { return nil }

// OnFrame implements stomp.Handler: one client frame.
func (s *session) OnFrame(f *stomp.Frame) error {
	if s.failed {
		return nil
	}
	st := s.state.Load()
	if st == stateDisconnect {
		return nil
	}
	if st == stateNew {
		if f.Command != stomp.CmdConnect && f.Command != stomp.CmdStomp {
			s.fail(errNotConnected, "expected CONNECT, got "+f.Command.String(), receiptOf(f), frame.CloseProtocolError)
			return nil
		}
		s.connect(f)
		return nil
	}
	switch f.Command {
	case stomp.CmdSend:
		s.onSend(f)
	case stomp.CmdSubscribe:
		s.subscribe(f)
	case stomp.CmdUnsubscribe:
		s.unsubscribe(f)
	case stomp.CmdAck, stomp.CmdNack:
		s.onAck(f)
	case stomp.CmdBegin, stomp.CmdCommit, stomp.CmdAbort:
		s.onTransaction(f)
	case stomp.CmdDisconnect:
		s.disconnect(f)
	case stomp.CmdConnect, stomp.CmdStomp:
		s.fail(errProtocol, "already connected", receiptOf(f), frame.CloseProtocolError)
	default:
		s.fail(errProtocol, f.Command.String()+" is a server frame", receiptOf(f), frame.CloseProtocolError)
	}
	return nil
}

// receiptOf returns f's receipt header, or nil.
func receiptOf(f *stomp.Frame) []byte { return f.Headers.Get(stomp.HeaderReceipt) }

// receipt answers a frame's receipt header, if it has one, at once.
func (s *session) receipt(f *stomp.Frame) {
	if r := receiptOf(f); r != nil {
		s.c.Reply(frame.OpText, stomp.AppendReceipt(s.c.Scratch(), r))
	}
}

// receiptBuf returns a RECEIPT frame for f as a WebSocket message in a new
// Buf, for a fan-out worker to queue after the frame's effect; nil when f
// asks for none.
func receiptBuf(f *stomp.Frame) *poller.Buf {
	r := receiptOf(f)
	if r == nil {
		return nil
	}
	var tmp [256]byte
	body := stomp.AppendReceipt(tmp[:0], r)
	b := poller.NewBuf(frame.HeaderSize(len(body), false) + len(body))
	b.B = frame.AppendFrame(b.B, true, 0, frame.OpText, body)
	return b
}

// fail sends an ERROR frame (message header text, receipt-id from the
// frame at fault) and closes the connection after it with code: STOMP
// ends a session after every ERROR. The rest of the input is ignored.
func (s *session) fail(r errReason, text string, receiptID []byte, code frame.CloseCode) {
	if s.failed {
		return
	}
	s.failed = true
	s.p.countError(r)
	out := stomp.AppendError(s.c.Scratch(), text, receiptID, nil)
	s.c.Reply(frame.OpText, out)
	s.c.Fail(code, "stomp: "+closeText(text))
	s.parser.Release()
}

// closeText cuts text to what a close frame's reason can hold.
func closeText(t string) string {
	const max = frame.MaxControlPayload - 2 - len("stomp: ")
	if len(t) > max {
		t = t[:max]
	}
	return t
}

// mayJoin reports whether the session's token allows subscribing to room;
// anonymous sessions (admitted only where tokens are optional) may.
func (s *session) mayJoin(room string) bool { return s.ident == nil || s.ident.CanJoin(room) }

// mayPublish is mayJoin for sending.
func (s *session) mayPublish(room string) bool { return s.ident == nil || s.ident.CanPublish(room) }

// queuePair queues head and tail as one message on the connection. head is
// handed over (the caller's reference is released); tail is retained.
// Conns that cannot queue pairs get one copied frame.
func queuePair(c protocol.Conn, head, tail *poller.Buf) (first, ok bool) {
	if pq, isPQ := c.(protocol.PairQueuer); isPQ {
		first, ok = pq.QueuePair(head, tail)
		head.Release()
		return first, ok
	}
	b := poller.NewBuf(len(head.B) + len(tail.B))
	b.B = append(append(b.B, head.B...), tail.B...)
	head.Release()
	first, ok = c.Queue(b)
	b.Release()
	return first, ok
}

// bytesString views b as a string without a copy, for read-only use while
// b does not change; a string kept beyond that must be copied.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// sendError reports a problem that does not end the session (a dropped
// message, a failed /app forward) as a MESSAGE on the session's
// /user/queue/errors subscriptions, with the text in the message header
// and the body. Any goroutine.
func (s *session) sendError(dest, text string) {
	var extra []byte
	extra = stomp.AppendHeader(extra, stomp.CmdMessage, stomp.HeaderMessage, text)
	if dest != "" {
		extra = stomp.AppendHeader(extra, stomp.CmdMessage, "source-destination", dest)
	}
	tail := buildTail(typeText, []byte(text), string(extra))
	s.deliverDirect(errorsDest, frame.OpText, tail)
	tail.Release()
}

// errorsDest is where problems that keep a session open are reported.
const errorsDest = "/user/queue/errors"
