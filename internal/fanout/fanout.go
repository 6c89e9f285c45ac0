// Package fanout delivers messages to the members of rooms and to the
// connections of users. A publisher hands a Job (one message, framed once
// into a shared, reference-counted buffer) to the Pool; the worker that
// owns the job's room snapshots the room's members from the hub and hands
// each one the message through the Subscriber interface. A member asks
// the Delivery for the encoding it wants (a Format, with or without
// permessage-deflate), and each encoding is built once per message, at
// its first use, and shared by reference by every member that wants it.
//
// Jobs for one room (or one user) always go to the same worker, in the
// order they were submitted: that is what keeps each publisher's messages
// in order at every receiver, and what lets membership changes (Control
// jobs) take effect exactly between two messages.
//
// Concurrency: Submit, TrySubmit, Fence and Pending may be called from any
// goroutine; TrySubmit never waits, so event loops use it. Subscribers'
// Deliver and Flush run on worker goroutines.
package fanout

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/poller"
)

// Errors returned by Submit.
var (
	// ErrOverloaded is returned by Submit when the job's queue stayed
	// full until its context ended.
	ErrOverloaded = errors.New("fanout: queue full")
	// ErrStopped is returned for jobs submitted after Stop.
	ErrStopped = errors.New("fanout: pool stopped")
)

// Subscriber is what a room or a user delivers to: a WebSocket
// connection, one STOMP subscription of a connection, a session that
// outlives its sockets, or a test double.
type Subscriber interface {
	// Deliver queues the message d describes, taking its own reference to
	// whichever encoding it wants (d.Variant). ok is false when the
	// subscriber no longer takes messages (it is closing); flush is true
	// when the worker must call Flush once it has queued the current batch
	// of messages (the subscriber's queue was empty before this one).
	Deliver(d *Delivery) (flush, ok bool)
	// Flush writes what Deliver queued. It is called once per batch of
	// jobs, after the last Deliver of the batch.
	Flush()
}

// Control is a membership change (or any action) that must happen in
// order with a room's messages: the worker calls Apply between the
// messages queued before the control job and those queued after it.
type Control interface {
	// Apply runs on the room's worker. j is the control job. It reports
	// whether j.From must be flushed after the batch.
	Apply(d *Delivery) (flush bool)
}

// Job is one message to fan out, or one Control to apply. A Job holds one
// reference to Buf, which the pool releases when the job is done.
type Job struct {
	// Room is the target room; when empty, User is the target user.
	Room string
	User string
	// Buf is the message framed as one unfragmented, uncompressed
	// WebSocket message (FormatFrame), header first; Hdr is the header's
	// length. For a control job it is whatever the Control needs (a reply
	// to From, say) and may be nil.
	Buf *poller.Buf
	Hdr int
	// JSON says the payload is known to be exactly one JSON value.
	JSON bool
	// Remote marks a message that came from another node: the pool
	// delivers it to local members and does not forward it again.
	Remote bool
	// From is the publishing member, which gets its own message only with
	// Config.EchoSelf; nil for the admin API and remote nodes.
	From Subscriber
	// FromUser is the publisher's user id ("" when anonymous).
	FromUser string
	// Ctl, when set, makes this a control job.
	Ctl Control
	// History marks a message to a room that keeps history: the room's
	// worker hands it to Config.Recorder, which stores it and sets Offset
	// and Epoch, before any member gets it. Publishers set it from the
	// history rules (a decision they cache per room name), so rooms
	// without history cost no lookup at all.
	History bool
	// Offset and Epoch are the message's position in its room's history:
	// Offset increases with every message of the room, Epoch names the
	// history (it changes when history was lost). They are zero for rooms
	// without history. Formats that carry positions (the /ws envelope, a
	// STOMP header) read them here.
	Offset uint64
	Epoch  string
	// Prev is the offset of the room's message before this one, for a
	// message whose offset a replicated log gave (Remote with Offset
	// set): it lets the store see a message it never received. Zero
	// otherwise.
	Prev uint64
}

// Payload returns the job's message payload.
func (j *Job) Payload() []byte { return j.Buf.B[j.Hdr:] }

// Op returns the job's message opcode.
func (j *Job) Op() frame.Opcode { return frame.Opcode(j.Buf.B[0] & 0x0f) }

// Config configures a Pool. Zero values take the defaults given.
type Config struct {
	// Workers is the number of worker goroutines; default 4.
	Workers int
	// Queue bounds each worker's queue, in jobs; default 4096.
	Queue int
	// EchoSelf delivers a member's messages to itself too.
	EchoSelf bool
	// DeflateLevel and DeflateThreshold govern compressed variants:
	// payloads shorter than the threshold are never compressed.
	DeflateLevel, DeflateThreshold int
	// Metrics receives the pool's counters; nil records nothing.
	Metrics *metrics.Metrics
	// Recorder, when set, keeps the history of rooms whose jobs are
	// marked History.
	Recorder Recorder
}

