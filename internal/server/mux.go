package server

// The multi-room endpoint (config MuxPath, default /ws): one connection
// joins, leaves and publishes to many rooms with JSON text commands, one
// JSON object per text message.
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
// EchoSelf); "from" is the publisher's user id when it has one. Error
// codes: "bad_request" (malformed JSON, unknown type, bad room name or id,
// publish without data), "forbidden" (the token's rooms or publish
// patterns do not allow it), "not_joined" (leave of a room not joined),
// "too_many_rooms" (more than maxMuxRooms joined). After an error the
// connection stays up. A binary message closes it with 1003.
//
// Publishing needs no membership, only permission (the token's publish
// patterns; anonymous connections may publish anywhere), as in most
// pub/sub systems. Successful publishes get no reply.
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

import (
	"encoding/base64"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/poller"
)

// maxMuxRooms is how many rooms one /ws connection may be in at once.
const maxMuxRooms = 256

// Membership changes a job can carry (job.ctl) instead of a message.
const (
	ctlJoin uint8 = iota + 1
	ctlLeave
)

// muxState is a /ws connection's rooms. rooms and lastPub are written only
// by the connection's poller goroutine (rooms under mu, as OnClose reads
// it from another goroutine); closed is set under mu by OnClose, and the
// fan-out workers read it under mu before they add the connection to a
// room.
type muxState struct {
	mu      sync.Mutex
	closed  bool
	rooms   []string // joined, or join pending at the worker
	lastPub string   // the last room published to, so publishing to a room not joined allocates its name once
}

// muxScratch is a worker's state for the current job's /ws members: the
// envelope, built at the first such member, and its compressed variants.
type muxScratch struct {
	env  *poller.Buf
	hdr  int
	vars [deflate.MaxWindowBits - deflate.MinWindowBits + 1]*poller.Buf
}

// newMuxState returns the state of a new connection of kind k: nil except
// for the /ws endpoint.
func newMuxState(k endpointKind) *muxState {
	if k != endpointMux {
		return nil
	}
	return &muxState{}
}

// onMux handles one message of a /ws connection, on its poller goroutine.
func (c *conn) onMux(op frame.Opcode, payload []byte) error {
	if op != frame.OpText {
		c.failWith(frame.CloseUnsupportedData, "binary messages are not supported: send JSON text commands", reasonUnsupportedData)
		return nil
	}
	var cmd muxCmd
	if msg := cmd.parse(payload); msg != "" {
		c.sendError("bad_request", bytesString(cmd.room), cmd.id, msg)
		return nil
	}
	switch cmd.typ {
	case muxPublish:
		c.muxPublish(&cmd)
	case muxJoin:
		c.muxJoin(&cmd)
	case muxLeave:
		c.muxLeave(&cmd)
	}
	return nil
}

// muxPublish frames the data once and hands it to the room's worker.
func (c *conn) muxPublish(cmd *muxCmd) {
	s := c.srv()
	m := c.ext.mux
	room, ok := m.find(cmd.room)
	if !ok {
		if string(cmd.room) == m.lastPub {
			room = m.lastPub
		} else if room = string(cmd.room); validName(room) {
			m.lastPub = room
		} else {
			c.sendError("bad_request", bytesString(cmd.room), cmd.id, msgRoom)
			return
		}
	}
	if !c.mayPublish(room) {
		s.m.ForbiddenPublish.Inc()
		c.sendError("forbidden", bytesString(cmd.room), cmd.id, "token does not allow publishing to this room; message dropped")
		return
	}
	fb, hdr := frameBuf(0, frame.OpText, cmd.data)
	s.workers.submit(room, job{buf: fb, hdr: hdr, op: frame.OpText, room: room, from: c, json: true})
}

// muxJoin checks a join and hands it to the room's worker, which adds the
// connection to the room in order with the room's messages and replies.
func (c *conn) muxJoin(cmd *muxCmd) {
	s := c.srv()
	m := c.ext.mux
	room, joined := m.find(cmd.room)
	if !joined {
		if room = string(cmd.room); !validName(room) {
			c.sendError("bad_request", bytesString(cmd.room), cmd.id, msgRoom)
			return
		}
	}
	if !c.mayJoin(room) {
		s.m.ForbiddenJoin.Inc()
		c.sendError("forbidden", bytesString(cmd.room), cmd.id, "token does not allow joining this room")
		return
	}
	if !joined {
		if len(m.rooms) >= maxMuxRooms {
			c.sendError("too_many_rooms", bytesString(cmd.room), cmd.id, "a connection may be in at most 256 rooms; leave one first")
			return
		}
		m.mu.Lock()
		m.rooms = append(m.rooms, room)
		m.mu.Unlock()
	}
	c.submitCtl(ctlJoin, room, cmd.id)
}

// muxLeave forgets a joined room and hands the leave to its worker.
func (c *conn) muxLeave(cmd *muxCmd) {
	m := c.ext.mux
	room, joined := m.find(cmd.room)
	if !joined {
		if !validName(string(cmd.room)) {
			c.sendError("bad_request", bytesString(cmd.room), cmd.id, msgRoom)
		} else {
			c.sendError("not_joined", bytesString(cmd.room), cmd.id, "not a member of this room")
		}
		return
	}
	m.mu.Lock()
	for i, r := range m.rooms {
		if r == room {
			last := len(m.rooms) - 1
			m.rooms[i] = m.rooms[last]
			m.rooms[last] = ""
			m.rooms = m.rooms[:last]
			break
		}
	}
	m.mu.Unlock()
	c.submitCtl(ctlLeave, room, cmd.id)
}

