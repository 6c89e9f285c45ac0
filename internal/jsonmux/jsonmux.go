// Package jsonmux is the /ws endpoint's protocol: one connection joins,
// leaves and publishes to many rooms with JSON text commands, one JSON
// object per text message. It plugs into the server through
// protocol.Protocol and receives room messages in its own fan-out format,
// the JSON envelope, built once per message. The server serves it at
// config MuxPath (default /ws).
//
// Client to server:
//
//	{"type":"join","room":"chat.a","id":"opt-correlation"}
//	{"type":"leave","room":"chat.a","id":7}
//	{"type":"publish","room":"chat.a","data":<any JSON value>,"id":"x"}
//
// id is optional (a string or a number, at most 128 bytes as written) and
// is echoed in the reply or error about that command.
//
// Server to client:
//
//	{"type":"joined","room":"chat.a","id":"opt-correlation"}
//	{"type":"left","room":"chat.a","id":7}
//	{"type":"message","room":"chat.a","data":<value>,"from":"alice"}
//	{"type":"error","code":"forbidden","room":"chat.a","id":"x","message":"human text"}
//
// A message goes to every member of the room (the publisher too only with
// EchoSelf); "from" is the publisher's user id when it has one. In rooms
// with history, messages also carry "offset" and "epoch", and a join may
// resume with "since" (see resume.go). Error
// codes: "bad_request" (malformed JSON, unknown type, bad room name or id,
// publish without data), "forbidden" (the token's rooms or publish
// patterns do not allow it), "not_joined" (leave of a room not joined),
// "too_many_rooms" (more than maxRooms joined), "overloaded" (the room's
// fan-out queue is full; the message was dropped), "rate_limited". After an error the
// connection stays up. A binary message closes it with 1003.
//
// Publishing needs no membership, only permission (the token's publish
// patterns; anonymous connections may publish anywhere), as in most
// pub/sub systems. A publish with an id is answered
// {"type":"published","id":...} once its message is queued for fan-out;
// one without an id gets no reply. When the room's fan-out queue is full
// the message is dropped and the publisher gets an "overloaded" error
// (counted in wsgate_overloaded_total): the event loop never waits.
//
// Order: the replies to join and leave are queued by the room's fan-out
// worker, like the room's messages, so "joined" comes before the first
// message of the room and "left" after the last one; errors are written at
// once and may overtake a pending reply (use id to match them).
//
// Other endpoints: a room is one room whichever endpoint its members use.
// /room/NAME members get a /ws publish's data as the raw text of its JSON
// value; /ws members get what /room members and the admin API publish in
// the envelope: a text payload that is one JSON value as it is, any other
// text as a JSON string, a binary payload as a base64 string with
// "encoding":"base64". A message sent to a user through the admin API
// (POST /api/users/{id}/send) reaches that user's /ws connections as a
// "message" without "room".
package jsonmux

import (
	"encoding/base64"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/poller"
)

// maxRooms is how many rooms one /ws connection may be in at once.
const maxRooms = 256

// Protocol is the /ws endpoint. Its zero value is not usable; call New.
type Protocol struct {
	pool   *fanout.Pool
	format fanout.Format
	m      *metrics.Metrics
	// hist keeps the history of the rooms it selects (nil: none);
	// replayBytes bounds what one resuming join may replay.
	hist        history.Store
	replayBytes int
}

// New returns the /ws protocol, delivering through pool (whose envelope
// format it registers: call it before the pool starts). m may be nil.
func New(pool *fanout.Pool, m *metrics.Metrics, opts ...Option) *Protocol {
	p := &Protocol{pool: pool, m: m}
	for _, o := range opts {
		o(p)
	}
	p.format = pool.AddFormat(Envelope)
	return p
}

// Format implements protocol.Protocol: /ws members get the envelope.
func (p *Protocol) Format() fanout.Format { return p.format }

