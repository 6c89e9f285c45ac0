package history

import (
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
)

// Replicated is the Store of a cluster: the history of rooms lives in a
// Log that every node shares (JetStream), which gives each message its
// offset, so offsets are the same on every node and a client resumes on
// any of them.
//
// # Order
//
// A room's offsets are given once, by the log. A node therefore does not
// deliver a message published on it at once: the room's worker hands it
// to the log (Record reports false) and every node, the publisher's
// included, delivers what the log passes on, in the log's order. Every
// member of every node sees the room's messages in one order, the
// offsets' (each publisher's messages in the order it sent them), and no
// member gets a message that the log does not hold: the log has taken a
// message before any node delivers it.
//
// # What a node holds
//
// A node follows the rooms it has members in (the broker subscribes to
// them) and keeps each one's recent messages in memory, bounded by the
// room's rule and the memory cap as a Memory store is: its chain. When it
// begins to follow a room it asks the log where the room stands (Start);
// from there every message the log passes on carries the offset of the
// room's message before it (Job.Prev), so the node notices a message it
// did not receive (NATS reconnects, a full queue) at the next one, and
// reads what it missed from the log before it delivers anything newer.
// A resume from an offset the node holds is served from memory, in the
// same step as the join, as on one node; one from an older offset first
// reads the missing messages from the log (Fetch) while the join waits;
// one from an offset the node has not reached yet (the client came from
// a node further ahead) first catches the node up.
//
// The joins that wait (Deferrer) and every answer of the log come back to
// the room's worker as Control jobs: the chain's state, like a Memory
// room's, is touched only by the room's worker.
type Replicated struct {
	mem  *Memory
	log  Log
	pool *fanout.Pool

	// timeout bounds each request to the log; sem bounds how many run at
	// once.
	timeout time.Duration
	sem     chan struct{}

	epoch atomic.Pointer[string]

	refMu   sync.Mutex
	refs    map[uint64]pubRef // guarded by refMu
	nextRef atomic.Uint64

	appended, appendFailed, fills, gaps, fetches atomic.Uint64
}

// pubRef is a local publisher whose message is on its way through the
// log.
type pubRef struct {
	sub fanout.Subscriber
	at  time.Time
}

// ReplicatedConfig configures a Replicated store.
type ReplicatedConfig struct {
	Config
	// Timeout bounds each request to the log. Default 5s.
	Timeout time.Duration
	// Requests bounds the requests to the log in flight at once. Default
	// 64.
	Requests int
}

// Limits of a Replicated store.
const (
	// maxHeld bounds the messages a room holds back while its node catches
	// up with the log; past it the oldest are dropped (and fetched again
	// from the log when their turn comes).
	maxHeld = 4096
	// fillLimit and fetchBytes bound one read of the log.
	fillLimit  = 1000
	fetchBytes = 8 << 20
	// idleFor is how long a room that its node no longer follows keeps its
	// state (messages that arrived late, waiting requests) before it is
	// forgotten.
	idleFor = 10 * time.Second
	// refTTL is how long a local publisher is remembered while its
	// message travels through the log.
	refTTL = time.Minute
)

// NewReplicated returns a store over log. Attach it to the fan-out pool
// before the pool starts.
func NewReplicated(cfg ReplicatedConfig, log Log) (*Replicated, error) {
	mem, err := NewMemory(cfg.Config)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Requests <= 0 {
		cfg.Requests = 64
	}
	s := &Replicated{mem: mem, log: log, timeout: cfg.Timeout, sem: make(chan struct{}, cfg.Requests), refs: map[uint64]pubRef{}}
	e := log.Epoch()
	s.epoch.Store(&e)
	return s, nil
}

// Attach gives the store the pool whose workers own the rooms: answers
// of the log go back to them as Control jobs.
func (s *Replicated) Attach(p *fanout.Pool) { s.pool = p }

// Epoch returns the epoch of every room's history: the log's.
func (s *Replicated) Epoch() string { return *s.epoch.Load() }

// Keeps implements Store.
func (s *Replicated) Keeps(room string) bool { return s.mem.Keeps(room) }

func (s *Replicated) clock() int64 { return s.mem.clock() }

