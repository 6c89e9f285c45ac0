package history

import (
	"time"

	"github.com/wsgate/wsgate/internal/fanout"
)

// Follow tells the store that the node now receives room's messages from
// the log (the broker has subscribed to it): the node asks the log where
// the room stands, and from there holds the room's messages. The server
// calls it from any goroutine, after the subscription reached NATS.
func (s *Replicated) Follow(room string) { s.submit(room, &followCtl{s: s, on: true}) }

// Unfollow tells the store that the node no longer receives room's
// messages: what it holds of the room stops being complete and is
// dropped.
func (s *Replicated) Unfollow(room string) { s.submit(room, &followCtl{s: s}) }

// Recheck makes the node ask the log again where each room it follows
// stands, and catch up with what it missed: after its connection to NATS
// came back (messages sent meanwhile did not reach it), or after NATS
// dropped messages for it (a delivery queue was full).
func (s *Replicated) Recheck() { s.broadcast(&sweepCtl{s: s, recheck: true}) }

// Reset makes the store start again under a new epoch (the log was lost
// and made again, or reached for the first time): every room forgets what
// it holds and, when followed, asks the log where it stands.
func (s *Replicated) Reset(epoch string) {
	s.epoch.Store(&epoch)
	s.broadcast(&sweepCtl{s: s, reset: true})
}

// broadcast queues ctl on every worker. A worker whose queue is full
// skips it; its rooms catch up at their next message (Prev).
func (s *Replicated) broadcast(ctl fanout.Control) { s.pool.Broadcast(ctl) }

// followCtl is Follow (on) or Unfollow, on the room's worker.
type followCtl struct {
	s  *Replicated
	on bool
}

func (f *followCtl) Apply(d *fanout.Delivery) bool {
	s := f.s
	sh := s.mem.shards[d.Worker()]
	if !f.on {
		if r := sh.rooms[d.Job().Room]; r != nil {
			r.chain.followed = false
			r.chain.idle = s.clock()
			s.restart(sh, r)
			s.runWaiting(d, sh, r, true)
		}
		return false
	}
	r := s.room(sh, d.Job().Room)
	if r == nil {
		return false
	}
	c := r.chain
	c.followed = true
	switch c.state {
	case chainNone:
		c.state = chainStarting
		s.start(r)
	case chainStarting, chainLive:
		s.start(r)
	}
	return false
}

// restart forgets what the node holds of the room: a new life of its
// chain, in which answers to earlier requests are ignored.
func (s *Replicated) restart(sh *shard, r *room) {
	c := r.chain
	c.gen++
	c.busy, c.back, c.tries, c.retryAt = false, false, 0, 0
	c.release()
	for r.n > 0 {
		r.dropHead(sh)
	}
	c.floor, c.last, c.fillTo = 0, 0, 0
	c.state = chainNone
}

// sweepCtl resets or rechecks every room of the worker that runs it.
type sweepCtl struct {
	s              *Replicated
	reset, recheck bool
}

func (w *sweepCtl) Apply(d *fanout.Delivery) bool {
	s := w.s
	sh := s.mem.shards[d.Worker()]
	for _, r := range sh.rooms {
		c := r.chain
		switch {
		case w.reset:
			s.restart(sh, r)
			if c.followed || len(c.waiting) > 0 {
				c.state = chainStarting
			}
			if c.followed {
				s.start(r)
			}
		case w.recheck && c.followed && c.state == chainLive:
			s.start(r)
		}
	}
	return false
}

// Sweep implements Store: beyond dropping messages past their age, it
// forgets rooms the node no longer follows, and asks the log again where
// requests failed or got no answer.
func (s *Replicated) Sweep(worker int, now time.Time) {
	sh := s.mem.shards[worker]
	t := now.UnixNano()
	for name, r := range sh.rooms {
		r.trimAge(sh, t)
		c := r.chain
		if !c.followed && len(c.waiting) == 0 && c.holds == 0 && !c.busy && !c.back {
			if t-c.idle > int64(idleFor) {
				c.release()
				for r.n > 0 {
					r.dropHead(sh)
				}
				r.arena.reset()
				delete(sh.rooms, name)
				sh.addBytes(-roomOverhead)
				sh.nRooms.Add(-1)
			}
			continue
		}
		if (c.busy || c.back) && t-c.busyAt > 3*int64(s.timeout) {
			c.gen++ // the answer, if it ever comes, is ignored
			back := c.back
			c.busy, c.back = false, false
			if back {
				s.readBack(r, c.backFrom)
			}
		}
		if c.followed && !c.busy && t >= c.retryAt {
			switch c.state {
			case chainStarting:
				s.start(r)
			case chainFilling:
				s.fill(r, c.fillTo)
			}
		}
		r.shrink()
	}
	if worker == 0 {
		s.sweepRefs(now)
	}
}
