package sockjs

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/poller"
)

// Stream is one receiving connection as the server sees it: the socket of
// an open HTTP response (after its head) or of a WebSocket. A session
// calls its methods with the session's lock held, so they must not call
// back into the session, and the server must not hold a lock that Stream
// methods take while it calls into a Session or Receiver.
type Stream interface {
	// Send queues b, which may be shared with other streams, taking over
	// one reference.
	Send(b *poller.Buf)
	// Write queues a copy of p.
	Write(p []byte)
	// Flush asks for the queued bytes to be written (now, or once at the
	// end of the event loop's iteration).
	Flush()
	// End finishes the response: it writes what is queued (End is not
	// preceded by a Flush) and, once that is out, with
	// keepAlive the connection goes back to reading requests; without it
	// the connection is closed. A WebSocket stream sends a close frame.
	End(keepAlive bool)
}

// PeerProber is implemented by a Stream that can tell, cheaply and
// without blocking, that its client has gone (a pending end of stream
// the event loop has not processed yet). A session consults it before
// refusing a second receiving request with "Another connection still
// open", so a client that aborted a request and at once opened another
// gets a fresh session instead of a spurious refusal.
type PeerProber interface {
	PeerGone() bool
}

func peerGone(st Stream) bool {
	p, ok := st.(PeerProber)
	return ok && p.PeerGone()
}

// Handler is the application behind an endpoint. Its methods are called
// without any session lock held, so they may call Session methods. For a
// given session OnOpen comes first and OnClose last; OnMessage calls for
// one session do not overlap when the server serialises the requests that
// carry them (one sending request at a time per session, as SockJS
// clients do).
type Handler interface {
	// OnOpen is called when a session has sent its open frame.
	OnOpen(s *Session)
	// OnMessage is called for each message the client sent; msg is valid
	// only during the call.
	OnMessage(s *Session, msg []byte)
	// OnClose is called once when the session is gone: closed by either
	// side and past the disconnect delay, or interrupted.
	OnClose(s *Session)
}

// Scheduler arms a session's one timer. The server implements it with its
// timer wheel; when the time comes it calls Session.OnTimer. Schedule is
// called with the session's lock held and must not call back into the
// session. A session scheduled again replaces its earlier time; firing
// early or late is harmless (OnTimer checks the session's own deadline).
// Without a Scheduler, Endpoint.Tick drives the timers.
type Scheduler interface {
	Schedule(s *Session, at time.Time)
	// Cancel disarms the timer of a session that is gone, so that the
	// timer holds no reference to it. It is called with the session's
	// lock held.
	Cancel(s *Session)
}

// State is a session's place in its life.
type State uint8

// Session states.
const (
	// StateNew is a session whose open frame has not been sent.
	StateNew State = iota
	// StateOpen is a session that carries messages.
	StateOpen
	// StateClosing is a session closed by the server or the application:
	// each receiving request gets the close frame until the disconnect
	// delay passes.
	StateClosing
	// StateClosed is a session that is gone.
	StateClosed
)

// Close codes the protocol itself uses.
const (
	// CodeGoAway is the conventional application close ("Go away!").
	CodeGoAway = 3000
	// CodeAnotherConnection answers a second receiving request.
	CodeAnotherConnection = 2010
	// CodeInterrupted closes a session whose receiving connection broke.
	CodeInterrupted = 1002
	// CodeSlowConsumer closes a session whose queue overflowed.
	CodeSlowConsumer = 1008
)

// Receiver is one receiving request attached to a session: how its frames
// are wrapped (transport, chunking, callback), how many bytes it has
// counted toward the response limit, and the Stream that carries them.
// The server keeps one per connection (embedded in its connection state,
// so attaching allocates nothing) and passes it to Endpoint.Serve;
// between End and the next Serve it is free for reuse.
type Receiver struct {
	// Open is the value a session created by this receiver starts with
	// as its Data (the server's per-session state, prepared when it
	// admitted the request); Serve and AttachWebSocket leave it as it
	// is, and a session that already existed keeps its own Data.
	Open any

	stream  Stream
	session atomic.Pointer[Session]
	// aborted is set by Abort when it could not take the session's lock
	// at once; the session's next step (its timer, or the next
	// receiving request) treats the receiver as gone.
	aborted   atomic.Bool
	transport Transport
	wire      wire
	keepAlive bool
	cbLen     uint8
	callback  [maxCallback]byte
	sent      int
	limit     int
}

