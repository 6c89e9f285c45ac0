// Package bufpool lends byte buffers from size-classed pools, for codecs
// that copy a frame split across reads into a scratch buffer only while it
// is incomplete (the WebSocket decoder, the STOMP parser): an idle
// connection holds no buffer.
package bufpool

import (
	"math/bits"
	"sync"
)

// Buffers come from size-classed pools of *[]byte (a pointer, so Put does not allocate). Class i holds
// buffers of capacity 1<<(minClassShift+i). Larger buffers are allocated
// directly and left to the garbage collector.
const (
	minClassShift = 9  // 512 B
	maxClassShift = 24 // 16 MiB
	numClasses    = maxClassShift - minClassShift + 1
)

// bufPools is the process-wide set of buffer pools shared by every user.
var bufPools [numClasses]sync.Pool

// classOf returns the pool class whose buffers hold n bytes, or -1 if n is
// larger than the largest class.
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxClassShift {
		return -1
	}
	return shift - minClassShift
}

// Get returns an empty buffer with capacity of at least n.
func Get(n int) *[]byte {
	c := classOf(n)
	if c < 0 {
		b := make([]byte, 0, n)
		return &b
	}
	if v := bufPools[c].Get(); v != nil {
		p := v.(*[]byte)
		*p = (*p)[:0]
		return p
	}
	b := make([]byte, 0, 1<<(c+minClassShift))
	return &b
}

// Put returns p to its pool. Buffers whose capacity is not exactly a
// class size (the oversized ones) are dropped.
func Put(p *[]byte) {
	n := cap(*p)
	c := classOf(n)
	if c < 0 || n != 1<<(c+minClassShift) {
		return
	}
	*p = (*p)[:0]
	bufPools[c].Put(p)
}
