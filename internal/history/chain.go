package history

import (
	"context"
	"time"

	"github.com/wsgate/wsgate/internal/fanout"
)

// States of a room's chain on one node.
const (
	// chainNone: the node does not know where the room stands.
	chainNone uint8 = iota
	// chainStarting: the node asked the log where the room stands (or
	// waits to follow the room before it asks).
	chainStarting
	// chainLive: the node holds every message of the room after floor, up
	// to last, and delivers the next one when it follows last.
	chainLive
	// chainFilling: the node reads from the log the messages it missed;
	// newer ones wait in held.
	chainFilling
)

// chain is what a node knows of a room in the log. Owned by the room's
// worker.
type chain struct {
	state uint8
	// followed is set while the node receives the room's messages from
	// the log (between Follow and Unfollow).
	followed bool
	// floor and last: the node holds every message of the room with an
	// offset in (floor, last] (those its rule has not dropped since:
	// dropping one raises floor).
	floor, last uint64
	// gen numbers the chain's lives: answers to requests made in an
	// earlier one are ignored.
	gen uint64
	// busy: a Start or a catch-up read is in flight (since busyAt);
	// back: a read of older messages is. tries counts failures in a row.
	busy, back bool
	backFrom   uint64
	busyAt     int64
	tries      int
	retryAt    int64
	// fillTo is the offset a catch-up must reach.
	fillTo uint64
	// held are messages from the log waiting for the node to catch up,
	// oldest first, each with its own reference to its buffer.
	held []fanout.Job
	// waiting are the resuming joins waiting for the chain (Deferrer);
	// holds counts the Log.Holds they took.
	waiting []waiter
	holds   int
	// idle is when the room stopped being followed (or was made).
	idle int64
}

// waiter is a join that waits, and how many times it has.
type waiter struct {
	job   fanout.Job
	tries int
}

// maxWaits bounds how many times one join waits: for the room's start,
// a catch-up, a read of older messages.
const maxWaits = 3

// dropped raises floor past a message the room no longer keeps.
func (c *chain) dropped(seq uint64) {
	if seq > c.floor {
		c.floor = seq
	}
}

// hold keeps j back until the node has caught up.
func (c *chain) hold(j *fanout.Job) {
	if len(c.held) >= maxHeld {
		c.held[0].Buf.Release()
		copy(c.held, c.held[1:])
		c.held[len(c.held)-1] = fanout.Job{}
		c.held = c.held[:len(c.held)-1]
	}
	j.Buf.Retain()
	c.held = append(c.held, *j)
}

// release drops the held messages.
func (c *chain) release() {
	for i := range c.held {
		c.held[i].Buf.Release()
		c.held[i] = fanout.Job{}
	}
	c.held = c.held[:0]
}

// ready reports whether the chain can answer the joins that wait.
func (c *chain) ready() bool { return c.state == chainLive && !c.back }

// Defer implements Deferrer: a join waits while the node does not know
// where the room stands, while it catches up, and while it reads what the
// client missed from before what it holds; a join from an offset the node
// has not reached makes it catch up first.
func (s *Replicated) Defer(worker int, name string, since Since, job fanout.Job) bool {
	sh := s.mem.shards[worker]
	tries := max(sh.rerun-1, 0)
	if tries >= maxWaits {
		return false
	}
	r := s.room(sh, name)
	if r == nil {
		return false
	}
	c := r.chain
	switch c.state {
	case chainNone:
		c.state = chainStarting
		if c.followed {
			s.start(r)
		}
	case chainLive:
		if !c.back {
			if since.Kind != SinceOffset || since.Epoch != s.Epoch() || since.Epoch == "" {
				return false
			}
			switch {
			case since.Offset > c.last:
				s.fill(r, since.Offset)
			case since.Offset < c.floor:
				s.readBack(r, since.Offset)
			default:
				return false
			}
		}
	}
	if !c.followed && c.holds == 0 {
		s.log.Hold(r.name)
		c.holds++
	}
	c.waiting = append(c.waiting, waiter{job, tries + 1})
	return true
}

