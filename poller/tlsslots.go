package poller

import (
	"sync"
	"sync/atomic"
	"time"
)

// TLS handshake slots.
//
// A handshake runs on a goroutine of its own (crypto/tls cannot resume
// one after a would-block), and at most Config.TLSHandshakes run at once.
// A handshake whose peer stops sending keeps its slot until the open
// timeout: a few hundred stalled ClientHellos would make every honest
// handshake wait seconds for a slot. So when the slots are full, a
// newcomer does not queue behind them: it takes the slot of the oldest
// stalled handshake, which is closed (ErrHandshakeShed). A handshake is
// stalled when it is blocked waiting for its peer and
//
//   - has sent nothing yet (its ClientHello is incomplete) and started
//     stalledBefore ago: these go first, oldest first; or
//   - has sent its flight and started stalledAfter ago, when there is no
//     stalled handshake of the first kind: an honest peer answers within
//     a round trip, so one that has not after a second is not worth a
//     slot a newcomer needs.
//
// A newcomer queues (FIFO) only when no running handshake is stalled; the
// queue is then checked every recheckEvery, so a handshake that stalls
// later still makes way for it.

const (
	stalledBefore = 10 * time.Millisecond
	stalledAfter  = time.Second
	recheckEvery  = 10 * time.Millisecond
)

// hsState is a TLS connection's handshake slot. slot is guarded by the
// limiter's mu; the atomics are set by the handshake goroutine.
type hsState struct {
	slot    uint8       // slotNone, slotRunning, slotShed
	start   int64       // when the handshake started (monotonic ns since the limiter's epoch)
	waiting atomic.Bool // blocked reading from the peer
	wrote   atomic.Bool // the handshake has produced output
}

const (
	slotNone    uint8 = iota
	slotRunning       // holds a slot
	slotShed          // shed: its goroutine gives the slot back when it ends
)

// hsLimiter caps the handshake goroutines and sheds stalled ones.
type hsLimiter struct {
	mu      sync.Mutex
	max     int
	running int         // goroutines holding a slot (max+1 briefly after a shed)
	wait    []*tlsConn  // queued, FIFO
	run     []*tlsConn  // running, in start order (some finished: skipped)
	recheck *time.Timer // armed while the queue is not empty
	armed   bool
	epoch   time.Time
	shed    atomic.Uint64
	// The thresholds above, lengthened by tests.
	before, after time.Duration
}

func (l *hsLimiter) init(max int) {
	l.max, l.epoch, l.before, l.after = max, time.Now(), stalledBefore, stalledAfter
}

func (l *hsLimiter) now() int64 { return int64(time.Since(l.epoch)) }

// startLocked gives ts a slot.
func (l *hsLimiter) startLocked(ts *tlsConn) {
	ts.hs.slot, ts.hs.start = slotRunning, l.now()
	l.run = append(l.run, ts)
	if len(l.run) > 2*l.max+64 {
		kept := l.run[:0]
		for _, r := range l.run {
			if r.hs.slot == slotRunning {
				kept = append(kept, r)
			}
		}
		clear(l.run[len(kept):])
		l.run = kept
	}
}

// stalledLocked returns the oldest stalled running handshake, or nil.
// One stalled before sending anything goes first: its peer has not even
// sent a whole ClientHello, and no work is lost with it. One stalled after
// its flight goes only when there is none of those: its peer may be
// honest and slow.
func (l *hsLimiter) stalledLocked() *tlsConn {
	now := l.now()
	var late *tlsConn
	for i := 0; i < len(l.run); i++ {
		ts := l.run[i]
		if ts.hs.slot != slotRunning {
			if i == 0 { // finished at the front: forget it
				l.run[0] = nil
				l.run = l.run[1:]
				i--
			}
			continue
		}
		if !ts.hs.waiting.Load() {
			continue
		}
		age := time.Duration(now - ts.hs.start)
		if !ts.hs.wrote.Load() {
			if age >= l.before {
				return ts
			}
		} else if late == nil && age >= l.after {
			late = ts
		}
	}
	return late
}

// shedLocked takes the slot of the oldest stalled handshake for ts: the
// victim is marked and returned for the caller to close once mu is
// released; false when none is stalled.
func (l *hsLimiter) shedLocked(ts *tlsConn) (*tlsConn, bool) {
	v := l.stalledLocked()
	if v == nil {
		return nil, false
	}
	v.hs.slot = slotShed
	l.running++ // the victim's goroutine gives its slot back when it ends
	l.startLocked(ts)
	l.shed.Add(1)
	return v, true
}

// startHandshake runs ts's handshake on a goroutine: in a free slot, in
// the slot of the oldest stalled handshake, or, when every running
// handshake is making progress, after the ones queued before it.
func (e *Engine) startHandshake(ts *tlsConn) {
	l := &e.tls.hs
	l.mu.Lock()
	if l.running < l.max {
		l.running++
		l.startLocked(ts)
		l.mu.Unlock()
		go e.handshakeLoop(ts)
		return
	}
	if v, ok := l.shedLocked(ts); ok {
		l.mu.Unlock()
		v.c.nc.CloseWithError(ErrHandshakeShed)
		go e.handshakeLoop(ts)
		return
	}
	l.wait = append(l.wait, ts)
	if !l.armed {
		l.armed = true
		if l.recheck == nil {
			l.recheck = time.AfterFunc(recheckEvery, func() { e.recheckHandshakes() })
		} else {
			l.recheck.Reset(recheckEvery)
		}
	}
	l.mu.Unlock()
}

// recheckHandshakes gives queued connections the slots of handshakes that
// have stalled since they were queued.
func (e *Engine) recheckHandshakes() {
	l := &e.tls.hs
	var victims, started []*tlsConn
	l.mu.Lock()
	for len(l.wait) > 0 {
		ts := l.wait[0]
		if ts.st.Load() != tlsQueued { // closed while queued
			l.wait[0] = nil
			l.wait = l.wait[1:]
			continue
		}
		v, ok := l.shedLocked(ts)
		if !ok {
			break
		}
		l.wait[0] = nil
		l.wait = l.wait[1:]
		victims, started = append(victims, v), append(started, ts)
	}
	if len(l.wait) > 0 {
		l.recheck.Reset(recheckEvery)
	} else {
		l.wait, l.armed = nil, false
	}
	l.mu.Unlock()
	for _, v := range victims {
		v.c.nc.CloseWithError(ErrHandshakeShed)
	}
	for _, ts := range started {
		go e.handshakeLoop(ts)
	}
}

// handshakeLoop runs ts's handshake, then those of queued connections,
// then exits.
func (e *Engine) handshakeLoop(ts *tlsConn) {
	for ts != nil {
		e.handshake(ts)
		ts = e.tls.hs.next(ts)
	}
}

// next releases done's slot and returns the next queued connection still
// waiting, to run in that slot, or nil after giving the slot up. A shed
// handshake's goroutine always gives its slot up: the newcomer took it.
func (l *hsLimiter) next(done *tlsConn) *tlsConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	shed := done.hs.slot == slotShed
	done.hs.slot = slotNone
	for !shed && len(l.wait) > 0 {
		ts := l.wait[0]
		l.wait[0] = nil
		l.wait = l.wait[1:]
		if ts.st.Load() == tlsQueued {
			l.startLocked(ts)
			return ts
		}
	}
	if len(l.wait) == 0 {
		l.wait = nil
	}
	l.running--
	return nil
}