// connState is a /ws connection's rooms. rooms and lastPub are written
// only by the connection's event loop (rooms under mu, as Close reads it
// from another goroutine); closed is set under mu by Close, and the
// fan-out workers read it under mu before they add the connection to a
// room.
type connState struct {
	mu      sync.Mutex
	closed  bool
	rooms   []string // joined, or join pending at the worker
	keeps   []bool   // per room of rooms: whether it keeps history
	lastPub string   // the last room published to, so publishing to a room not joined allocates its name once
	// lastKeeps caches whether lastPub keeps history.
	lastKeeps bool
}

// Open implements protocol.Protocol.
func (p *Protocol) Open(protocol.Conn) any { return &connState{} }

// Close implements protocol.Protocol: the connection leaves every room.
func (p *Protocol) Close(c protocol.Conn) {
	st := c.State().(*connState)
	st.mu.Lock()
	st.closed = true
	p.pool.Hub().LeaveAll(st.rooms, c)
	st.mu.Unlock()
}

// Refuse implements protocol.Protocol with an error message.
func (p *Protocol) Refuse(c protocol.Conn, code, room, text string) {
	sendError(c, code, room, nil, text)
}

// Message implements protocol.Protocol: one command.
func (p *Protocol) Message(c protocol.Conn, op frame.Opcode, payload []byte) error {
	if op != frame.OpText {
		c.Fail(frame.CloseUnsupportedData, "binary messages are not supported: send JSON text commands")
		return nil
	}
	var cmd command
	if msg := cmd.parse(payload); msg != "" {
		sendError(c, "bad_request", bytesString(cmd.room), cmd.id, msg)
		return nil
	}
	st := c.State().(*connState)
	switch cmd.typ {
	case cmdPublish:
		p.publish(c, st, &cmd)
	case cmdJoin:
		p.join(c, st, &cmd)
	case cmdLeave:
		p.leave(c, st, &cmd)
	}
	return nil
}

// publish frames the data once and hands it to the room's worker.
func (p *Protocol) publish(c protocol.Conn, st *connState, cmd *command) {
	room, i := st.find(cmd.room)
	keeps := i >= 0 && st.keeps[i]
	if i < 0 {
		if string(cmd.room) == st.lastPub {
			room, keeps = st.lastPub, st.lastKeeps
		} else if room = string(cmd.room); hub.ValidName(room) {
			st.lastPub, st.lastKeeps = room, p.keeps(room)
			keeps = st.lastKeeps
		} else {
			sendError(c, "bad_request", bytesString(cmd.room), cmd.id, msgRoom)
			return
		}
	}
	if !protocol.MayPublish(c, room) {
		if p.m != nil {
			p.m.ForbiddenPublish.Inc()
		}
		sendError(c, "forbidden", room, cmd.id, "token does not allow publishing to this room; message dropped")
		return
	}
	fb, hdr := fanout.FrameBuf(0, frame.OpText, cmd.data)
	if !p.pool.TrySubmit(fanout.Job{Buf: fb, Hdr: hdr, Room: room, From: c, FromUser: c.User(), JSON: true, History: keeps}) {
		fb.Release()
		if p.m != nil {
			p.m.Overloaded.Inc()
		}
		sendError(c, "overloaded", room, cmd.id, "the room's fan-out queue is full; message dropped, try again later")
		return
	}
	if cmd.id != nil {
		reply(c, "published", room, cmd.id)
	}
}

// join checks a join and hands it to the room's worker, which adds the
// connection to the room in order with the room's messages and replies.
func (p *Protocol) join(c protocol.Conn, st *connState, cmd *command) {
	room, i := st.find(cmd.room)
	joined := i >= 0
	if !joined {
		if room = string(cmd.room); !hub.ValidName(room) {
			sendError(c, "bad_request", bytesString(cmd.room), cmd.id, msgRoom)
			return
		}
	}
	if !protocol.MayJoin(c, room) {
		if p.m != nil {
			p.m.ForbiddenJoin.Inc()
		}
		sendError(c, "forbidden", room, cmd.id, "token does not allow joining this room")
		return
	}
	if !joined && len(st.rooms) >= maxRooms {
		sendError(c, "too_many_rooms", room, cmd.id, "a connection may be in at most 256 rooms; leave one first")
		return
	}
	keeps := p.keeps(room)
	if joined {
		p.submitJoin(c, room, keeps, cmd)
		return
	}
	// The room is recorded before the worker can add the connection to
	// it, so a Close that runs in between leaves it too.
	st.mu.Lock()
	st.rooms = append(st.rooms, room)
	st.keeps = append(st.keeps, keeps)
	st.mu.Unlock()
	if !p.submitJoin(c, room, keeps, cmd) {
		st.forget(room)
	}
}

