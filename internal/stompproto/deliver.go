package stompproto

import (
	"strconv"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/poller"
)

// Content types of MESSAGE frames, from the fan-out job: JSON values,
// other text, binary.
const (
	typeJSON   = "application/json"
	typeText   = "text/plain;charset=UTF-8"
	typeBinary = "application/octet-stream"
)

// contentType returns the MESSAGE content-type for job j.
func contentType(j *fanout.Job) string {
	switch {
	case j.Op() == frame.OpBinary:
		return typeBinary
	case j.JSON:
		return typeJSON
	}
	return typeText
}

// encodeTail is the fan-out encoder of the shared MESSAGE tail:
// message-id, the position headers of a room with history, content-type,
// content-length, blank line, body, NUL. It is not a WebSocket frame
// (header length 0): each subscription's head carries the frame header
// for head and tail together. The message-id is the message's, the same
// for every subscription it reaches (STOMP asks only that it identify the
// message), so the heads hold nothing that changes from one message to
// the next.
func (p *Protocol) encodeTail(j *fanout.Job, _ []byte) (*poller.Buf, int) {
	return p.buildJobTail(j), 0
}

// buildJobTail builds the MESSAGE tail of job j with a new message-id.
func (p *Protocol) buildJobTail(j *fanout.Job) *poller.Buf {
	ctype, body := contentType(j), j.Payload()
	b := poller.NewBuf(len("message-id:\n") + 20 + positionLen(j) + len("content-type:\ncontent-length:\n\n") + len(ctype) + 20 + len(body) + 1)
	b.B = append(b.B, "message-id:"...)
	b.B = strconv.AppendUint(b.B, p.ids.Add(1), 10)
	b.B = append(b.B, '\n')
	b.B = appendPosition(b.B, j)
	b.B = stomp.AppendMessageTail(b.B, ctype, body)
	return b
}

// buildTail builds a MESSAGE tail: message-id when id > 0 (fan-out and
// direct messages; a /queue message's id is in each delivery's head), and
// extra, when not empty, as more header lines ("message:...\n") in front
// of content-type.
func buildTail(id uint64, ctype string, body []byte, extra string) *poller.Buf {
	n := len(extra) + len("message-id:\ncontent-type:\ncontent-length:\n\n") + 20 + len(ctype) + 20 + len(body) + 1
	b := poller.NewBuf(n)
	if id > 0 {
		b.B = append(b.B, "message-id:"...)
		b.B = strconv.AppendUint(b.B, id, 10)
		b.B = append(b.B, '\n')
	}
	b.B = append(b.B, extra...)
	b.B = stomp.AppendMessageTail(b.B, ctype, body)
	return b
}

// encodeTailDeflate is the fan-out encoder of the tail compressed for a
// 15-bit window without context takeover: the DEFLATE blocks that follow
// a subscription's head, sent as a stored block (see buildHead).
func (p *Protocol) encodeTailDeflate(j *fanout.Job, scratch []byte) (*poller.Buf, int) {
	t := p.buildJobTail(j)
	z := deflate.Compress(scratch[:0], t.B, p.o.DeflateLevel, deflate.MaxWindowBits)
	b := poller.NewBuf(len(z))
	b.B = append(b.B, z...)
	if p.m != nil {
		p.m.DeflateRaw.Add(len(t.B))
		p.m.DeflateWire.Add(len(z))
	}
	t.Release()
	return b, 0
}

// compression returns the connection's permessage-deflate window bits (0:
// none) and whether it compresses with context takeover.
func compression(c protocol.Conn) (bits uint8, takeover bool) {
	if ci, ok := c.(protocol.CompressionInfo); ok {
		return ci.Compression()
	}
	return 0, false
}