// Session returns the session r is attached to, or nil.
func (r *Receiver) Session() *Session { return r.session.Load() }

func (r *Receiver) jsonp() bool { return r.transport == TransportJSONPPolling }

// Session is one SockJS session: it outlives the requests that carry it
// and is the unit the application talks to (a room member, for instance).
// Its methods are safe for concurrent use.
type Session struct {
	// timer is the session's node in the server's timer wheel (first
	// field, so the wheel's node maps back to the session: see
	// SessionOfTimer).
	timer poller.TimerNode

	ep *Endpoint
	id string // "" for a WebSocket session, which has no id

	// Data is the application's value for the session. The package sets
	// it only once, to the creating Receiver's Open, before OnOpen.
	Data any

	mu       sync.Mutex
	state    State
	recv     *Receiver
	queue    []*Message
	queued   int // bytes of quoted messages in queue
	closeMsg []byte
	// deadline is the UnixNano time of the next heartbeat (receiver
	// attached) or of the disconnect timeout (none attached); 0 when none.
	deadline atomic.Int64
	scratch  []byte // batch frames for polling receivers
	dropped  int    // messages discarded by DropOldest
	// announced is set once the open frame went out.
	announced bool
}

// SessionOfTimer returns the session whose timer node n is (see
// TimerNode).
func SessionOfTimer(n *poller.TimerNode) *Session { return (*Session)(unsafe.Pointer(n)) }

// TimerNode returns the session's own node for the server's timer wheel:
// a Scheduler arms it, and the wheel's callback maps it back with
// SessionOfTimer.
func (s *Session) TimerNode() *poller.TimerNode { return &s.timer }

// AppData returns Data, synchronised with the step that sets it (for a
// server looking at a session another request may be opening).
func (s *Session) AppData() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Data
}

// ID returns the session id from the URL ("" for a WebSocket session).
func (s *Session) ID() string { return s.id }

// Endpoint returns the endpoint the session belongs to.
func (s *Session) Endpoint() *Endpoint { return s.ep }

// State returns the session's state.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Queued returns the number of messages waiting for a receiving request.
func (s *Session) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Deadline returns the time at which the session's timer is due, or the
// zero time when none is armed.
func (s *Session) Deadline() time.Time {
	if d := s.deadline.Load(); d != 0 {
		return time.Unix(0, d)
	}
	return time.Time{}
}

// setDeadlineLocked arms the session's timer for at.
func (s *Session) setDeadlineLocked(at time.Time) {
	if r := s.recv; r != nil && r.aborted.Load() {
		at = s.ep.now() // Abort is waiting for the timer
	}
	s.deadline.Store(at.UnixNano())
	if s.ep.opts.Scheduler != nil {
		s.ep.opts.Scheduler.Schedule(s, at)
	}
}

// Send delivers msg to the client: at once into the attached receiving
// request, or into the session's queue until the next one arrives. It
// returns false when the session is not open (the message is dropped).
// Send copies msg; to send one message to many sessions, encode it once
// with NewMessage and use SendMessage.
func (s *Session) Send(msg []byte) bool {
	m := NewMessage(msg)
	ok := s.SendMessage(m)
	m.Release()
	return ok
}

// SendMessage delivers m like Send and flushes it. The session takes its
// own reference when it needs one; the caller keeps its own. When the
// receiving request uses a shared wire form (every transport but JSONP),
// the delivery costs the session one reference to it and no copy.
func (s *Session) SendMessage(m *Message) bool {
	flush, ok := s.Deliver(m)
	if flush {
		s.Flush()
	}
	return ok
}

// Deliver queues m like SendMessage but leaves the write to Flush, so a
// fan-out worker can queue a burst of messages and write them at once.
// flush reports that Flush must be called; ok is false when the session
// is not open (the message is dropped).
func (s *Session) Deliver(m *Message) (flush, ok bool) {
	s.mu.Lock()
	if s.state != StateOpen {
		s.mu.Unlock()
		return false, false
	}
	var ev sessionEvent
	if r := s.recv; r != nil && len(s.queue) == 0 && !r.aborted.Load() {
		s.writeMessageLocked(r, m)
		flush = true
		s.checkLimitLocked(r)
	} else {
		m.Retain()
		s.queue = append(s.queue, m)
		s.queued += len(m.quote)
		ev = s.boundQueueLocked()
	}
	s.mu.Unlock()
	s.ep.fire(s, ev)
	return flush, true
}