// find returns the joined room named name without allocating.
func (m *muxState) find(name []byte) (string, bool) {
	for _, r := range m.rooms {
		if r == string(name) {
			return r, true
		}
	}
	return "", false
}

// submitCtl queues a membership change and its reply ("joined" or "left")
// on the room's worker.
func (c *conn) submitCtl(ctl uint8, room string, id []byte) {
	typ := "joined"
	if ctl == ctlLeave {
		typ = "left"
	}
	var buf [256]byte
	p := append(buf[:0], `{"type":"`...)
	p = append(p, typ...)
	p = append(p, `","room":`...)
	p = appendJSONString(p, room)
	if id != nil {
		p = append(p, `,"id":`...)
		p = append(p, id...)
	}
	p = append(p, '}')
	rb, hdr := frameBuf(0, frame.OpText, p)
	c.srv().workers.submit(room, job{buf: rb, hdr: hdr, op: frame.OpText, room: room, from: c, ctl: ctl})
}

// runMuxCtl applies a membership change on the room's worker and queues
// its reply: every message the worker fans out after a join reaches the
// connection, none after a leave. A join of a connection already closed
// is skipped (OnClose has removed it from its rooms); a leave is always
// applied, so a leave pending at close cannot leave it behind.
func (s *Server) runMuxCtl(w *worker, j *job) {
	c := j.from
	m := c.ext.mux
	m.mu.Lock()
	if j.ctl == ctlLeave {
		s.hub.Leave(j.room, c)
	} else if !m.closed {
		s.hub.Join(j.room, c)
	}
	m.mu.Unlock()
	if first, ok := c.deliver(j.buf); ok && first {
		w.dirty = append(w.dirty, c)
	}
	j.buf.Release()
}

// leaveMuxRooms removes a closing /ws connection from all its rooms.
func (c *conn) leaveMuxRooms() {
	m := c.ext.mux
	if m == nil {
		return
	}
	m.mu.Lock()
	m.closed = true
	c.srv().hub.LeaveAll(m.rooms, c)
	m.mu.Unlock()
}

// deliverMux queues job j to the /ws member c: the job's envelope,
// compressed for c if it negotiated permessage-deflate. It returns what
// deliver returns.
func (s *Server) deliverMux(j *job, c *conn, w *worker) (first, ok bool) {
	env := s.envelope(j, w)
	if c.dflBits() != 0 && c.ext != nil && s.cfg.DeflateContextTakeover {
		ej := job{buf: env, hdr: w.mux.hdr, op: frame.OpText}
		if first, ok, handled := s.deliverTakeover(&ej, c, w); handled {
			return first, ok
		}
	}
	payload := env.B[w.mux.hdr:]
	if c.dflBits() == 0 || len(payload) < s.cfg.DeflateThreshold {
		return c.deliver(env)
	}
	v := &w.mux.vars[c.dflBits()-deflate.MinWindowBits]
	if *v == nil {
		w.comp = deflate.Compress(w.comp[:0], payload, s.cfg.DeflateLevel, int(c.dflBits()))
		*v, _ = frameBuf(frame.RSV1, frame.OpText, w.comp)
		s.m.DeflateRaw.Add(len(payload))
		s.m.DeflateWire.Add(len(w.comp))
	}
	return c.deliver(*v)
}

// releaseMux drops the worker's envelope of the finished job.
func (w *worker) releaseMux() {
	if w.mux.env == nil {
		return
	}
	w.mux.env.Release()
	w.mux.env = nil
	for i, v := range w.mux.vars {
		if v != nil {
			v.Release()
			w.mux.vars[i] = nil
		}
	}
}

// Envelope data encodings.
const (
	dataJSON   = iota // the payload is one JSON value: as it is
	dataString        // other text: a JSON string
	dataBase64        // binary: a base64 JSON string, "encoding":"base64"
)

// envelope returns job j framed for /ws members, built once per job into
// a shared buffer of exactly the right size:
//
//	{"type":"message","room":"R","data":D,"encoding":"base64","from":"U"}
func (s *Server) envelope(j *job, w *worker) *poller.Buf {
	if w.mux.env != nil {
		return w.mux.env
	}
	payload := j.buf.B[j.hdr:]
	var user string
	if j.from != nil && j.from.ext != nil {
		user = j.from.ext.user
	}
	enc := dataJSON
	switch {
	case j.op == frame.OpBinary:
		enc = dataBase64
	case !j.json && !isJSONValue(payload):
		enc = dataString
	}
	n := len(`{"type":"message","data":}`)
	if j.room != "" {
		n += len(`,"room":`) + jsonStringLen(j.room)
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
	hdr := frame.HeaderSize(n, false)
	b := poller.NewBuf(hdr + n)
	p := frame.AppendHeader(b.B, true, 0, frame.OpText, n, nil)
	p = append(p, `{"type":"message"`...)
	if j.room != "" {
		p = append(p, `,"room":`...)
		p = appendJSONString(p, j.room)
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
	b.B = append(p, '}')
	w.mux.env, w.mux.hdr = b, hdr
	return b
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