// Record implements fanout.Recorder. A message published on this node
// goes to the log and is not delivered now (false): it comes back from
// the log with its offset. A message from the log is kept and delivered
// when it follows what the node has; one that arrives before the node
// knows where the room stands, or after a message the node missed, is
// held back until the node has caught up.
func (s *Replicated) Record(worker int, j *fanout.Job) bool {
	if !j.Remote {
		ref := s.addRef(j.From)
		if err := s.log.Append(j.Room, ref, j); err != nil {
			s.Publisher(ref)
			s.appendFailed.Add(1)
		} else {
			s.appended.Add(1)
		}
		return false
	}
	if j.Offset == 0 {
		return true // from a node that keeps this room's history elsewhere: as it is
	}
	sh := s.mem.shards[worker]
	r := s.room(sh, j.Room)
	if r == nil {
		return true
	}
	c := r.chain
	if c.state == chainLive {
		switch {
		case j.Offset <= c.last:
			return false // delivered already (a catch-up read it first)
		case j.Prev <= c.last:
			s.accept(sh, r, j, s.clock())
			return true
		}
		c.hold(j)
		s.fill(r, j.Prev)
		return false
	}
	c.hold(j)
	return false
}

// accept keeps j, the room's next message, and gives it its epoch.
func (s *Replicated) accept(sh *shard, r *room, j *fanout.Job, at int64) {
	now := s.clock()
	r.touched = now
	r.keep(sh, j, at, now)
	r.chain.last = j.Offset
	j.Epoch = s.Epoch()
}

// room returns the room's state, made when the room matches a rule.
func (s *Replicated) room(sh *shard, name string) *room {
	if r := sh.rooms[name]; r != nil {
		return r
	}
	rl := s.mem.ruleFor(name)
	if rl == nil {
		return nil
	}
	r := &room{name: strings.Clone(name), rule: rl, chain: &chain{idle: s.clock()}}
	sh.rooms[r.name] = r
	sh.addBytes(roomOverhead)
	sh.nRooms.Add(1)
	return r
}

// Replay implements Store. It answers from what the node holds; Defer
// has made sure that is enough when it can be.
func (s *Replicated) Replay(worker int, name string, since Since, maxBytes int, fn func(fanout.Job)) (Position, bool) {
	sh := s.mem.shards[worker]
	r := sh.rooms[name]
	epoch := s.Epoch()
	if r == nil || r.chain.state == chainNone || r.chain.state == chainStarting {
		if since.Kind != SinceNone {
			sh.missed.Add(1)
		}
		return Position{Epoch: epoch}, false
	}
	c := r.chain
	now := s.clock()
	r.touched = now
	r.trimAge(sh, now)
	pos := Position{Offset: c.last, Epoch: epoch}
	var i int // the first ring index to deliver
	switch since.Kind {
	case SinceOffset:
		if since.Epoch != epoch || epoch == "" || since.Offset > c.last || since.Offset < c.floor {
			sh.missed.Add(1)
			return pos, false
		}
		i = r.after(since.Offset)
	case SinceLast:
		if r.n == 0 {
			ok := c.last == 0 // nothing was ever published
			if ok {
				sh.recovered.Add(1)
			} else {
				sh.missed.Add(1)
			}
			return pos, ok
		}
		i = r.n - 1
	default:
		return pos, false
	}
	size := 0
	for k := i; k < r.n; k++ {
		size += int(r.ringAt(k).n)
	}
	if size > maxBytes {
		sh.missed.Add(1)
		return pos, false
	}
	for k := i; k < r.n; k++ {
		e := r.ringAt(k)
		fb, hdr := fanout.FrameBuf(0, e.op, e.payload())
		fn(fanout.Job{Room: r.name, Buf: fb, Hdr: hdr, JSON: e.json, FromUser: e.from, History: true, Offset: e.seq, Epoch: epoch})
		fb.Release()
	}
	sh.recovered.Add(1)
	return pos, true
}

// ringAt returns the k-th kept message, oldest first.
func (r *room) ringAt(k int) *entry { return &r.ring[(r.head+k)&(len(r.ring)-1)] }

// after returns the index of the oldest kept message with an offset
// above off (r.n when none is).
func (r *room) after(off uint64) int {
	return sort.Search(r.n, func(k int) bool { return r.ringAt(k).seq > off })
}

