package server

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/fanout"
)

// Deflate state per connection is one byte, conn.dfl: 0 when
// permessage-deflate was not negotiated, else the server's window bits
// (8..15). In the default mode (no context takeover either way) that is
// all: a compressed message is inflated and each outgoing one deflated
// with pooled codecs, so an idle connection holds no compression state.
// With -deflate-context-takeover the connection's connExt also holds a
// Compressor and/or Decompressor for the directions that keep context.

// setupDeflate records the negotiated parameters on c.
func (c *conn) setupDeflate(p deflate.Params) {
	s := c.srv()
	bits := p.ServerMaxWindowBits
	if bits == 0 {
		bits = deflate.MaxWindowBits
	}
	c.setDfl(bits)
	if !s.cfg.DeflateContextTakeover {
		return
	}
	if c.ext == nil {
		c.ext = &connExt{}
	}
	if !p.ServerNoContextTakeover {
		c.ext.comp = deflate.NewCompressor(s.cfg.DeflateLevel, bits)
	}
	if !p.ClientNoContextTakeover {
		c.ext.decomp = deflate.NewDecompressor()
	}
}

// releaseDeflate frees per-connection compression state (takeover mode).
func (c *conn) releaseDeflate() {
	if c.ext == nil {
		return
	}
	c.ext.mu.Lock()
	defer c.ext.mu.Unlock()
	if c.ext.comp != nil {
		c.ext.comp.Close()
		c.ext.comp = nil
	}
	if c.ext.decomp != nil {
		c.ext.decomp.Close()
		c.ext.decomp = nil
	}
}

// inflate decompresses a compressed message into the loop's scratch
// buffer, stopping at limit (the endpoint's message limit), and checks UTF-8 for text.
func (c *conn) inflate(op frame.Opcode, payload []byte, limit int64, b *batch) ([]byte, error) {
	var out []byte
	var err error
	if c.ext != nil && c.ext.decomp != nil {
		out, err = c.ext.decomp.Decompress(b.inflate[:0], payload, limit)
	} else {
		out, err = deflate.Decompress(b.inflate[:0], payload, limit)
	}
	if cap(out) <= 1<<20 {
		b.inflate = out[:0]
	}
	if err != nil {
		return nil, err
	}
	if op == frame.OpText && !frame.ValidUTF8(out) {
		return nil, frame.ErrInvalidUTF8
	}
	return out, nil
}

// appendMessage appends one outgoing data message to dst, compressed
// when deflate was negotiated and the payload reaches the threshold.
func (c *conn) appendMessage(dst []byte, op frame.Opcode, payload []byte, b *batch) []byte {
	s := c.srv()
	if c.dflBits() == 0 || len(payload) < s.cfg.DeflateThreshold {
		return frame.AppendFrame(dst, true, 0, op, payload)
	}
	var z []byte
	if c.ext != nil && s.cfg.DeflateContextTakeover {
		c.ext.mu.Lock()
		if c.ext.comp != nil {
			z = c.ext.comp.Compress(b.comp[:0], payload)
		}
		c.ext.mu.Unlock()
	}
	if z == nil {
		z = deflate.Compress(b.comp[:0], payload, s.cfg.DeflateLevel, int(c.dflBits()))
	}
	if cap(z) <= 1<<20 {
		b.comp = z[:0]
	}
	if s.cfg.Metrics {
		s.m.DeflateRaw.Add(len(payload))
		s.m.DeflateWire.Add(len(z))
	}
	dst = frame.AppendHeader(dst, true, frame.RSV1, op, len(z), nil)
	return append(dst, z...)
}

// deliverTakeover compresses the message for c with c's own context and
// queues it (context-takeover mode: one compression per receiver, that
// mode's cost). The lock keeps compression order equal to queue order. It
// returns what Queue returns; handled is false when c has no context of
// its own or the message is under the threshold.
func (c *conn) deliverTakeover(d *fanout.Delivery, f fanout.Format) (first, ok, handled bool) {
	plain, hdr := d.Plain(f)
	payload := plain.B[hdr:]
	if len(payload) < c.srv().cfg.DeflateThreshold {
		return false, false, false
	}
	c.ext.mu.Lock()
	defer c.ext.mu.Unlock()
	if c.ext.comp == nil {
		return false, false, false
	}
	z := c.ext.comp.Compress(d.Scratch(), payload)
	d.SetScratch(z)
	fb, _ := fanout.FrameBuf(frame.RSV1, frame.Opcode(plain.B[0]&0x0f), z)
	first, ok = c.Queue(fb)
	fb.Release()
	return first, ok, true
}
