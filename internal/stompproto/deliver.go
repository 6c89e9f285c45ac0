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
// content-type, content-length, blank line, body, NUL. It is not a
// WebSocket frame (header length 0): each subscription's head carries
// the frame header for head and tail together.
func encodeTail(j *fanout.Job, _ []byte) (*poller.Buf, int) {
	return buildTail(contentType(j), j.Payload(), ""), 0
}

// buildTail builds a MESSAGE tail; extra, when not empty, is one more
// header line ("message:...\n") in front of content-type.
func buildTail(ctype string, body []byte, extra string) *poller.Buf {
	n := len(extra) + len("content-type:\ncontent-length:\n\n") + len(ctype) + 20 + len(body) + 1
	b := poller.NewBuf(n)
	b.B = append(b.B, extra...)
	b.B = stomp.AppendMessageTail(b.B, ctype, body)
	return b
}

// encodeTailDeflate is the fan-out encoder of the tail compressed for a
// 15-bit window without context takeover: the DEFLATE blocks that follow
// a subscription's head, sent as a stored block (see buildHead).
func (p *Protocol) encodeTailDeflate(j *fanout.Job, scratch []byte) (*poller.Buf, int) {
	t := buildTail(contentType(j), j.Payload(), "")
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
// of its own in front of the shared tail. Connections with
// permessage-deflate and a 15-bit window get large messages compressed:
// the head travels as a stored DEFLATE block in front of the tail's
// blocks, compressed once per message; other windows, context takeover
// and small messages go uncompressed (RFC 7692 leaves that choice to the
// sender, per message).
func (p *Protocol) deliverTopic(sb *sub, d *fanout.Delivery) (flush, ok bool) {
	s := sb.sess
	op := d.Job().Op()
	tail, _ := d.Plain(p.tailFmt)
	z := false
	if bits, takeover := compression(s.c); bits == deflate.MaxWindowBits && !takeover && len(tail.B) >= p.o.DeflateThreshold {
		tail, _ = d.Plain(p.zFmt)
		z = true
	}
	head := sb.buildHead(s.msgID.Add(1), op, len(tail.B), z, false)
	return queuePair(s.c, head, tail)
}

// deliverUser queues the current job to every subscription of the
// session to the user destination dest.
func (s *session) deliverUser(dest string, d *fanout.Delivery) (flush, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, false
	}
	ok = true
	for _, sb := range s.subs {
		if sb.kind != destUser || sb.name != dest || sb.dead.Load() {
			continue
		}
		tail, _ := d.Plain(s.p.tailFmt)
		head := sb.buildHead(s.msgID.Add(1), d.Job().Op(), len(tail.B), false, false)
		f, o := queuePair(s.c, head, tail)
		flush = flush || f
		ok = ok && o
	}
	return flush, ok
}

// deliverDirect sends a message straight to the session's subscriptions
// of user destination dest (replies and errors of /app forwards), from
// any goroutine, and flushes.
func (s *session) deliverDirect(dest string, op frame.Opcode, tail *poller.Buf) {
	s.mu.Lock()
	sent := false
	for _, sb := range s.subs {
		if s.closed || sb.kind != destUser || sb.name != dest || sb.dead.Load() {
			continue
		}
		head := sb.buildHead(s.msgID.Add(1), op, len(tail.B), false, false)
		queuePair(s.c, head, tail)
		sent = true
	}
	s.mu.Unlock()
	if sent {
		s.c.Flush()
	}
}

// buildHead returns, in a pooled Buf, the WebSocket frame header for a
// message of this head plus tailLen bytes, and the head: MESSAGE,
// destination, subscription, message-id, ack (1.2, acknowledged
// subscriptions), redelivered. With z the payload is compressed (RSV1):
// the head is a stored DEFLATE block, so the tail's blocks can follow.
func (sb *sub) buildHead(id uint64, op frame.Opcode, tailLen int, z, redelivered bool) *poller.Buf {
	var num [20]byte
	idb := strconv.AppendUint(num[:0], id, 10)
	ack := sb.ack != ackAuto && sb.sess.ver == stomp.V12
	n := len(sb.prefix) + len(idb) + 1
	if ack {
		n += len("ack:") + len(idb) + 1
	}
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
	p = append(p, sb.prefix...)
	p = append(p, idb...)
	p = append(p, '\n')
	if ack {
		p = append(p, "ack:"...)
		p = append(p, idb...)
		p = append(p, '\n')
	}
	if redelivered {
		p = append(p, "redelivered:true\n"...)
	}
	b.B = p
	return b
}
