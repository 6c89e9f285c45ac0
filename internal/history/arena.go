package history

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/poller"
)

// A room's kept payloads are copied once, packed back to back into chunks
// taken from the poller's buffer pools, so that keeping a message costs
// its own bytes rather than the size class of the buffer it was fanned
// out from (a 300-byte message travels in a 1 KiB buffer), and so that
// nothing is allocated in steady state: chunks go back to their pools
// when the last message in them is dropped (each kept message holds a
// reference to its chunk).
//
// A room's first chunk is small (256 B) and each next one four times the
// last, up to maxChunk, but never more than twice what the room keeps: a
// room that keeps one message holds 256 bytes, one that keeps 6 KB fills
// 4 KiB chunks, a busy one 16 KiB chunks. A payload over bigPayload gets
// a buffer of its own.

const (
	minChunk   = 256
	maxChunk   = 16 << 10
	bigPayload = maxChunk / 4
)

// arena is where one room's payloads are copied.
type arena struct {
	cur *poller.Buf // the chunk being filled (the arena's own reference); nil before the first
}

// add copies p and returns the buffer holding the copy (with one new
// reference, the caller's) and its offset there; kept is the payload
// bytes the room keeps besides p.
func (a *arena) add(p []byte, kept int) (*poller.Buf, int) {
	if len(p) > bigPayload {
		b := poller.NewBuf(len(p))
		b.B = append(b.B, p...)
		return b, 0
	}
	if a.cur == nil || cap(a.cur.B)-len(a.cur.B) < len(p) {
		size := minChunk
		if a.cur != nil {
			size = min(maxChunk, 4*cap(a.cur.B))
			a.cur.Release()
		}
		for size > minChunk && size/2 > kept+len(p) {
			size /= 4
		}
		for size < len(p) {
			size *= 4
		}
		a.cur = poller.NewBuf(size)
	}
	off := len(a.cur.B)
	a.cur.B = append(a.cur.B, p...)
	a.cur.Retain()
	return a.cur, off
}

// reset lets the chunk being filled go (its kept messages hold their own
// references), so the next message starts a small chunk again.
func (a *arena) reset() {
	if a.cur != nil {
		a.cur.Release()
		a.cur = nil
	}
}

// entry is one kept message: where its payload is, and what the fan-out
// needs to deliver it again.
type entry struct {
	buf    *poller.Buf // holds the payload at off; one reference
	seq    uint64      // the message's offset
	time   int64       // unix nanoseconds
	off, n int32
	op     frame.Opcode
	json   bool
	from   string
}

// payload returns the kept payload.
func (e *entry) payload() []byte { return e.buf.B[e.off : e.off+e.n] }

// cost is what the entry counts against the memory cap: its bytes and
// its bookkeeping (a payload with a buffer of its own counts the buffer).
func (e *entry) cost() int64 {
	if e.n > bigPayload {
		return int64(cap(e.buf.B)) + entrySize
	}
	return int64(e.n) + entrySize
}
