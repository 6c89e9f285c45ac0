package deflate

import (
	"sync"
	"sync/atomic"

	"github.com/wsgate/wsgate/frame"
)

// Prepared is one outgoing message encoded once for many receivers: its
// complete unmasked frame, uncompressed and compressed once per negotiated
// server window size. Build it with NewPrepared and share it: every method
// is safe for concurrent use, and a frame, once built, is never modified.
type Prepared struct {
	op        frame.Opcode
	level     int
	threshold int
	plain     []byte // complete uncompressed frame; payload is plain[hdr:]
	hdr       int

	mu       sync.Mutex                                                // serializes building variants
	variants [MaxWindowBits - MinWindowBits + 1]atomic.Pointer[[]byte] // by window bits - 8
}

// NewPrepared copies payload into a complete uncompressed frame (FIN set,
// opcode op) right away; compressed variants are built lazily by Frame.
// opts gives the level and threshold (nil means the zero Options).
func NewPrepared(op frame.Opcode, payload []byte, opts *Options) *Prepared {
	hs := frame.HeaderSize(len(payload), false)
	p := &Prepared{
		op:        op,
		level:     opts.EffectiveLevel(),
		threshold: opts.EffectiveThreshold(),
		hdr:       hs,
	}
	p.plain = frame.AppendFrame(make([]byte, 0, hs+len(payload)), true, 0, op, payload)
	return p
}

// Payload returns the uncompressed payload (shared, do not modify).
func (p *Prepared) Payload() []byte { return p.plain[p.hdr:] }

// Frame returns the complete frame for a receiver: uncompressed if
// compressed is false, the opcode is a control opcode, or the payload is
// shorter than the threshold; otherwise compressed with RSV1 set for the
// receiver's negotiated server_max_window_bits (0 means 15), in a single
// FIN frame. If compression does not make the payload smaller, the
// uncompressed frame is returned (RFC 7692 lets each message choose). The
// result is shared by all callers and must not be modified. The first call
// per window size compresses; later calls only load a pointer.
//
// Compressed frames are made without context, so they are for receivers
// that negotiated server_no_context_takeover (the default Options). A
// connection compressing with its own Compressor (context takeover) must
// not get them: the client's window would then hold bytes the Compressor
// never saw and its next back-references would point at the wrong data.
// Give such a connection Frame(false, 0) or compress for it with its
// Compressor.
func (p *Prepared) Frame(compressed bool, windowBits int) []byte {
	if !compressed || p.op.IsControl() || len(p.plain)-p.hdr < p.threshold {
		return p.plain
	}
	v := &p.variants[normBits(windowBits)-MinWindowBits]
	if f := v.Load(); f != nil {
		return *f
	}
	return p.build(v, normBits(windowBits))
}

// build compresses the payload for window bits, stores and returns the
// frame. Callers that race here wait for the first builder.
func (p *Prepared) build(v *atomic.Pointer[[]byte], bits int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := v.Load(); f != nil {
		return *f
	}
	payload := p.plain[p.hdr:]
	const room = 10 // largest unmasked header
	buf := Compress(make([]byte, room, room+len(payload)/2+16), payload, p.level, bits)
	f := p.plain
	if n := len(buf) - room; n < len(payload) {
		var hdr [room]byte
		h := frame.AppendHeader(hdr[:0], true, frame.RSV1, p.op, n, nil)
		f = buf[room-len(h):]
		copy(f, h)
	}
	v.Store(&f)
	return f
}
