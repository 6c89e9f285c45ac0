package fanout

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/poller"
)

// Format names one encoding of a message for one kind of subscriber: the
// plain WebSocket frame, the /ws JSON envelope, a STOMP MESSAGE body, a
// SockJS frame. FormatFrame is built in; the others are added by the
// protocols that use them (AddFormat) before the pool starts.
type Format uint8

// FormatFrame is the message as the publisher sent it: one WebSocket data
// frame with the publisher's opcode (the job's own Buf).
const FormatFrame Format = 0

// MaxFormats bounds the formats a Pool can hold.
const MaxFormats = 8

// Encoder builds a job's encoding for one format: a complete,
// uncompressed WebSocket frame (header first) in a new Buf, and the
// header's length. scratch is the worker's buffer for intermediate work.
type Encoder func(j *Job, scratch []byte) (b *poller.Buf, hdr int)

// AddFormat registers enc and returns the Format that names it. Call it
// before Start; it panics past MaxFormats (a wiring error).
func (p *Pool) AddFormat(enc Encoder) Format {
	if len(p.encs)+1 >= MaxFormats {
		panic("fanout: too many formats")
	}
	p.encs = append(p.encs, enc)
	return Format(len(p.encs))
}

// FrameBuf frames payload as one unfragmented WebSocket message from the
// server (rsv carries RSV1 for a compressed payload) into a new Buf, and
// returns the header length.
func FrameBuf(rsv byte, op frame.Opcode, payload []byte) (*poller.Buf, int) {
	hdr := frame.HeaderSize(len(payload), false)
	b := poller.NewBuf(hdr + len(payload))
	b.B = frame.AppendFrame(b.B, true, rsv, op, payload)
	return b, hdr
}

// Variant returns the current job in format f, compressed for a receiver
// whose permessage-deflate window is dfl bits (0: not negotiated). Each
// variant is built once per job, on first use, and shared; the caller
// retains it (Buf.Retain) if it queues it. Payloads under the pool's
// deflate threshold are never compressed.
func (d *Delivery) Variant(f Format, dfl uint8) *poller.Buf {
	plain, hdr := d.plain(f)
	if dfl == 0 || len(plain.B)-hdr < d.p.cfg.DeflateThreshold {
		return plain
	}
	v := &d.vars[f][1+dfl-deflate.MinWindowBits]
	if *v == nil {
		payload := plain.B[hdr:]
		d.comp = deflate.Compress(d.comp[:0], payload, d.p.cfg.DeflateLevel, int(dfl))
		*v, _ = FrameBuf(frame.RSV1, frame.Opcode(plain.B[0]&0x0f), d.comp)
		if m := d.p.m; m != nil {
			m.DeflateRaw.Add(len(payload))
			m.DeflateWire.Add(len(d.comp))
		}
	}
	return *v
}

// Plain returns the current job in format f, uncompressed, and the
// length of its frame header (for subscribers that compress with a
// context of their own).
func (d *Delivery) Plain(f Format) (*poller.Buf, int) { return d.plain(f) }

func (d *Delivery) plain(f Format) (*poller.Buf, int) {
	if f == FormatFrame {
		return d.job.Buf, d.job.Hdr
	}
	v := &d.vars[f][0]
	if *v == nil {
		*v, d.hdrs[f] = d.p.encs[f-1](&d.job, d.comp[:0])
	}
	return *v, d.hdrs[f]
}
