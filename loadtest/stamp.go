package loadtest

import "github.com/wsgate/wsgate/loadtest/wsclient"

// Every message wsload sends starts with a 42-byte ASCII stamp, so that text
// and binary messages, echoed or broadcast, carry the same facts:
//
//	'W' ts(16 hex: unix nanoseconds of the intended send time)
//	    id(8 hex: connection or publisher id) seq(16 hex) '|'
//
// followed by filler letters up to the payload size. Receivers compute
// latency from ts and detect loss, duplicates and reordering from (id, seq).
const stampLen = 1 + 16 + 8 + 16 + 1

const hexDigits = "0123456789abcdef"

// fillerAlphabet makes the padding printable and only mildly compressible.
const fillerAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// newPayload returns a payload template of size bytes (at least stampLen).
func newPayload(size int, seed uint64) []byte {
	if size < stampLen {
		size = stampLen
	}
	p := make([]byte, size)
	r := wsclient.Rand{}
	r.Seed(seed)
	for i := stampLen; i < size; i++ {
		p[i] = fillerAlphabet[r.Next()>>58]
	}
	putStamp(p, 0, 0, 0)
	return p
}

// putStamp writes the stamp into p[:stampLen].
func putStamp(p []byte, ts int64, id uint32, seq uint64) {
	_ = p[stampLen-1]
	p[0] = 'W'
	putHex(p[1:17], uint64(ts))
	putHex(p[17:25], uint64(id))
	putHex(p[25:41], seq)
	p[41] = '|'
}

func putHex(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = hexDigits[v&0xF]
		v >>= 4
	}
}

// parseStamp reads a stamp; ok is false when p does not start with one.
func parseStamp(p []byte) (ts int64, id uint32, seq uint64, ok bool) {
	if len(p) < stampLen || p[0] != 'W' || p[41] != '|' {
		return 0, 0, 0, false
	}
	a, ok1 := getHex(p[1:17])
	b, ok2 := getHex(p[17:25])
	c, ok3 := getHex(p[25:41])
	return int64(a), uint32(b), c, ok1 && ok2 && ok3
}

func getHex(s []byte) (uint64, bool) {
	var v uint64
	for _, ch := range s {
		var d byte
		switch {
		case ch >= '0' && ch <= '9':
			d = ch - '0'
		case ch >= 'a' && ch <= 'f':
			d = ch - 'a' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// seqTracker follows one (receiver, sender) stream of sequence numbers
// starting at 1. It keeps a 64-wide window below the highest number seen:
// a number seen again inside it is a duplicate, a late one inside it is a
// reorder. Numbers older than the window count as reordered (documented
// ambiguity: a duplicate that late cannot be told apart).
type seqTracker struct {
	hi     uint64 // highest sequence number seen
	window uint64 // bit i set: hi-i seen
	unique uint64 // distinct sequence numbers seen
}

// seqResult is what one observation was.
type seqResult uint8

const (
	seqNew seqResult = iota
	seqDuplicate
	seqReordered
)

func (t *seqTracker) observe(seq uint64) seqResult {
	switch {
	case seq > t.hi:
		shift := seq - t.hi
		if shift >= 64 {
			t.window = 0
		} else {
			t.window <<= shift
		}
		t.window |= 1
		t.hi = seq
		t.unique++
		return seqNew
	case t.hi-seq >= 64:
		t.unique++
		return seqReordered
	}
	bit := uint64(1) << (t.hi - seq)
	if t.window&bit != 0 {
		return seqDuplicate
	}
	t.window |= bit
	t.unique++
	return seqReordered
}
