package fanout

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
// Publishers off the event loop that find it full wait (push); an event
// loop never waits (tryPush) and its publisher is told instead. Either way
// a publisher faster than its fan-out cannot grow memory. One worker pops.
type jobQueue struct {
	mu   sync.Mutex
	ring []Job // len is a power of two (or 0)
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
	stop    chan struct{} // closed by close: wakes waiting publishers
	trim    *time.Timer   // the worker's, created the first time the ring grows past keptRing
	// trimAfter is the const of that name, shortened by tests.
	trimAfter time.Duration
}

func newJobQueue(max int) *jobQueue {
	return &jobQueue{max: max, wake: make(chan struct{}, 1), space: make(chan struct{}, 1), stop: make(chan struct{}), trimAfter: trimAfter}
}

// push appends j, waiting while the queue is full until a slot frees or
// done is closed (nil: wait for good). It reports false if done closed
// first; j is then not queued.
// A closed queue refuses j (false) at once.
func (q *jobQueue) push(done <-chan struct{}, j Job) bool {
	q.mu.Lock()
	for q.n >= q.max && !q.closed {
		q.waiters++
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-q.stop:
		case <-done:
			q.mu.Lock()
			q.waiters--
			q.mu.Unlock()
			return false
		}
		q.mu.Lock()
		q.waiters--
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.appendUnlock(j)
	return true
}

// controlSlack is how far past its bound a queue takes control jobs
// (joins and leaves): a reconnect storm sends one join per client to the
// room's worker at once, and a join refused because messages filled the
// queue would leave the client out of its room. What causes control jobs
// is bounded elsewhere (connections, rooms per connection, rate limits);
// this bounds the queue's memory all the same, at about 9 MB.
const controlSlack = 1 << 16

// tryPush appends j unless the queue is full (for a control job: past
// controlSlack more) or closed; it never waits, so an event loop can call
// it.
func (q *jobQueue) tryPush(j Job) bool {
	limit := q.max
	if j.Ctl != nil {
		limit += controlSlack
	}
	q.mu.Lock()
	if q.n >= limit || q.closed {
		q.mu.Unlock()
		return false
	}
	q.appendUnlock(j)
	return true
}

// appendUnlock appends j to a queue with room for it, wakes the worker if
// it waits, and unlocks.
func (q *jobQueue) appendUnlock(j Job) {
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
}

func (q *jobQueue) signalSpace() {
	select {
	case q.space <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (q *jobQueue) grow() {
	n := max(2*len(q.ring), keptRing)
	ring := make([]Job, n)
	for i := range q.n {
		ring[i] = q.ring[(q.head+i)&(len(q.ring)-1)]
	}
	q.ring, q.head = ring, 0
}

// tryPop removes and returns the oldest job, if any.
func (q *jobQueue) tryPop() (Job, bool) {
	q.mu.Lock()
	j, ok := q.popLocked()
	q.mu.Unlock()
	return j, ok
}

func (q *jobQueue) popLocked() (Job, bool) {
	if q.n == 0 {
		return Job{}, false
	}
	j := q.ring[q.head]
	q.ring[q.head] = Job{} // drop the references for the collector
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
func (q *jobQueue) next() (Job, bool) {
	for {
		q.mu.Lock()
		if j, ok := q.popLocked(); ok {
			q.mu.Unlock()
			return j, true
		}
		if q.closed {
			q.mu.Unlock()
			return Job{}, false
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
				q.ring, q.head = make([]Job, keptRing), 0
			}
			q.mu.Unlock()
		}
	}
}

// isClosed reports whether close was called.
func (q *jobQueue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// len returns the number of queued jobs.
func (q *jobQueue) len() int {
	q.mu.Lock()
	n := q.n
	q.mu.Unlock()
	return n
}

// close ends the queue: the worker drains what is queued and then next
// reports false; pushes from then on are refused, and publishers waiting
// for room give up.
func (q *jobQueue) close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	q.mu.Unlock()
	close(q.wake)
	close(q.stop)
}