// deliverTopic queues the current job to one topic subscription: a head
// in front of the shared tail. Connections with permessage-deflate and a
// 15-bit window get large messages compressed: the head travels as a
// stored DEFLATE block in front of the tail's blocks, compressed once per
// message; other windows, context takeover and small messages go
// uncompressed (RFC 7692 leaves that choice to the sender, per message).
func (p *Protocol) deliverTopic(sb *sub, d *fanout.Delivery) (flush, ok bool) {
	s := sb.sess
	tail, _ := d.Plain(p.tailFmt)
	z := false
	if s.z && len(tail.B) >= p.o.DeflateThreshold {
		tail, _ = d.Plain(p.zFmt)
		z = true
	}
	op := d.Job().Op()
	if sb.acks() {
		head := buildHead(sb.prefix(), 0, p.ids.Add(1), op, len(tail.B), z, false)
		return queuePair(s.c, head, tail)
	}
	return p.queueCached(s.c, d, sb.key, op, tail, z)
}

// queueCached queues the current job to a subscription of key without an
// ack header: the worker's cached whole frame, or its head and the tail.
func (p *Protocol) queueCached(c protocol.Conn, d *fanout.Delivery, key *subKey, op frame.Opcode, tail *poller.Buf, z bool) (first, ok bool) {
	b, joined := p.heads[d.Worker()].get(key, op, tail, z)
	if joined {
		return c.Queue(b)
	}
	return queueShared(c, b, tail)
}

// acks reports whether the subscription's MESSAGE frames carry an ack
// header (STOMP 1.2, ack client or client-individual), which makes each
// delivery's head its own.
func (sb *sub) acks() bool { return sb.ack != ackAuto && sb.sess.ver == stomp.V12 }

// deliverUser queues the current job to every subscription of the
// session to the user destination dest.
func (s *session) deliverUser(dest string, d *fanout.Delivery) (flush, ok bool) {
	mu := s.lock()
	mu.Lock()
	defer mu.Unlock()
	if s.closed {
		return false, false
	}
	ok = true
	p := s.p
	for sb := s.subs; sb != nil; sb = sb.next {
		if sb.kind != destUser || sb.dead.Load() || sb.k().name != dest {
			continue
		}
		tail, _ := d.Plain(p.tailFmt)
		op := d.Job().Op()
		var f, o bool
		if sb.acks() {
			f, o = queuePair(s.c, buildHead(sb.prefix(), 0, p.ids.Add(1), op, len(tail.B), false, false), tail)
		} else {
			f, o = p.queueCached(s.c, d, sb.key, op, tail, false)
		}
		flush = flush || f
		ok = ok && o
	}
	return flush, ok
}

// deliverDirect sends a message (its tail carries its message-id) straight
// to the session's subscriptions of user destination dest (replies and
// errors of /app forwards), from any goroutine, and flushes.
func (s *session) deliverDirect(dest string, op frame.Opcode, tail *poller.Buf) {
	mu := s.lock()
	mu.Lock()
	sent := false
	for sb := s.subs; sb != nil; sb = sb.next {
		if s.closed || sb.kind != destUser || sb.dead.Load() || sb.k().name != dest {
			continue
		}
		var ackID uint64
		if sb.acks() {
			ackID = s.p.ids.Add(1)
		}
		queuePair(s.c, buildHead(sb.prefix(), 0, ackID, op, len(tail.B), false, false), tail)
		sent = true
	}
	mu.Unlock()
	if sent {
		s.c.Flush()
	}
}

