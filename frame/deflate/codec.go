package deflate

import (
	"bytes"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// syncTail is the end of a sync flush (an empty stored block's LEN/NLEN),
// removed by senders and appended back by receivers (RFC 7692 7.2.1/7.2.2).
const syncTail = "\x00\x00\xff\xff"

// finalTail is syncTail followed by an empty final stored block, so a
// stateless reader ends with io.EOF instead of an unexpected EOF.
const finalTail = syncTail + "\x01\x00\x00\xff\xff"

// sliceWriter is the io.Writer a flate.Writer compresses into: it appends to
// b, the caller's dst.
type sliceWriter struct{ b []byte }

// Write appends p; it never fails.
func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// writer is a pooled flate writer with its output sink.
type writer struct {
	fw  *flate.Writer
	out sliceWriter
}

// writerPools holds idle writers by window bits (index bits-8) and level
// (index level; only index 0 is used below 15 bits, where the
// custom-window encoder has no level).
var writerPools [MaxWindowBits - MinWindowBits + 1][10]sync.Pool

func writerPool(level, bits int) *sync.Pool {
	if bits < MaxWindowBits {
		level = 0
	}
	return &writerPools[bits-MinWindowBits][level]
}

// getWriter returns a reset writer for normalized level and bits.
func getWriter(level, bits int) *writer {
	if w, _ := writerPool(level, bits).Get().(*writer); w != nil {
		w.fw.Reset(&w.out)
		return w
	}
	w := new(writer)
	var err error
	if bits < MaxWindowBits {
		w.fw, err = flate.NewWriterWindow(&w.out, 1<<bits)
	} else {
		w.fw, err = flate.NewWriter(&w.out, level)
	}
	if err != nil {
		panic("deflate: " + err.Error()) // unreachable: level and bits are normalized
	}
	return w
}

func putWriter(w *writer, level, bits int) {
	w.out.b = nil
	writerPool(level, bits).Put(w)
}

// compressTo writes payload through fw into dst with a sync flush and
// returns dst without the 00 00 ff ff tail.
func (w *writer) compressTo(dst, payload []byte) []byte {
	start := len(dst)
	w.out.b = dst
	// sliceWriter never fails, so neither do Write and Flush.
	_, _ = w.fw.Write(payload)
	_ = w.fw.Flush()
	out := w.out.b
	w.out.b = nil
	if n := len(out); n-start >= len(syncTail) && string(out[n-len(syncTail):]) == syncTail {
		out = out[:n-len(syncTail)]
	}
	return out
}

// Compress appends to dst the permessage-deflate payload of one message
// compressed without context takeover: raw DEFLATE with a sync flush whose
// 00 00 ff ff tail is removed. An empty payload gives the single byte 0x00.
// level is the flate level 1..9 (others mean DefaultLevel); windowBits is
// the negotiated server_max_window_bits (0 or out of range means 15); below
// 15 the custom-window encoder is used and level does not apply. It uses a
// pooled writer and allocates nothing when dst has room. Use it only for
// connections that negotiated server_no_context_takeover; the others need
// every compressed message to come from their Compressor.
func Compress(dst, payload []byte, level, windowBits int) []byte {
	level, bits := normLevel(level), normBits(windowBits)
	w := getWriter(level, bits)
	dst = w.compressTo(dst, payload)
	putWriter(w, level, bits)
	return dst
}

// msgReader reads a compressed message followed by a tail, without copying
// the message. It implements io.ByteReader so the flate reader uses it
// directly instead of wrapping it in a bufio.Reader.
//
// In context-takeover mode (panicAtEnd) a read past the tail panics with
// msgEnd instead of returning io.EOF: the flate reader is then left exactly
// as it was before starting the next block, with its window intact, and
// the Decompressor recovers. An io.EOF would stick in the reader and force
// a Reset that loses the window.
type msgReader struct {
	msg        []byte
	tail       string
	panicAtEnd bool
	// lastByRead: the last byte was taken by Read (a stored block's
	// length or data), so a following ReadByte starts a new block.
	lastByRead bool
}

// msgEnd is the panic value of a msgReader read past its tail.
type msgEnd struct{}

func (r *msgReader) reset(msg []byte, tail string) {
	r.msg, r.tail, r.lastByRead = msg, tail, false
}

// Read reads from the message, then from the tail.
func (r *msgReader) Read(p []byte) (int, error) {
	if len(r.msg) > 0 {
		n := copy(p, r.msg)
		r.msg = r.msg[n:]
		r.lastByRead = true
		return n, nil
	}
	if len(r.tail) > 0 {
		n := copy(p, r.tail)
		r.tail = r.tail[n:]
		r.lastByRead = true
		return n, nil
	}
	if r.panicAtEnd {
		r.lastByRead = false // inside a stored block: not a clean end
		panic(msgEnd{})
	}
	return 0, io.EOF
}

// ReadByte reads one byte from the message, then from the tail.
func (r *msgReader) ReadByte() (byte, error) {
	if len(r.msg) > 0 {
		c := r.msg[0]
		r.msg = r.msg[1:]
		r.lastByRead = false
		return c, nil
	}
	if len(r.tail) > 0 {
		c := r.tail[0]
		r.tail = r.tail[1:]
		r.lastByRead = false
		return c, nil
	}
	if r.panicAtEnd {
		panic(msgEnd{})
	}
	return 0, io.EOF
}

// reader is a pooled flate reader with its source.
type reader struct {
	fr  io.ReadCloser // implements flate.Resetter
	src msgReader
	// Stateless messages up to maxContiguous bytes are copied with their
	// tail into buf and read through br: klauspost/compress decodes a
	// *bytes.Reader on its fast path, several times cheaper per byte than
	// the generic io.ByteReader path msgReader takes (profiled in the
	// deflate echo benchmark: ~6 % of the server's CPU). The copy is a
	// memmove of the compressed bytes.
	buf []byte
	br  bytes.Reader
}

// maxContiguous bounds the copy of a stateless message (and so the
// pooled buffer a reader keeps); longer messages use msgReader.
const maxContiguous = 64 << 10

var readerPool sync.Pool // of *reader

// getReader returns a pooled reader reset to read msg followed by tail.
func getReader(msg []byte, tail string) *reader {
	r, _ := readerPool.Get().(*reader)
	if r == nil {
		r = new(reader)
		r.src.reset(msg, tail)
		r.fr = flate.NewReader(&r.src)
		return r
	}
	// A context-takeover Decompressor keeps this reader for the life of
	// its connection: do not let it pin a copy buffer.
	r.buf = nil
	r.src.reset(msg, tail)
	// Reset of the flate reader cannot fail.
	_ = r.fr.(flate.Resetter).Reset(&r.src, nil)
	return r
}

// getContiguousReader returns a pooled reader over a copy of msg followed
// by tail, read through a *bytes.Reader (the decoder's fast path).
func getContiguousReader(msg []byte, tail string) *reader {
	r, _ := readerPool.Get().(*reader)
	if r == nil {
		r = new(reader)
	}
	r.buf = append(append(r.buf[:0], msg...), tail...)
	r.br.Reset(r.buf)
	if r.fr == nil {
		r.fr = flate.NewReader(&r.br)
	} else {
		_ = r.fr.(flate.Resetter).Reset(&r.br, nil)
	}
	return r
}

func putReader(r *reader) {
	r.src.reset(nil, "")
	r.src.panicAtEnd = false
	r.br.Reset(nil)
	readerPool.Put(r)
}

// Decompress appends to dst the payload of one message compressed without
// context takeover (RSV1 set, fragments already joined). It appends the
// 00 00 ff ff tail without copying compressed and inflates straight into
// dst's spare capacity, growing dst as needed (doubling, in steps of at
// least 4 KiB) but never past len(dst)+limit+1 bytes of capacity: it fails
// with ErrTooBig as soon as the output would pass limit bytes (limit <= 0:
// no limit), however much the input would inflate. A corrupt stream fails
// with ErrCorrupt. On error it returns dst[:len(dst)] (its spare capacity
// may have been written). Empty messages may be encoded as 0x00 or
// 0x02 0x00; both decode. It uses a pooled reader and allocates nothing when
// dst has room.
func Decompress(dst, compressed []byte, limit int64) ([]byte, error) {
	var r *reader
	if len(compressed) <= maxContiguous {
		r = getContiguousReader(compressed, finalTail)
	} else {
		r = getReader(compressed, finalTail)
	}
	start := len(dst)
	var err error
	for err == nil {
		var buf []byte
		dst, buf = chunkBuf(dst, start, limit)
		var n int
		n, err = r.fr.Read(buf)
		dst, err = advance(dst, n, err, start, limit)
	}
	putReader(r)
	switch err {
	case io.EOF:
		return dst, nil
	case ErrTooBig:
		return dst[:start], err
	}
	return dst[:start], ErrCorrupt
}

// chunkBuf grows dst by up to readChunkSize if needed and returns it with
// the buffer the next read goes to: its spare capacity, cut so that output
// written from dst[start:] can pass limit (> 0) by one byte at most.
func chunkBuf(dst []byte, start int, limit int64) ([]byte, []byte) {
	want, hard := readChunkSize, 0
	rem := limit - int64(len(dst)-start) // bytes still allowed, if limit > 0
	if limit > 0 {
		if rem+1 < int64(want) {
			want = int(rem + 1)
		}
		if c := int64(start) + limit + 1; c < int64(maxInt) {
			hard = int(c)
		}
	}
	dst = grow(dst, want, hard)
	buf := dst[len(dst):cap(dst)]
	if limit > 0 && int64(len(buf)) > rem+1 {
		buf = buf[:rem+1]
	}
	return dst, buf
}

// advance extends dst by the n bytes a read put into its spare capacity and
// returns ErrTooBig if the output from dst[start:] passed limit (> 0), else
// the read's err.
func advance(dst []byte, n int, err error, start int, limit int64) ([]byte, error) {
	dst = dst[:len(dst)+n]
	if limit > 0 && int64(len(dst)-start) > limit {
		return dst, ErrTooBig
	}
	return dst, err
}

// readChunkSize is the most dst grows by before each read.
const readChunkSize = 4 << 10

const maxInt = int(^uint(0) >> 1)

// grow returns dst with room for at least want more bytes, doubling its
// capacity but not past hard (if hard > 0) unless want needs it.
func grow(dst []byte, want, hard int) []byte {
	if cap(dst)-len(dst) >= want {
		return dst
	}
	c := 2 * cap(dst)
	if hard > 0 && c > hard {
		c = hard
	}
	if c < len(dst)+want {
		c = len(dst) + want
	}
	nd := make([]byte, len(dst), c)
	copy(nd, dst)
	return nd
}
