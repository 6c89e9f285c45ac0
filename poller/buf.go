package poller

import (
	"sync"
	"sync/atomic"
)

// Buf is an immutable byte slice shared by many outbound queues. A message
// bound for many connections is encoded once into a Buf; every queue that
// holds it owns one reference, and the last Release returns the memory to
// its pool.
//
// After the first Send the bytes must not be changed.
type Buf struct {
	// B holds the encoded bytes (usually one or more complete frames).
	B    []byte
	refs atomic.Int32
	// class is the index of the size class the backing array came from, or
	// -1 for an array the pool does not own.
	class int8
}

// bufClasses are the capacities the Buf pools hand out.
var bufClasses = [...]int{256, 1 << 10, 4 << 10, 16 << 10, 64 << 10}

var bufPools [len(bufClasses)]sync.Pool

// NewBuf returns a Buf with one reference and len(B) == 0, whose capacity is
// at least size. Buffers up to 64 KiB come from size-classed pools; larger
// ones are allocated and left to the garbage collector.
func NewBuf(size int) *Buf {
	for i, c := range bufClasses {
		if size <= c {
			if v := bufPools[i].Get(); v != nil {
				b := v.(*Buf)
				b.B = b.B[:0]
				b.refs.Store(1)
				return b
			}
			b := &Buf{B: make([]byte, 0, c), class: int8(i)}
			b.refs.Store(1)
			return b
		}
	}
	b := &Buf{B: make([]byte, 0, size), class: -1}
	b.refs.Store(1)
	return b
}

// Retain adds a reference.
func (b *Buf) Retain() { b.refs.Add(1) }

// Release drops a reference; the last one returns the Buf to its pool.
func (b *Buf) Release() {
	n := b.refs.Add(-1)
	if n > 0 {
		return
	}
	if n < 0 {
		panic("poller: Buf released more times than retained")
	}
	if b.class >= 0 && cap(b.B) == bufClasses[b.class] {
		bufPools[b.class].Put(b)
	}
}