// runWaiting runs the joins that wait, now that the chain can answer
// them (a join may find it must wait once more: for older messages), and
// ends their Holds (a join that joined holds the room itself). With
// force, none waits again.
func (s *Replicated) runWaiting(d *fanout.Delivery, sh *shard, r *room, force bool) {
	c := r.chain
	if len(c.waiting) == 0 && c.holds == 0 {
		return
	}
	w, holds := c.waiting, c.holds
	c.waiting, c.holds = nil, 0
	for _, x := range w {
		sh.rerun = x.tries + 1
		if force {
			sh.rerun = maxWaits + 1
		}
		d.Run(x.job)
	}
	sh.rerun = 0
	if len(c.waiting) > 0 {
		c.holds += holds // some wait again: the room stays followed for them
		return
	}
	for range holds {
		s.log.Release(r.name)
	}
}

// drainHeld delivers the held messages that follow what the node has; at
// the first that does not, it starts a catch-up.
func (s *Replicated) drainHeld(d *fanout.Delivery, sh *shard, r *room) {
	c := r.chain
	n := 0
	for ; n < len(c.held) && c.state == chainLive; n++ {
		j := &c.held[n]
		switch {
		case j.Offset <= c.last:
		case j.Prev <= c.last:
			s.accept(sh, r, j, s.clock())
			d.Fanout(*j)
		default:
			s.fill(r, j.Prev)
			continue
		}
		j.Buf.Release()
		*j = fanout.Job{}
	}
	if c.state != chainLive {
		n-- // the one that started the catch-up stays
	}
	if n > 0 {
		k := copy(c.held, c.held[n:])
		clear(c.held[k:])
		c.held = c.held[:k]
	}
}

// request runs ask off the workers (at most cap(s.sem) at once) and
// hands the Control it returns to room's worker.
func (s *Replicated) request(room string, ask func(ctx context.Context) fanout.Control) {
	go func() {
		s.sem <- struct{}{}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		ctl := ask(ctx)
		cancel()
		<-s.sem
		s.submit(room, ctl)
	}()
}

// submit queues ctl on room's worker.
func (s *Replicated) submit(room string, ctl fanout.Control) {
	j := fanout.Job{Room: room, Ctl: ctl}
	if s.pool.TrySubmit(j) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*s.timeout)
	defer cancel()
	_ = s.pool.Submit(ctx, j) // lost only when the pool stops, or the worker is stuck: Sweep asks again
}

// markBusy notes a request in flight.
func (s *Replicated) markBusy(c *chain) {
	c.busy = true
	c.busyAt = s.clock()
}

// start asks the log where the room stands.
func (s *Replicated) start(r *room) {
	c := r.chain
	if c.busy {
		return
	}
	s.markBusy(c)
	gen, name := c.gen, r.name
	s.request(name, func(ctx context.Context) fanout.Control {
		st, err := s.log.Start(ctx, name)
		return &startDone{s: s, gen: gen, st: st, err: err}
	})
}

// startDone is the log's answer to start, on the room's worker.
type startDone struct {
	s   *Replicated
	gen uint64
	st  Start
	err error
}

func (a *startDone) Apply(d *fanout.Delivery) bool {
	s := a.s
	sh := s.mem.shards[d.Worker()]
	r := sh.rooms[d.Job().Room]
	if r == nil || r.chain.gen != a.gen {
		return false
	}
	c := r.chain
	c.busy = false
	if a.err != nil {
		s.failed(c)
		if c.state == chainStarting && c.tries == 1 {
			// Joins do not wait on a log that does not answer: they join
			// with "recovered":false and get the room's messages once the
			// node knows where it stands.
			s.runWaiting(d, sh, r, true)
		}
		return false
	}
	c.tries = 0
	switch {
	case c.state == chainStarting:
		c.floor, c.last = a.st.Last, a.st.Last
		if m := a.st.Message; m != nil {
			j := entryJob(r.name, m)
			s.accept(sh, r, &j, m.Time)
			j.Buf.Release()
		}
		c.floor = a.st.Last
		c.state = chainLive
	case a.st.Last > c.last && c.state == chainLive:
		s.fill(r, a.st.Last)
	}
	s.drainHeld(d, sh, r)
	if c.ready() {
		s.runWaiting(d, sh, r, false)
	}
	return false
}