// boundQueueLocked applies MaxQueue to the queue: the oldest messages
// are dropped with DropOldest, else the session is closed with 1008.
func (s *Session) boundQueueLocked() sessionEvent {
	max := s.ep.opts.maxQueue()
	if s.queued <= max {
		return evNone
	}
	if !s.ep.opts.DropOldest {
		return s.closeLocked(CodeSlowConsumer, "slow consumer")
	}
	n := 0
	for n < len(s.queue)-1 && s.queued > max {
		s.queued -= len(s.queue[n].quote)
		s.queue[n].Release()
		n++
	}
	rest := copy(s.queue, s.queue[n:])
	clear(s.queue[rest:])
	s.queue = s.queue[:rest]
	s.dropped += n
	return evNone
}

// Dropped returns how many queued messages DropOldest has discarded.
func (s *Session) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Flush writes what Deliver queued into the receiving request, if any.
func (s *Session) Flush() {
	s.mu.Lock()
	if r := s.recv; r != nil {
		r.stream.Flush()
	}
	s.mu.Unlock()
}

// Close closes the session with code and reason: the receiving request,
// if any, gets c[code,"reason"] and ends, and so does every receiving
// request until the disconnect delay passes. It returns false when the
// session was not open.
func (s *Session) Close(code int, reason string) bool {
	s.mu.Lock()
	if s.state != StateOpen {
		s.mu.Unlock()
		return false
	}
	ev := s.closeLocked(code, reason)
	s.mu.Unlock()
	s.ep.fire(s, ev)
	return true
}

// Expire ends the session now, skipping the disconnect delay: an
// attached receiving request is detached without another byte (its
// connection is the server's to close) and OnClose runs. A server that
// stops uses it for the sessions it leaves behind.
func (s *Session) Expire() {
	s.mu.Lock()
	if r := s.recv; r != nil {
		s.recv = nil
		r.session.Store(nil)
	}
	ev := s.goneLocked()
	s.mu.Unlock()
	s.ep.fire(s, ev)
}

// sessionEvent is what a locked step leaves for the Handler.
type sessionEvent uint8

const (
	evNone sessionEvent = iota
	evOpen
	evClose
)

func (s *Session) closeLocked(code int, reason string) sessionEvent {
	s.state = StateClosing
	s.closeMsg = AppendCloseFrame(s.closeMsg[:0], code, reason)
	s.releaseQueueLocked()
	if r := s.recv; r != nil {
		s.writeFrameLocked(r, s.closeMsg)
		return s.endLocked(r, r.transport != TransportWebSocket)
	}
	return evNone
}

func (s *Session) releaseQueueLocked() {
	for i, m := range s.queue {
		m.Release()
		s.queue[i] = nil
	}
	s.queue, s.queued = s.queue[:0], 0
}

// attach registers r as the session's receiving request and sends what
// the session has for it. It returns false when the session is already
// closed (the caller then opens a new one).
func (s *Session) attach(r *Receiver) (bool, sessionEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.state == StateClosed:
		return false, evNone
	case s.recv != nil && (s.recv.aborted.Load() || peerGone(s.recv.stream)):
		// The attached request's client left and the server has not
		// noticed yet: that is an abort, which ends the session.
		s.recv.session.Store(nil)
		s.recv = nil
		return false, s.goneLocked()
	case s.recv != nil:
		var b [48]byte
		s.writeFrameLocked(r, AppendCloseFrame(b[:0], CodeAnotherConnection, "Another connection still open"))
		r.finish()
		return true, evNone
	case s.state == StateClosing:
		// Closed by the application (in OnOpen, say): a session's first
		// response still opens it; a polling one stops there and the
		// next gets the close frame.
		if !s.announced {
			s.announced = true
			s.writeStaticLocked(r, 0)
			if r.transport.Streaming() || r.transport == TransportWebSocket {
				s.writeFrameLocked(r, s.closeMsg)
			}
		} else {
			s.writeFrameLocked(r, s.closeMsg)
		}
		r.finish()
		s.setDeadlineLocked(s.ep.now().Add(s.ep.opts.disconnectDelay()))
		return true, evNone
	}
	s.recv = r
	r.session.Store(s)
	if !s.announced {
		s.announced = true
		s.writeStaticLocked(r, 0)
		s.checkLimitLocked(r)
	}
	if s.recv == r {
		s.flushQueueLocked(r)
	}
	if s.recv == r {
		r.stream.Flush()
		s.setDeadlineLocked(s.ep.now().Add(s.ep.opts.heartbeat()))
	}
	return true, evNone
}