// Recorder keeps room history for a Pool. Record runs on the worker that
// owns the job's room (worker is its index, from 0 to Workers-1; a room
// always has the same one), before the job is fanned out: it stores the
// message and sets j.Offset and j.Epoch, and reports true; the worker
// then delivers the job. A store whose offsets come from elsewhere (a
// replicated log) may take the message instead and report false: the
// worker then neither delivers nor forwards it, and the store brings it
// back later (as a Remote job with its offset, or with
// Delivery.Fanout). Record must not block, and must not keep j's buffer
// without its own reference.
type Recorder interface {
	Record(worker int, j *Job) bool
}

// Pool runs fan-out jobs on a fixed set of workers.
type Pool struct {
	cfg  Config
	hub  *hub.Hub[Subscriber]
	qs   []*jobQueue
	seed maphash.Seed
	wg   sync.WaitGroup
	m    *metrics.Metrics
	encs []Encoder // by Format, from FormatFrame+1
	fwd  Forwarder // nil: one node
}

// maxBurst bounds how many queued jobs a worker folds into one flush.
const maxBurst = 64

// New returns a Pool delivering to the members h holds.
func New(cfg Config, h *hub.Hub[Subscriber]) *Pool {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	p := &Pool{cfg: cfg, hub: h, qs: make([]*jobQueue, cfg.Workers), seed: maphash.MakeSeed(), m: cfg.Metrics}
	for i := range p.qs {
		p.qs[i] = newJobQueue(cfg.Queue)
	}
	return p
}

// Workers returns the number of worker goroutines.
func (p *Pool) Workers() int { return p.cfg.Workers }

// Hub returns the hub the pool delivers from.
func (p *Pool) Hub() *hub.Hub[Subscriber] { return p.hub }

// Start starts the workers.
func (p *Pool) Start() {
	for i, q := range p.qs {
		p.wg.Add(1)
		go p.work(&Delivery{p: p, q: q, worker: i})
	}
}

// Stop closes the queues and waits for the workers to finish every job
// already queued. Jobs submitted after Stop are refused with ErrStopped.
func (p *Pool) Stop() {
	for _, q := range p.qs {
		q.close()
	}
	p.wg.Wait()
}

func (p *Pool) queueFor(j *Job) *jobQueue {
	var h uint64
	if j.Room != "" {
		h = maphash.String(p.seed, j.Room)
	} else {
		h = ^maphash.String(p.seed, j.User) // users and rooms of one name need not share a worker
	}
	return p.qs[h%uint64(len(p.qs))]
}

// TrySubmit queues j unless its worker's queue is full (or the pool has
// stopped); it never waits, so an event loop may call it. On false the
// caller still owns j.Buf and must tell its publisher: that is the
// backpressure a publisher on an event loop gets.
func (p *Pool) TrySubmit(j Job) bool { return p.queueFor(&j).tryPush(j) }

// Submit queues j, waiting while its worker's queue is full until ctx
// ends (ErrOverloaded). On error the caller still owns j.Buf. It must not
// be called from an event loop: use TrySubmit there.
func (p *Pool) Submit(ctx context.Context, j Job) error {
	q := p.queueFor(&j)
	if !q.push(ctx.Done(), j) {
		if q.isClosed() {
			return ErrStopped
		}
		return ErrOverloaded
	}
	return nil
}

