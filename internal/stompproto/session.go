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

// session is one STOMP connection, kept small: an idle subscriber holds
// one of these (96 bytes) and a sub per subscription. Ownership: parser,
// ver, failed and x's transaction and destination state belong to the
// event loop; x is stored once, and its identity is set before anything
// reads it off the loop; subs and closed are written by the loop under
// the session's lock (Protocol.lock) and read under it by fan-out workers
// and forwarders; the atomics are shared with the timer wheel (Tick),
// which alone uses nextSend. Times are Protocol.now milliseconds.
type session struct {
	// What a fan-out worker reads for every delivery comes first, in one
	// cache line: p, c, ver, z.
	p      *Protocol
	c      protocol.Conn
	ver    stomp.Version
	z      bool        // large messages go compressed (a 15-bit window without context takeover)
	failed bool        // an ERROR was sent: the rest of the input is ignored
	closed bool        // the connection closed (under the session's lock)
	heard  atomic.Bool // something arrived since the last Tick
	state  atomic.Uint32
	num    uint32 // the session number (for the session header), from CONNECT
	parser stomp.Parser
	x      atomic.Pointer[extra] // what few sessions need, allocated on first use
	subs   *sub                  // the first of the session's subscriptions, listed through sub.next

	since    atomic.Uint32 // Open until CONNECT, then the last data Tick saw arrive
	nextSend uint32        // Tick's own: when the next heart-beat is due; 0: not yet set
	hbSend   atomic.Uint32 // negotiated send interval, ms; 0: none
	hbRecv   atomic.Uint32 // negotiated receive interval, ms; 0: none
}

// extra is what a session holds only when it needs it: its identity
// (authenticated sessions; set at CONNECT, then read-only) and the state
// of sending (event loop only).
type extra struct {
	ident *auth.Identity // the verified token; nil in development mode
	user  string
	tx    map[string]*transaction
	// lastDest is the last topic or queue destination sent to, with its
	// kind and name (owned copies).
	lastDest, lastName string
	lastKind           uint8
}

// more returns the session's extra state, allocating it at first use.
// Event loop only.
func (s *session) more() *extra {
	x := s.x.Load()
	if x == nil {
		x = &extra{}
		s.x.Store(x)
	}
	return x
}

// user returns the session's user id ("" for anonymous sessions). Any
// goroutine, after CONNECT.
func (s *session) user() string {
	if x := s.x.Load(); x != nil {
		return x.user
	}
	return ""
}

// ident returns the session's verified token, or nil.
func (s *session) ident() *auth.Identity {
	if x := s.x.Load(); x != nil {
		return x.ident
	}
	return nil
}

// lock returns the session's lock: one of the protocol's, picked by the
// session's address (a mutex in every session would make an idle one a
// size class bigger). Nothing holds two sessions' locks at once.
func (s *session) lock() *sync.Mutex {
	return &s.p.locks[uintptr(unsafe.Pointer(s))/unsafe.Sizeof(session{})%uintptr(len(s.p.locks))]
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
func (s *session) mayJoin(room string) bool { id := s.ident(); return id == nil || id.CanJoin(room) }

// mayPublish is mayJoin for sending.
func (s *session) mayPublish(room string) bool {
	id := s.ident()
	return id == nil || id.CanPublish(room)
}

// queuePair queues head and tail as one message on the connection. head is
// handed over (the caller's reference is released); tail is retained.
func queuePair(c protocol.Conn, head, tail *poller.Buf) (first, ok bool) {
	first, ok = queueShared(c, head, tail)
	head.Release()
	return first, ok
}

// queueShared queues head and tail as one message on the connection,
// retaining both. Conns that cannot queue pairs get one copied frame.
func queueShared(c protocol.Conn, head, tail *poller.Buf) (first, ok bool) {
	if pq, isPQ := c.(protocol.PairQueuer); isPQ {
		return pq.QueuePair(head, tail)
	}
	b := poller.NewBuf(len(head.B) + len(tail.B))
	b.B = append(append(b.B, head.B...), tail.B...)
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
	tail := buildTail(s.p.ids.Add(1), typeText, []byte(text), string(extra))
	s.deliverDirect(errorsDest, frame.OpText, tail)
	tail.Release()
}

// errorsDest is where problems that keep a session open are reported.
const errorsDest = "/user/queue/errors"
