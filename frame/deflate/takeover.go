package deflate

import (
	"io"

	"github.com/klauspost/compress/flate"
)

// Compressor compresses the messages of one connection with context
// takeover: the LZ77 window carries over from message to message (used when
// the negotiated Params lack ServerNoContextTakeover). It holds a flate
// writer for the connection's life (see the package doc for its size). Not
// safe for concurrent use: it belongs to whoever writes the connection.
type Compressor struct {
	w     *writer
	level int
	bits  int
}

// NewCompressor returns a Compressor for flate level (1..9, others mean
// DefaultLevel) and the negotiated server_max_window_bits (0 means 15). Its
// writer comes from the same pool as Compress's; Close returns it.
func NewCompressor(level, windowBits int) *Compressor {
	level, bits := normLevel(level), normBits(windowBits)
	return &Compressor{w: getWriter(level, bits), level: level, bits: bits}
}

// Compress appends the compressed payload of the next message to dst, with
// the 00 00 ff ff tail removed. It allocates nothing when dst has room. It
// must not be called after Close.
func (c *Compressor) Compress(dst, payload []byte) []byte {
	return c.w.compressTo(dst, payload)
}

// Close releases the flate writer (back to the pool, reset on reuse).
// Close is idempotent.
func (c *Compressor) Close() {
	if c.w != nil {
		putWriter(c.w, c.level, c.bits)
		c.w = nil
	}
}

// Decompressor decompresses the messages of one connection whose peer uses
// context takeover (the negotiated Params lack ClientNoContextTakeover). The
// zero value is ready to use; it takes a flate reader from the pool on the
// first message and holds it (about 37 KiB) until Close.
//
// How a message ends: the flate reader is fed the message plus 00 00 ff ff
// and, once the sync flush's empty stored block is decoded, asks for the
// next block header. Returning io.EOF there would stick in the reader (its
// window could then only be kept by copying 32 KiB per message), so the
// source panics with a private value instead, which readMessage recovers:
// the reader is left untouched, between blocks, with its window. A message
// that ends inside a block is reported as ErrCorrupt. Not safe for
// concurrent use: it belongs to whoever reads the connection.
//
// After an error the stream state is lost: every later call returns the
// same error and the connection must be closed with its code.
type Decompressor struct {
	r       *reader
	restart bool  // the peer ended its stream with a final block
	err     error // sticky
}

// NewDecompressor returns a new Decompressor (same as new(Decompressor)).
func NewDecompressor() *Decompressor { return new(Decompressor) }

// Decompress appends the next message's payload to dst, continuing the
// connection's DEFLATE stream. limit, the growth of dst, ErrTooBig and
// ErrCorrupt work as in Decompress. If the peer ends a message with a final
// block (BFINAL, RFC 7692 section 7.2.3.5), the next message starts a new
// stream with an empty window.
func (d *Decompressor) Decompress(dst, compressed []byte, limit int64) ([]byte, error) {
	if d.err != nil {
		return dst, d.err
	}
	switch {
	case d.r == nil:
		d.r = getReader(compressed, syncTail)
		d.r.src.panicAtEnd = true
	case d.restart:
		d.r.src.reset(compressed, syncTail)
		_ = d.r.fr.(flate.Resetter).Reset(&d.r.src, nil) // cannot fail
	default:
		d.r.src.reset(compressed, syncTail)
	}
	d.restart = false
	start := len(dst)
	dst, err := d.readMessage(dst, limit)
	switch err {
	case nil:
		return dst, nil
	case io.EOF:
		d.restart = true
		return dst, nil
	case ErrTooBig:
	default:
		err = ErrCorrupt
	}
	d.err = err
	return dst[:start], err
}

// readMessage reads until the flate reader asks for bytes past the tail
// (the msgEnd panic, recovered here) or fails.
func (d *Decompressor) readMessage(dst []byte, limit int64) (out []byte, err error) {
	out = dst
	start := len(dst)
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if _, ok := v.(msgEnd); !ok {
			panic(v)
		}
		// Clean only if the reader wants the next block's header right
		// after a stored block (the sync flush); otherwise the message
		// ended inside a block.
		if !d.r.src.lastByRead {
			err = ErrCorrupt
		}
	}()
	for {
		// out must hold the grown buffer before Read may panic.
		var buf []byte
		out, buf = chunkBuf(out, start, limit)
		n, rerr := d.r.fr.Read(buf)
		if out, err = advance(out, n, rerr, start, limit); err != nil {
			return out, err
		}
	}
}

// Close releases the flate reader (back to the pool). Close is idempotent;
// the Decompressor is usable again afterwards, starting a new stream.
func (d *Decompressor) Close() {
	if d.r != nil {
		d.r.src.panicAtEnd = false
		putReader(d.r)
	}
	*d = Decompressor{}
}