// buildHead returns, in a pooled Buf, the WebSocket frame header for a
// message of this head plus tailLen bytes, and the head: prefix (MESSAGE,
// destination, subscription), message-id when id > 0 (a /queue delivery;
// other tails carry theirs), ack when ackID > 0, redelivered. With z the
// payload is compressed (RSV1): the head is a stored DEFLATE block, so
// the tail's blocks can follow.
func buildHead(prefix string, id, ackID uint64, op frame.Opcode, tailLen int, z, redelivered bool) *poller.Buf {
	var num [2][20]byte
	idb := appendID(num[0][:0], "message-id:", id)
	ackb := appendID(num[1][:0], "ack:", ackID)
	n := len(prefix) + len(idb) + len(ackb)
	if redelivered {
		n += len("redelivered:true\n")
	}
	payload := n + tailLen
	var rsv byte
	if z {
		payload += 5
		rsv = frame.RSV1
	}
	hdr := frame.HeaderSize(payload, false)
	b := poller.NewBuf(hdr + payload - tailLen)
	p := frame.AppendHeader(b.B, true, rsv, op, payload, nil)
	if z {
		// A stored block (BFINAL 0, BTYPE 00) of n bytes: LEN, NLEN.
		p = append(p, 0, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
	}
	p = append(p, prefix...)
	p = append(p, idb...)
	p = append(p, ackb...)
	if redelivered {
		p = append(p, "redelivered:true\n"...)
	}
	b.B = p
	return b
}

// appendID appends the header line name+id (nothing when id is 0) to dst,
// which has room for it.
func appendID(dst []byte, name string, id uint64) []byte {
	if id == 0 {
		return dst
	}
	dst = append(dst, name...)
	dst = strconv.AppendUint(dst, id, 10)
	return append(dst, '\n')
}

// headWays is how many entries a worker's cache holds: one per distinct
// subscription key among the subscriptions of the message it delivers.
const headWays = 4

// maxJoined bounds a whole MESSAGE frame the head cache builds (head and
// tail in one buffer); larger messages go as a head and the shared tail.
// A message joins once per key, so copying it is cheap against queueing
// it to many subscriptions.
const maxJoined = 1024

// headCache is one fan-out worker's latest MESSAGE heads. A head depends
// only on the subscription's key (destination and id as the session
// escapes them), the opcode, the tail's length and compression, so the
// subscriptions of a topic that share a key share one head, queued by
// reference in front of the shared tail. When a second subscription of a
// key takes a small message, the entry joins head and tail into one
// frame, which that key's other subscriptions queue by reference too: a
// delivery then costs what a raw room member's does, while a
// subscription whose key is its own costs a head. Only its worker
// touches it.
type headCache struct {
	e    [headWays]headEntry
	next uint8 // the next entry to replace
	last uint8 // the entry used last
}

// headEntry is one cached head, the tail length it was built for, and
// the whole frame of the last message it was joined with.
type headEntry struct {
	key  *subKey
	n    int
	op   frame.Opcode
	z    bool
	head *poller.Buf // the cache's reference
	// joined is head and tail in one buffer; the entry keeps a reference
	// to tail, so the pointer names that message's tail alone.
	joined, tail *poller.Buf
}

// get returns what to queue for a subscription of key: a head for tail
// (joined false) or the whole frame (joined true). The cache keeps its
// references: the caller retains what it keeps.
func (c *headCache) get(key *subKey, op frame.Opcode, tail *poller.Buf, z bool) (b *poller.Buf, joined bool) {
	if e := &c.e[c.last]; e.key == key && e.tail == tail {
		return e.joined, true // the tail names the message, its opcode and compression
	}
	n := len(tail.B)
	for i := range c.e {
		e := &c.e[i]
		if e.key != key || e.head == nil || e.n != n || e.op != op || e.z != z {
			continue
		}
		c.last = uint8(i)
		switch {
		case e.tail == tail:
			return e.joined, true
		case len(e.head.B)+n > maxJoined:
			return e.head, false
		}
		e.dropJoined()
		j := poller.NewBuf(len(e.head.B) + n)
		j.B = append(append(j.B, e.head.B...), tail.B...)
		tail.Retain()
		e.joined, e.tail = j, tail
		return j, true
	}
	e := c.victim(tail)
	e.dropJoined()
	if e.head != nil {
		e.head.Release()
	}
	*e = headEntry{key: key, n: n, op: op, z: z, head: buildHead(key.prefix, 0, 0, op, n, z, false)}
	return e.head, false
}

// victim picks the entry a new key replaces: the next in turn that is
// not joined with the message being delivered, if there is one.
func (c *headCache) victim(tail *poller.Buf) *headEntry {
	for range headWays {
		i := c.next % headWays
		c.next++
		if c.e[i].tail != tail {
			c.last = i
			return &c.e[i]
		}
	}
	c.last = c.next % headWays
	return &c.e[c.last]
}

// dropJoined drops the entry's whole frame and its tail.
func (e *headEntry) dropJoined() {
	if e.joined != nil {
		e.joined.Release()
		e.tail.Release()
		e.joined, e.tail = nil, nil
	}
}