// failed notes a failed request; Sweep tries again after a backoff.
func (s *Replicated) failed(c *chain) {
	c.tries++
	c.retryAt = s.clock() + int64(min(c.tries, 5))*int64(time.Second)
}

// fill makes the node catch up to offset to: it reads the room's messages
// after last from the log.
func (s *Replicated) fill(r *room, to uint64) {
	c := r.chain
	if to > c.fillTo || c.state != chainFilling {
		c.fillTo = to
	}
	c.state = chainFilling
	if c.busy {
		return
	}
	s.markBusy(c)
	s.fills.Add(1)
	gen, name, from := c.gen, r.name, c.last
	s.request(name, func(ctx context.Context) fanout.Control {
		es, err := s.log.Fetch(ctx, name, from, fillLimit, fetchBytes)
		joined := err == nil && (from == 0 || len(es) == 0 || es[0].Offset == from || s.proven(ctx, name, from))
		return &fillDone{s: s, gen: gen, from: from, es: es, joined: joined, err: err}
	})
}

// fillDone is the log's answer to fill, on the room's worker: the missed
// messages are delivered (to every member) and kept, then those held.
type fillDone struct {
	s      *Replicated
	gen    uint64
	from   uint64
	es     []Entry
	joined bool // es follows from: no message of the room between is missing
	err    error
}

func (a *fillDone) Apply(d *fanout.Delivery) bool {
	s := a.s
	sh := s.mem.shards[d.Worker()]
	r := sh.rooms[d.Job().Room]
	if r == nil || r.chain.gen != a.gen {
		return false
	}
	c := r.chain
	c.busy = false
	if a.err != nil {
		s.failed(c)
		if c.tries >= 5 {
			s.giveUp(d, sh, r)
		}
		return false
	}
	es := a.es
	if len(es) > 0 && es[0].Offset == a.from {
		es = es[1:] // what the node has: the rest follows it
	} else if !a.joined && len(es) > 0 && es[0].Offset > c.last {
		s.broken(sh, r, es[0].Offset)
	}
	for i := range es {
		if es[i].Offset <= c.last {
			continue
		}
		j := entryJob(r.name, &es[i])
		s.accept(sh, r, &j, es[i].Time)
		d.Fanout(j)
		j.Buf.Release()
	}
	switch {
	case c.last >= c.fillTo:
		c.tries = 0
	case len(a.es) == fillLimit:
		// More to read: go on from here.
	default:
		// The log had less than the node expected (a replica behind the
		// leader): ask again shortly, and not forever.
		s.failed(c)
		if c.tries >= 5 {
			s.giveUp(d, sh, r)
		}
		return false
	}
	c.state = chainLive
	if c.last < c.fillTo {
		s.fill(r, c.fillTo)
		return false
	}
	s.drainHeld(d, sh, r)
	if c.ready() {
		s.runWaiting(d, sh, r, false)
	}
	return false
}

// broken notes that members of this node missed the room's messages
// between last and the one at next: the log no longer has them. What the
// node holds no longer joins up with what follows, so it is dropped.
func (s *Replicated) broken(sh *shard, r *room, next uint64) {
	s.gaps.Add(1)
	for r.n > 0 {
		r.dropHead(sh)
	}
	r.chain.floor = next - 1
	r.chain.last = next - 1
}