// Read implements Store: the room's messages this node holds.
func (s *Replicated) Read(worker int, name string, after uint64, limit int) Page {
	sh := s.mem.shards[worker]
	r := sh.rooms[name]
	if r == nil || r.chain.state == chainNone || r.chain.state == chainStarting {
		return Page{Epoch: s.Epoch()}
	}
	c := r.chain
	r.trimAge(sh, s.clock())
	p := Page{Epoch: s.Epoch(), Last: c.last, Complete: after >= c.floor}
	if r.n > 0 {
		p.First = r.ringAt(0).seq
	}
	for k := r.after(after); k < r.n && len(p.Messages) < limit; k++ {
		p.Messages = append(p.Messages, r.ringAt(k).message())
	}
	return p
}

// ReadLog reads room's messages after offset after from the log itself,
// for the admin API (it waits on the network: call it off the workers).
func (s *Replicated) ReadLog(ctx context.Context, room string, after uint64, limit int) (Page, error) {
	p := Page{Epoch: s.Epoch()}
	st, err := s.log.Start(ctx, room)
	if err != nil {
		return p, err
	}
	p.Last = st.Last
	es, err := s.log.Fetch(ctx, room, after, limit+1, fetchBytes)
	if err != nil {
		return p, err
	}
	p.Complete = after == 0 && len(es) > 0 && es[0].Offset <= 1
	if len(es) > 0 && es[0].Offset == after {
		p.Complete, es = true, es[1:]
	} else if !p.Complete {
		p.Complete = s.proven(ctx, room, after)
	}
	if len(es) > limit {
		es = es[:limit]
	}
	for _, e := range es {
		if p.First == 0 {
			p.First = e.Offset
		}
		p.Messages = append(p.Messages, Message{Offset: e.Offset, Time: time.Unix(0, e.Time), Binary: e.Op == frame.OpBinary,
			Payload: e.Payload, JSON: e.JSON, From: e.From})
	}
	return p, nil
}

// proven reports whether the log provably dropped none of room's
// messages after offset off, though it no longer holds off itself: no
// message past off has left the log's start, and the room has fewer
// messages than the log's per-room limit, so none was dropped for it.
func (s *Replicated) proven(ctx context.Context, room string, off uint64) bool {
	b, err := s.log.Bounds(ctx, room)
	return err == nil && off <= b.Last && b.First <= off+1 && (b.PerRoom == 0 || b.Count < b.PerRoom)
}

// message copies an entry out for Read.
func (e *entry) message() Message {
	return Message{Offset: e.seq, Time: time.Unix(0, e.time), Binary: e.op == frame.OpBinary,
		Payload: append([]byte(nil), e.payload()...), JSON: e.json, From: e.from}
}

// Rooms implements Store.
func (s *Replicated) Rooms(worker int, fn func(string, Position)) {
	epoch := s.Epoch()
	for name, r := range s.mem.shards[worker].rooms {
		if r.chain.state != chainNone && r.chain.state != chainStarting {
			fn(name, Position{Offset: r.chain.last, Epoch: epoch})
		}
	}
}

// Stats implements Store.
func (s *Replicated) Stats() Stats {
	st := s.mem.Stats()
	st.Appended, st.AppendFailed = s.appended.Load(), s.appendFailed.Load()
	st.Fills, st.Gaps, st.Fetches = s.fills.Load(), s.gaps.Load(), s.fetches.Load()
	return st
}

// addRef remembers the local publisher of a message handed to the log.
func (s *Replicated) addRef(sub fanout.Subscriber) uint64 {
	if sub == nil {
		return 0
	}
	ref := s.nextRef.Add(1)
	s.refMu.Lock()
	s.refs[ref] = pubRef{sub: sub, at: time.Now()}
	s.refMu.Unlock()
	return ref
}

// Publisher returns (and forgets) the local publisher of the message
// that the log passes back with ref; nil for none. The node's receiver
// sets it as the job's From, so that a publisher gets its own message
// only when the pool echoes messages.
func (s *Replicated) Publisher(ref uint64) fanout.Subscriber {
	if ref == 0 {
		return nil
	}
	s.refMu.Lock()
	p, ok := s.refs[ref]
	if ok {
		delete(s.refs, ref)
	}
	s.refMu.Unlock()
	return p.sub
}

// sweepRefs forgets publishers whose message never came back.
func (s *Replicated) sweepRefs(now time.Time) {
	s.refMu.Lock()
	for ref, p := range s.refs {
		if now.Sub(p.at) > refTTL {
			delete(s.refs, ref)
		}
	}
	s.refMu.Unlock()
}