// leave forgets a joined room and hands the leave to its worker.
func (p *Protocol) leave(c protocol.Conn, st *connState, cmd *command) {
	room, i := st.find(cmd.room)
	if i < 0 {
		if !hub.ValidName(string(cmd.room)) {
			sendError(c, "bad_request", bytesString(cmd.room), cmd.id, msgRoom)
		} else {
			sendError(c, "not_joined", bytesString(cmd.room), cmd.id, "not a member of this room")
		}
		return
	}
	// The leave is queued before the room is forgotten, so a Close that
	// runs in between still leaves it.
	if p.submitControl(c, leaveControl{}, room, cmd.id) {
		st.forget(room)
	}
}

// forget removes room from the connection's list.
func (st *connState) forget(room string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, r := range st.rooms {
		if r == room {
			last := len(st.rooms) - 1
			st.rooms[i] = st.rooms[last]
			st.keeps[i] = st.keeps[last]
			st.rooms[last] = ""
			st.rooms = st.rooms[:last]
			st.keeps = st.keeps[:last]
			return
		}
	}
}

// find returns the joined room named name and its index in st.rooms
// (-1: not joined) without allocating.
func (st *connState) find(name []byte) (string, int) {
	for i, r := range st.rooms {
		if r == string(name) {
			return r, i
		}
	}
	return "", -1
}

// submitControl queues a membership change and its reply ("joined" or
// "left") on the room's worker; when the queue is full the command is
// refused with "overloaded" and nothing changes.
func (p *Protocol) submitControl(c protocol.Conn, ctl fanout.Control, room string, id []byte) bool {
	typ := "joined"
	if _, ok := ctl.(leaveControl); ok {
		typ = "left"
	}
	var buf [256]byte
	rb, hdr := fanout.FrameBuf(0, frame.OpText, appendReply(buf[:0], typ, room, id))
	if !p.pool.TrySubmit(fanout.Job{Buf: rb, Hdr: hdr, Room: room, From: c, Ctl: ctl}) {
		rb.Release()
		if p.m != nil {
			p.m.Overloaded.Inc()
		}
		sendError(c, "overloaded", room, id, "the room's fan-out queue is full; try again later")
		return false
	}
	return true
}

// joinControl and leaveControl apply a /ws membership change on the
// room's worker and queue its reply: every message the worker fans out
// after a join reaches the connection, none after a leave. A join of a
// connection already closed is skipped (Close has removed it from its
// rooms); a leave is always applied, so a leave pending at close cannot
// leave it behind.
type (
	joinControl  struct{}
	leaveControl struct{}
)

// Apply implements fanout.Control.
func (joinControl) Apply(d *fanout.Delivery) bool { return applyControl(d, true) }

// Apply implements fanout.Control.
func (leaveControl) Apply(d *fanout.Delivery) bool { return applyControl(d, false) }

func applyControl(d *fanout.Delivery, join bool) bool {
	j := d.Job()
	c := j.From.(protocol.Conn)
	st := c.State().(*connState)
	st.mu.Lock()
	if !join {
		d.Hub().Leave(j.Room, c)
	} else if !st.closed {
		d.Hub().Join(j.Room, c)
	}
	st.mu.Unlock()
	first, ok := c.Queue(j.Buf)
	return first && ok
}

// appendReply appends {"type":typ,"room":room,"id":id} (room and id
// omitted when empty).
func appendReply(p []byte, typ, room string, id []byte) []byte {
	p = append(p, `{"type":"`...)
	p = append(p, typ...)
	p = append(p, '"')
	if room != "" {
		p = append(p, `,"room":`...)
		p = appendJSONString(p, room)
	}
	if id != nil {
		p = append(p, `,"id":`...)
		p = append(p, id...)
	}
	return append(p, '}')
}