// Fence waits until every job queued before the call has been delivered
// to its subscribers and they have been flushed (a graceful drain uses
// it), or until ctx ends.
func (p *Pool) Fence(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, q := range p.qs {
		f := fence{done: &wg}
		wg.Add(1)
		if !q.push(ctx.Done(), Job{Ctl: f}) {
			wg.Done()
			if q.isClosed() {
				continue // Stop drains it anyway
			}
			return ctx.Err()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fence is the Control Fence queues on every worker.
type fence struct{ done *sync.WaitGroup }

func (f fence) Apply(d *Delivery) bool {
	d.flushDirty() // what the burst delivered before the fence
	f.done.Done()
	return false
}

// Pending returns the number of queued jobs.
func (p *Pool) Pending() int {
	n := 0
	for _, q := range p.qs {
		n += q.len()
	}
	return n
}

// work is one worker's loop.
func (p *Pool) work(d *Delivery) {
	defer p.wg.Done()
	for {
		j, ok := d.q.next()
		if !ok {
			return
		}
		t := time.Now()
		p.runBurst(d, j)
		if p.m != nil {
			p.m.WorkerSeconds.UpdateDuration(t)
		}
	}
}

// runBurst fans out first and then any jobs already waiting (up to
// maxBurst), queueing references to each job's shared encodings, and only
// then flushes every subscriber it touched, once: a burst of small
// messages to one room costs each member one writev.
func (p *Pool) runBurst(d *Delivery, first Job) {
	p.run(d, first)
	for i := 1; i < maxBurst; i++ {
		j, ok := d.q.tryPop()
		if !ok {
			break
		}
		p.run(d, j)
	}
	d.flushDirty()
}

// flushDirty flushes every subscriber the current burst delivered to.
func (d *Delivery) flushDirty() {
	for _, s := range d.dirty {
		s.Flush()
	}
	clear(d.dirty)
	d.dirty = d.dirty[:0]
}

// run delivers one job. The job is kept by value in d, so it does not
// escape to the heap.
func (p *Pool) run(d *Delivery, job Job) {
	d.job = job
	j := &d.job
	defer d.reset()
	if j.Ctl != nil {
		if j.Ctl.Apply(d) && j.From != nil {
			d.dirty = append(d.dirty, j.From)
		}
		return
	}
	if j.Room != "" && j.History && p.cfg.Recorder != nil && !p.cfg.Recorder.Record(d.worker, j) {
		return
	}
	p.deliver(d)
	if p.fwd != nil && !j.Remote {
		p.fwd.Forward(j)
	}
}

// deliver hands d's message job to its room's members (or its user's
// connections) and counts it.
func (p *Pool) deliver(d *Delivery) {
	j := &d.job
	if j.Room != "" {
		d.members = p.hub.AppendMembers(d.members[:0], j.Room)
	} else {
		d.members = p.hub.AppendUser(d.members[:0], j.User)
	}
	sent, skipped := 0, 0
	for _, s := range d.members {
		if s == j.From && !p.cfg.EchoSelf {
			continue
		}
		if flush, ok := s.Deliver(d); ok {
			sent++
			if flush {
				d.dirty = append(d.dirty, s)
			}
		} else {
			skipped++
		}
	}
	clear(d.members)
	if p.m != nil {
		p.m.Undelivered.Add(skipped)
		op := metrics.OpText
		if j.Op() == frame.OpBinary {
			op = metrics.OpBinary
		}
		p.m.MessagesOut[op].Add(sent)
		p.m.BytesOut[op].Add(sent * (len(j.Buf.B) - j.Hdr)) // payload bytes, as for echo
		p.m.Broadcasts.Inc()
	}
}

// Delivery is a worker's view of the job it is delivering: the job and
// its encodings, each built on first use. It is valid only during
// Subscriber.Deliver (or Control.Apply).
type Delivery struct {
	p       *Pool
	q       *jobQueue
	worker  int
	job     Job
	members []Subscriber
	dirty   []Subscriber
	// vars holds the current job's encodings: [format][0] plain, [format][bits-7] compressed
	// for a window of bits; hdrs the header length of each format's plain one.
	vars [MaxFormats][1 + deflate.MaxWindowBits - deflate.MinWindowBits + 1]*poller.Buf
	hdrs [MaxFormats]int
	comp []byte    // compression scratch
	one  *Delivery // for DeliverTo: one job to one subscriber, made on first use
}

// Job returns the job being delivered.
func (d *Delivery) Job() *Job { return &d.job }

// Worker returns the index of the worker running the delivery (0 to
// Config.Workers-1): every job of a room runs on the same one.
func (d *Delivery) Worker() int { return d.worker }

// Hub returns the pool's hub (for Controls that change membership).
func (d *Delivery) Hub() *hub.Hub[Subscriber] { return d.p.hub }

// Scratch returns the worker's compression scratch buffer and lets the
// caller hand a grown one back with SetScratch: a subscriber that
// compresses with its own context (permessage-deflate context takeover)
// uses it instead of allocating.
func (d *Delivery) Scratch() []byte { return d.comp[:0] }

// SetScratch keeps b as the worker's scratch buffer (unless it is huge).
func (d *Delivery) SetScratch(b []byte) {
	if cap(b) <= 1<<20 {
		d.comp = b[:0]
	}
}

// reset drops the finished job's encodings.
func (d *Delivery) reset() {
	for f := range d.vars {
		for i, v := range d.vars[f] {
			if v != nil {
				v.Release()
				d.vars[f][i] = nil
			}
		}
	}
	if d.job.Buf != nil {
		d.job.Buf.Release()
	}
	d.job = Job{}
}