// open moves a new session to StateOpen, with data as its Data unless it
// has one, and reports whether it did: the caller then fires OnOpen,
// before the open frame goes out, so that the application is ready
// (joined to its rooms) by the time the client learns the session is
// open.
func (s *Session) open(data any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != StateNew {
		return false
	}
	if s.Data == nil {
		s.Data = data
	}
	s.state = StateOpen
	return true
}

// flushQueueLocked sends the queued messages into r: one batch frame for
// a polling request, one shared frame per message for the others (which
// stop, leaving the rest queued, when the response limit is reached).
func (s *Session) flushQueueLocked(r *Receiver) {
	if len(s.queue) == 0 {
		return
	}
	if !r.transport.Streaming() && r.transport != TransportWebSocket {
		s.scratch = append(s.scratch[:0], 'a', '[')
		for i, m := range s.queue {
			if i > 0 {
				s.scratch = append(s.scratch, ',')
			}
			s.scratch = append(s.scratch, m.quote...)
		}
		s.scratch = append(s.scratch, ']')
		s.releaseQueueLocked()
		s.writeFrameLocked(r, s.scratch)
		if cap(s.scratch) > 64<<10 {
			s.scratch = nil
		}
		s.checkLimitLocked(r)
		return
	}
	n := 0
	for n < len(s.queue) && s.recv == r {
		m := s.queue[n]
		s.writeMessageLocked(r, m)
		s.queued -= len(m.quote)
		m.Release()
		s.queue[n] = nil
		n++
		s.checkLimitLocked(r)
	}
	rest := copy(s.queue, s.queue[n:])
	clear(s.queue[rest:])
	s.queue = s.queue[:rest]
}

// writeMessageLocked writes m's frame into r without copying it, except
// for JSONP whose callback makes every response different.
func (s *Session) writeMessageLocked(r *Receiver, m *Message) {
	if r.jsonp() {
		s.scratch = m.AppendFrame(s.scratch[:0])
		s.writeFrameLocked(r, s.scratch)
		return
	}
	b, n := m.form(r.wire)
	b.Retain()
	r.stream.Send(b)
	r.sent += n
}

// writeStaticLocked writes "o" (i == 0) or "h" (i == 1) into r.
func (s *Session) writeStaticLocked(r *Receiver, i int) {
	if r.jsonp() {
		s.writeFrameLocked(r, []byte(frameOpen + frameHeartbeat)[i:i+1])
		return
	}
	f := &staticFrames[i][r.wire]
	f.buf.Retain()
	r.stream.Send(f.buf)
	r.sent += f.counted
}

// writeFrameLocked copies the frame text into r in r's wire form.
func (s *Session) writeFrameLocked(r *Receiver, text []byte) {
	b := poller.NewBuf(len(text) + len(text)/4 + 64)
	var n int
	if r.jsonp() {
		b.B, n = appendJSONP(b.B, r.wire.chunked(), r.callback[:r.cbLen], text)
	} else {
		b.B, n = appendWire(b.B, r.wire, text, nil, nil)
	}
	r.stream.Send(b)
	r.sent += n
}

// checkLimitLocked ends r once it has carried its response limit.
func (s *Session) checkLimitLocked(r *Receiver) {
	if s.recv == r && r.sent >= r.limit {
		s.endLocked(r, true)
	}
}

// endLocked ends r's response and detaches it. With delay the session
// waits the disconnect delay for the next receiving request; without it
// (a WebSocket, which cannot come back) the session is closed now.
func (s *Session) endLocked(r *Receiver, delay bool) sessionEvent {
	// Detach first: a Stream whose End closes its connection at once may
	// see the server call Abort, which must then find nothing to do.
	s.recv = nil
	r.session.Store(nil)
	r.finish()
	if delay {
		s.setDeadlineLocked(s.ep.now().Add(s.ep.opts.disconnectDelay()))
		return evNone
	}
	return s.goneLocked()
}