// reply sends {"type":typ,...} to c at once.
func reply(c protocol.Conn, typ, room string, id []byte) {
	c.Reply(frame.OpText, appendReply(c.Scratch(), typ, room, id))
}

// sendError sends c a JSON error message:
//
//	{"type":"error","code":"forbidden","room":"chat.a","id":7,"message":"..."}
//
// room (cut to 128 bytes) is omitted when empty; id, the JSON text of a
// command's id, when nil.
func sendError(c protocol.Conn, code, room string, id []byte, msg string) {
	p := append(c.Scratch(), `{"type":"error","code":`...)
	p = appendJSONString(p, code)
	if room != "" {
		p = append(p, `,"room":`...)
		p = appendJSONString(p, room[:min(len(room), 128)])
	}
	if id != nil {
		p = append(p, `,"id":`...)
		p = append(p, id...)
	}
	p = append(p, `,"message":`...)
	p = appendJSONString(p, msg)
	p = append(p, '}')
	c.Reply(frame.OpText, p)
}

// Envelope data encodings.
const (
	dataJSON   = iota // the payload is one JSON value: as it is
	dataString        // other text: a JSON string
	dataBase64        // binary: a base64 JSON string, "encoding":"base64"
)

// Envelope is the fan-out encoder of /ws members: job j framed as
//
//	{"type":"message","room":"R","data":D,"encoding":"base64","from":"U"}
//
// into a new shared buffer of exactly the right size, once per job.
func Envelope(j *fanout.Job, _ []byte) (*poller.Buf, int) {
	payload := j.Payload()
	user := j.FromUser
	enc := dataJSON
	switch {
	case j.Op() == frame.OpBinary:
		enc = dataBase64
	case !j.JSON && !isJSONValue(payload):
		enc = dataString
	}
	n := len(`{"type":"message","data":}`)
	if j.Room != "" {
		n += len(`,"room":`) + jsonStringLen(j.Room)
	}
	switch enc {
	case dataJSON:
		n += len(payload)
	case dataString:
		n += jsonStringLen(bytesString(payload))
	case dataBase64:
		n += 2 + base64.StdEncoding.EncodedLen(len(payload)) + len(`,"encoding":"base64"`)
	}
	if user != "" {
		n += len(`,"from":`) + jsonStringLen(user)
	}
	if j.Offset != 0 {
		n += positionLen(j.Offset, j.Epoch)
	}
	hdr := frame.HeaderSize(n, false)
	b := poller.NewBuf(hdr + n)
	p := frame.AppendHeader(b.B, true, 0, frame.OpText, n, nil)
	p = append(p, `{"type":"message"`...)
	if j.Room != "" {
		p = append(p, `,"room":`...)
		p = appendJSONString(p, j.Room)
	}
	p = append(p, `,"data":`...)
	switch enc {
	case dataJSON:
		p = append(p, payload...)
	case dataString:
		p = appendJSONString(p, bytesString(payload))
	case dataBase64:
		p = append(p, '"')
		p = base64.StdEncoding.AppendEncode(p, payload)
		p = append(p, `","encoding":"base64"`...)
	}
	if user != "" {
		p = append(p, `,"from":`...)
		p = appendJSONString(p, user)
	}
	if j.Offset != 0 {
		p = appendPosition(p, j.Offset, j.Epoch)
	}
	b.B = append(p, '}')
	return b, hdr
}

// bytesString views b as a string without a copy, for read-only use while
// b does not change.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// jsonStringLen returns len(appendJSONString(nil, s)).
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 0x80:
			if r, size := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && size == 1 {
				n += len(`\ufffd`)
				i++
			} else {
				n += size
				i += size
			}
			continue
		case c == '"' || c == '\\':
			n += 2
		case c < 0x20:
			n += 6
		default:
			n++
		}
		i++
	}
	return n
}

// appendJSONString appends s as a JSON string. Control characters,
// quotes and backslashes are escaped; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}
