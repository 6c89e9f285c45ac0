package server

import (
	"sync"
	"time"
)

// keptRing is the ring length a worker's queue keeps once it has grown
// past it and drained: enough for ordinary bursts without reallocating,
// 4.5 KiB of jobs.
const keptRing = 64

// trimAfter is how long a grown queue must stay empty before the worker
// gives its ring back.
const trimAfter = time.Second

// jobQueue is one worker's queue of jobs: a FIFO bounded at max jobs whose
// memory follows the backlog. A buffered channel of max jobs would hold
// max*72 B per worker for the life of the process (1.2 MB for the
// default pool) and make the garbage collector scan it every cycle; this
// ring starts empty, doubles while jobs wait, and shrinks back to keptRing
// once it has stayed empty for trimAfter (so bursts do not make it
// reallocate over and over).
//
// Publishers that find it full wait (push), which is the backpressure the
// pool promises: a publisher faster than its fan-out slows down instead of
// growing memory. One worker pops.
type jobQueue struct {
	mu   sync.Mutex
	ring []job // len is a power of two (or 0)
	head int
	n    int
	max  int
	// idle is set by the worker when it found the queue empty and is about
	// to wait on wake; the next push clears it and sends on wake.
	idle bool
	wake chan struct{} // capacity 1; closed by close
	// space (capacity 1) wakes one publisher waiting for a slot; a woken
	// publisher that queued its job passes the wake-up on while slots and
	// waiters remain.
	space   chan struct{}
	waiters int
	closed  bool
	trim    *time.Timer // the worker's, created the first time the ring grows past keptRing
	// trimAfter is the const of that name, shortened by tests.
	trimAfter time.Duration
}

func newJobQueue(max int) *jobQueue {
	return &jobQueue{max: max, wake: make(chan struct{}, 1), space: make(chan struct{}, 1), trimAfter: trimAfter}
}

// push appends j, waiting while the queue is full until a slot frees or
// done is closed (nil: wait for good). It reports false if done closed
// first; j is then not queued.
func (q *jobQueue) push(done <-chan struct{}, j job) bool {
	q.mu.Lock()
	for q.n >= q.max {
		q.waiters++
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-done:
			q.mu.Lock()
			q.waiters--
			q.mu.Unlock()
			return false
		}
		q.mu.Lock()
		q.waiters--
	}
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)&(len(q.ring)-1)] = j
	q.n++
	if q.waiters > 0 && q.n < q.max {
		q.signalSpace()
	}
	signal := q.idle
	q.idle = false
	q.mu.Unlock()
	if signal {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return true
}

func (q *jobQueue) signalSpace() {
	select {
	case q.space <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (q *jobQueue) grow() {
	n := max(2*len(q.ring), keptRing)
	ring := make([]job, n)
	for i := range q.n {
		ring[i] = q.ring[(q.head+i)&(len(q.ring)-1)]
	}
	q.ring, q.head = ring, 0
}

// tryPop removes and returns the oldest job, if any.
func (q *jobQueue) tryPop() (job, bool) {
	q.mu.Lock()
	j, ok := q.popLocked()
	q.mu.Unlock()
	return j, ok
}

func (q *jobQueue) popLocked() (job, bool) {
	if q.n == 0 {
		return job{}, false
	}
	j := q.ring[q.head]
	q.ring[q.head] = job{} // drop the references for the collector
	q.head = (q.head + 1) & (len(q.ring) - 1)
	q.n--
	if q.waiters > 0 {
		q.signalSpace()
	}
	return j, true
}

// next returns the oldest job, waiting for one while the queue is empty;
// ok is false once the queue is closed and empty. A ring that grew past
// keptRing is given back when the queue stays empty for trimAfter.
func (q *jobQueue) next() (job, bool) {
	for {
		q.mu.Lock()
		if j, ok := q.popLocked(); ok {
			q.mu.Unlock()
			return j, true
		}
		if q.closed {
			q.mu.Unlock()
			return job{}, false
		}
		q.idle = true
		grown := len(q.ring) > keptRing
		q.mu.Unlock()
		if !grown {
			<-q.wake
			continue
		}
		if q.trim == nil {
			q.trim = time.NewTimer(q.trimAfter)
		} else {
			q.trim.Reset(q.trimAfter)
		}
		select {
		case <-q.wake:
			q.trim.Stop()
		case <-q.trim.C:
			q.mu.Lock()
			if q.n == 0 {
				q.ring, q.head = make([]job, keptRing), 0
			}
			q.mu.Unlock()
		}
	}
}

// len returns the number of queued jobs.
func (q *jobQueue) len() int {
	q.mu.Lock()
	n := q.n
	q.mu.Unlock()
	return n
}

// close ends the queue: the worker drains what is queued and then next
// reports false. Pushing after close is a bug (as sending on a closed
// channel is).
func (q *jobQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	close(q.wake)
}
