package poller

import (
	"sync"
	"sync/atomic"

	"github.com/lesismal/nbio"
)

// Loop is one event-loop goroutine as the handler sees it: an index and
// the handler's own per-loop state (an output batch, scratch buffers).
// Handler.OnData gets the Loop it runs on, and Engine.LoopOf finds the
// Loop serving a connection; either way, the handler never has to know
// how nbio assigns connections to its pollers.
//
// Only the loop's goroutine uses Data while it serves OnData. With TLS, a
// handshake goroutine may deliver the bytes that arrived with the end of
// a handshake; it holds the Loop's lock to do so, which the loop holds
// around its own OnData calls too.
type Loop struct {
	// Index numbers the loops from 0 in the order they first served a
	// connection; it is below Config.Pollers.
	Index int
	// Data is the handler's per-loop state, made by Config.LoopData.
	Data any

	key *[]byte    // nbio's read buffer of this poller: its identity
	mu  sync.Mutex // TLS engines only; see above
	tls []byte     // TLS plaintext buffer
	// sends is the loop's send batch, set once when the engine batches
	// sends (Config.BatchSends) and the loop got a ring.
	sends atomic.Pointer[sendBatch]
	// ringErr is why the loop stopped batching, once its ring failed.
	ringErr atomic.Pointer[error]
}

// loops is the Engine's set of Loops, found by nbio's per-poller read
// buffer, which nbio's exported PollerBufferPtr returns for a connection.
// The set is small (one per poller) and read on every OnData, so lookups
// scan an immutable slice published atomically; a new poller's Loop is
// added under mu.
type loops struct {
	all  atomic.Pointer[[]*Loop]
	mu   sync.Mutex
	make func(index int) any
	tls  int // TLS plaintext buffer size; 0 without TLS
}

// LoopOf returns the Loop that serves c.
func (e *Engine) LoopOf(c *Conn) *Loop { return e.loopOf(c.nc) }

func (e *Engine) loopOf(nc *nbio.Conn) *Loop {
	key := e.nb.PollerBufferPtr(nc)
	if all := e.loops.all.Load(); all != nil {
		for _, l := range *all {
			if l.key == key {
				return l
			}
		}
	}
	return e.loops.add(key)
}

func (ls *loops) add(key *[]byte) *Loop {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var cur []*Loop
	if p := ls.all.Load(); p != nil {
		cur = *p
	}
	for _, l := range cur {
		if l.key == key {
			return l
		}
	}
	l := &Loop{Index: len(cur), key: key}
	if ls.make != nil {
		l.Data = ls.make(l.Index)
	}
	if ls.tls > 0 {
		l.tls = make([]byte, ls.tls)
	}
	next := append(append(make([]*Loop, 0, len(cur)+1), cur...), l)
	ls.all.Store(&next)
	return l
}