// giveUp ends a catch-up the log cannot complete: the node goes on from
// the next message it holds, and counts the gap.
func (s *Replicated) giveUp(d *fanout.Delivery, sh *shard, r *room) {
	c := r.chain
	c.tries = 0
	c.state = chainLive
	if len(c.held) > 0 && c.held[0].Prev > c.last {
		s.broken(sh, r, c.held[0].Offset)
	}
	c.fillTo = c.last
	s.drainHeld(d, sh, r)
	if c.ready() {
		s.runWaiting(d, sh, r, false)
	}
}

// readBack reads the room's messages from offset from up to what the node
// holds, for a client that resumes from before it.
func (s *Replicated) readBack(r *room, from uint64) {
	c := r.chain
	c.back, c.backFrom = true, from
	c.busyAt = s.clock()
	s.fetches.Add(1)
	gen, name, limit := c.gen, r.name, r.rule.count+1
	s.request(name, func(ctx context.Context) fanout.Control {
		es, err := s.log.Fetch(ctx, name, from, limit, fetchBytes)
		exact := err == nil && len(es) > 0 && es[0].Offset == from
		if err == nil && !exact {
			exact = s.proven(ctx, name, from)
		}
		return &backDone{s: s, gen: gen, from: from, limit: limit, exact: exact, es: es, err: err}
	})
}

// backDone is the log's answer to readBack, on the room's worker: the
// older messages go in front of those the node holds, when they join up
// with them.
type backDone struct {
	s     *Replicated
	gen   uint64
	from  uint64
	limit int
	exact bool // no message of the room after from is missing from es
	es    []Entry
	err   error
}

func (a *backDone) Apply(d *fanout.Delivery) bool {
	s := a.s
	sh := s.mem.shards[d.Worker()]
	r := sh.rooms[d.Job().Room]
	if r == nil || r.chain.gen != a.gen {
		return false
	}
	c := r.chain
	c.back = false
	es := a.es
	reached := len(es) < a.limit || (len(es) > 0 && es[len(es)-1].Offset >= c.floor)
	if a.err == nil && reached && a.from < c.floor {
		top := c.floor
		if r.n > 0 {
			top = min(top, r.ringAt(0).seq-1)
		}
		k := 0
		for k < len(es) && es[k].Offset <= top {
			k++
		}
		switch {
		case a.exact:
			c.floor = a.from
		case k > 0:
			c.floor = es[0].Offset
		}
		r.prepend(sh, es[:k], s.clock()) // dropping what the rule does not keep raises floor again
	}
	if c.ready() {
		s.runWaiting(d, sh, r, false)
	}
	return false
}

// entryJob makes a message job of an entry read from the log.
func entryJob(room string, e *Entry) fanout.Job {
	fb, hdr := fanout.FrameBuf(0, e.Op, e.Payload)
	return fanout.Job{Room: room, Buf: fb, Hdr: hdr, JSON: e.JSON, FromUser: e.From, History: true, Remote: true, Offset: e.Offset}
}

// prepend puts es, older than every kept message, in front of them, and
// applies the room's limits again (which may drop them at once).
func (r *room) prepend(sh *shard, es []Entry, now int64) {
	if len(es) == 0 {
		return
	}
	total := len(es) + r.n
	size := 4
	for size < total {
		size <<= 1
	}
	ring := make([]entry, size)
	for i := range es {
		e := &es[i]
		buf, off := r.arena.add(e.Payload, int(r.bytes-int64(r.n)*entrySize))
		ring[i] = entry{buf: buf, seq: e.Offset, time: e.Time, off: int32(off), n: int32(len(e.Payload)), op: e.Op, json: e.JSON, from: e.From}
		cost := ring[i].cost()
		r.bytes += cost
		sh.addBytes(cost)
		sh.nMsgs.Add(1)
	}
	for i := range r.n {
		ring[len(es)+i] = *r.ringAt(i)
	}
	r.ring, r.head, r.n = ring, 0, total
	for r.n > r.rule.count || (r.rule.maxBytes > 0 && r.bytes > r.rule.maxBytes && r.n > 1) {
		r.dropHead(sh)
	}
	r.trimAge(sh, now)
	if sh.bytes > sh.limit {
		sh.evict(r)
	}
}
