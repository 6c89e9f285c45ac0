package server

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/poller"
)

// job is one message to fan out: to a room's members or to a user's
// connections. The job owns one reference to buf.
type job struct {
	buf  *poller.Buf
	hdr  int // header length in buf; the payload follows
	op   frame.Opcode
	room string
	user string
	from *conn // the publishing connection, or nil for the admin API
	json bool  // the payload is known to be one JSON value (a /ws publish)
	// ctl, when set, makes the job a /ws membership change of from
	// (ctlJoin, ctlLeave; mux.go): buf is the reply, for from alone.
	ctl uint8
}

// frameBuf frames payload as one unmasked message (rsv carries RSV1 for a
// compressed payload) into a new shared Buf, and returns the header length.
func frameBuf(rsv byte, op frame.Opcode, payload []byte) (*poller.Buf, int) {
	hdr := frame.HeaderSize(len(payload), false)
	b := poller.NewBuf(hdr + len(payload))
	b.B = frame.AppendFrame(b.B, true, rsv, op, payload)
	return b, hdr
}

// workerPool runs fan-out jobs on a fixed set of goroutines. Jobs are
// assigned by a hash of their room (or user), so every message for one
// room is handled by one worker, in the order it was submitted: that is
// what keeps each publisher's messages in order at every receiver.
type workerPool struct {
	qs   []*jobQueue
	seed maphash.Seed
	wg   sync.WaitGroup
	m    *metrics.Metrics
	run  func(w *worker, first job)
}

// worker is one goroutine's reusable scratch space.
type worker struct {
	q       *jobQueue
	members []*conn
	dirty   []*conn
	vars    [deflate.MaxWindowBits - deflate.MinWindowBits + 1]*poller.Buf // compressed variants of the current job
	comp    []byte                                                         // compression scratch
	mux     muxScratch                                                     // the current job's /ws envelope
}

func newWorkerPool(n, queue int) *workerPool {
	p := &workerPool{qs: make([]*jobQueue, n), seed: maphash.MakeSeed()}
	for i := range p.qs {
		p.qs[i] = newJobQueue(queue)
	}
	return p
}

func (p *workerPool) start() {
	for _, q := range p.qs {
		p.wg.Add(1)
		go func(w *worker) {
			defer p.wg.Done()
			for {
				j, ok := w.q.next()
				if !ok {
					return
				}
				t := time.Now()
				p.run(w, j)
				p.m.WorkerSeconds.UpdateDuration(t)
			}
		}(&worker{q: q})
	}
}

// stop closes the queues and waits for the workers to finish what was
// queued.
func (p *workerPool) stop() {
	for _, q := range p.qs {
		q.close()
	}
	p.wg.Wait()
}

func (p *workerPool) queueFor(key string) *jobQueue {
	return p.qs[maphash.String(p.seed, key)%uint64(len(p.qs))]
}

// submit queues j, waiting while the worker's queue is full: a publisher
// faster than its fan-out slows down instead of growing memory.
func (p *workerPool) submit(key string, j job) {
	p.queueFor(key).push(nil, j)
}

// submitCtx is submit with a deadline, for the admin API.
func (p *workerPool) submitCtx(ctx context.Context, key string, j job) error {
	if !p.queueFor(key).push(ctx.Done(), j) {
		return ctx.Err()
	}
	return nil
}

// pending returns the number of queued jobs.
func (p *workerPool) pending() int {
	n := 0
	for _, q := range p.qs {
		n += q.len()
	}
	return n
}