// goneLocked moves the session to StateClosed and forgets it.
func (s *Session) goneLocked() sessionEvent {
	if s.state == StateClosed {
		return evNone
	}
	s.state = StateClosed
	s.releaseQueueLocked()
	s.deadline.Store(0)
	if sc := s.ep.opts.Scheduler; sc != nil {
		sc.Cancel(s)
	}
	s.ep.forget(s)
	return evClose
}

// finish writes the end of r's body and ends its stream. End does the
// flushing: a server marks the response ended before its last bytes can
// reach the client, whose next request may follow at once.
func (r *Receiver) finish() {
	if r.wire.chunked() {
		r.stream.Write(lastChunk)
	}
	r.stream.End(r.keepAlive)
}

var lastChunk = []byte("0\r\n\r\n")

// OnTimer runs the session's timer at time now: a heartbeat frame when a
// receiving request is attached, the end of the session when none has
// come within the disconnect delay. A call before the deadline only
// re-arms the timer.
func (s *Session) OnTimer(now time.Time) {
	s.mu.Lock()
	d := s.deadline.Load()
	if s.state == StateClosed || d == 0 {
		s.mu.Unlock()
		return
	}
	if r := s.recv; now.UnixNano() < d && (r == nil || !r.aborted.Load()) {
		if s.ep.opts.Scheduler != nil {
			s.ep.opts.Scheduler.Schedule(s, time.Unix(0, d))
		}
		s.mu.Unlock()
		return
	}
	ev := evNone
	if r := s.recv; r != nil && r.aborted.Load() {
		s.recv = nil
		r.session.Store(nil)
		ev = s.goneLocked()
	} else if r != nil {
		s.writeStaticLocked(r, 1)
		r.stream.Flush()
		s.checkLimitLocked(r)
		if s.recv == r {
			s.setDeadlineLocked(now.Add(s.ep.opts.heartbeat()))
		}
	} else {
		ev = s.goneLocked()
	}
	s.mu.Unlock()
	s.ep.fire(s, ev)
}

// Abort tells the session that r's connection broke (the client went away
// or the server closed the socket). A session that loses its receiving
// request this way is closed at once, as the protocol prescribes; the
// server must not use r's Stream any more. Abort of a receiver that is
// not attached does nothing.
//
// A Stream method may end its connection, and the server may then call
// Abort while the session's lock is held further up the same goroutine.
// Abort therefore never waits for the lock: when it cannot take it, it
// marks r aborted and arms the session's timer, whose run (or the next
// receiving request) finishes the job.
func (r *Receiver) Abort() {
	s := r.session.Load()
	if s == nil {
		return
	}
	if !s.mu.TryLock() {
		r.aborted.Store(true)
		now := s.ep.now()
		s.deadline.Store(now.UnixNano())
		if sc := s.ep.opts.Scheduler; sc != nil {
			sc.Schedule(s, now)
		}
		return
	}
	if s.recv != r {
		s.mu.Unlock()
		return
	}
	s.recv = nil
	r.session.Store(nil)
	ev := s.goneLocked()
	s.mu.Unlock()
	s.ep.fire(s, ev)
}

// reset readies r for its next request.
func (r *Receiver) reset() { r.aborted.Store(false) }

// ReceiveWebSocket handles one text message from the client of a
// WebSocket session (r attached by Endpoint.AttachWebSocket): each
// message it carries goes to the Handler. A message that is not SockJS
// JSON closes the session and returns ErrBrokenJSON; the server then
// closes the connection.
func (r *Receiver) ReceiveWebSocket(payload []byte) error {
	s := r.session.Load()
	if s == nil {
		return nil
	}
	sc := getScratch()
	var err error
	*sc, err = ParseWebSocketMessage(payload, *sc, func(msg []byte) { s.ep.opts.Handler.OnMessage(s, msg) })
	putScratch(sc)
	if err != nil {
		s.mu.Lock()
		ev := evNone
		if s.recv == r {
			s.recv = nil
			r.session.Store(nil)
			r.stream.End(false)
			ev = s.goneLocked()
		}
		s.mu.Unlock()
		s.ep.fire(s, ev)
	}
	return err
}
