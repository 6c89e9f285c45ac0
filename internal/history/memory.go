package history

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
)

// Rule selects rooms that keep history and bounds what each keeps: the
// rooms whose names match Pattern (the room pattern syntax of token
// permissions) keep their last Count messages, none older than MaxAge
// (0: no age limit) and, when MaxBytes is set, at most MaxBytes of them
// (the latest message is always kept).
type Rule struct {
	Pattern  string
	Count    int
	MaxAge   time.Duration
	MaxBytes int64
}

// Config configures a Memory store.
type Config struct {
	// Rules select the rooms with history; the first that matches a room
	// applies to it.
	Rules []Rule
	// MaxBytes caps the memory of all rooms' history together; it is
	// split evenly among the workers (each room belongs to one). Past a
	// worker's share, its oldest messages are dropped first. Default 256
	// MiB.
	MaxBytes int64
	// Workers is the number of fan-out workers that call the store.
	Workers int
	// Now returns the time; nil means time.Now. For tests.
	Now func() time.Time
}

// forgetAfter is how long a room with no message left must stay idle (no
// message, no resume) before it is forgotten; rules with a longer age
// wait that long instead. A client that resumes a forgotten room finds a
// new epoch.
const forgetAfter = 10 * time.Minute

// roomOverhead is what a room's state costs besides its messages, for
// the memory cap: the room, its map entry and its names, roughly.
const roomOverhead = int64(unsafe.Sizeof(room{})) + 64

// entrySize is what a kept message costs besides its payload.
const entrySize = int64(unsafe.Sizeof(entry{}))

// ErrRule reports a history rule that cannot be used.
var ErrRule = errors.New("history: bad rule")

// Memory is the in-process Store. Each worker has its own shard of rooms,
// which only that worker touches; the counters behind Stats are the only
// state shared between goroutines.
type Memory struct {
	rules  []rule
	shards []*shard
	nonce  string
	gen    atomic.Uint64 // rooms created, numbering epochs
	now    func() time.Time
}

type rule struct {
	match    auth.Patterns
	count    int
	maxAge   int64 // nanoseconds; 0: none
	maxBytes int64
	forget   int64 // nanoseconds
	ringMax  int   // the ring length that holds count
}

// shard is one worker's rooms.
type shard struct {
	m     *Memory
	rooms map[string]*room
	bytes int64 // what the shard's rooms hold, for the cap
	limit int64
	heap  []*room // eviction scratch
	// Counters read by Stats from other goroutines.
	nRooms, nMsgs, nBytes atomic.Int64
	evicted, expired      atomic.Uint64
	recovered, missed     atomic.Uint64
	// rerun is set while a Replicated store runs a join that waited: one
	// more than the times it waited (Defer lets it wait again only a
	// few times).
	rerun int
	_     [64]byte // keep shards' counters off each other's cache lines
}

// room is one room's history: a ring of its latest messages.
//
// In a Memory store offsets are consecutive: first and next bound them.
// In a Replicated store they are the log's, increasing with gaps; first
// and next are unused and the chain says what the ring holds.
type room struct {
	name    string
	epoch   string
	rule    *rule
	chain   *chain  // nil in a Memory store
	first   uint64  // offset of the oldest kept message; next when none is
	next    uint64  // offset of the next message
	ring    []entry // length 0 or a power of two
	head, n int
	bytes   int64 // what the kept messages cost
	touched int64 // last message or resume, unix nanoseconds
	arena   arena // where their payloads are
}

// NewMemory returns an in-process store.
func NewMemory(cfg Config) (*Memory, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var nb [5]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return nil, err
	}
	m := &Memory{
		nonce: strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(nb[:])),
		now:   cfg.Now,
	}
	for _, r := range cfg.Rules {
		ps, err := auth.CompilePatterns([]string{r.Pattern})
		if err != nil || r.Count < 1 || r.MaxAge < 0 || r.MaxBytes < 0 {
			return nil, fmt.Errorf("%w: %q=%d/%v/%d", ErrRule, r.Pattern, r.Count, r.MaxAge, r.MaxBytes)
		}
		ringMax := 1
		for ringMax < r.Count {
			ringMax <<= 1
		}
		m.rules = append(m.rules, rule{match: ps, count: r.Count, maxAge: int64(r.MaxAge),
			maxBytes: r.MaxBytes, forget: int64(max(forgetAfter, r.MaxAge)), ringMax: ringMax})
	}
	share := max(cfg.MaxBytes/int64(cfg.Workers), 64<<10)
	for range cfg.Workers {
		m.shards = append(m.shards, &shard{m: m, rooms: map[string]*room{}, limit: share})
	}
	return m, nil
}

// Keeps implements Store.
func (m *Memory) Keeps(room string) bool { return m.ruleFor(room) != nil }

func (m *Memory) ruleFor(name string) *rule {
	for i := range m.rules {
		if m.rules[i].match.Match(name) {
			return &m.rules[i]
		}
	}
	return nil
}

func (m *Memory) clock() int64 { return m.now().UnixNano() }

// Record implements fanout.Recorder: the message is kept (its payload
// copied into the room's arena), its room's oldest messages make way for
// it, and it gets the room's next offset and the room's epoch. It always
// reports true: the worker delivers the message at once.
func (m *Memory) Record(worker int, j *fanout.Job) bool {
	sh := m.shards[worker]
	r := sh.get(j.Room)
	if r == nil {
		return true // no rule: the publisher's decision and ours disagree; keep nothing
	}
	now := m.clock()
	r.touched = now
	j.Offset, j.Epoch = r.next, r.epoch
	r.keep(sh, j, now, now)
	return true
}

// keep stores j's message, at offset j.Offset and taken at time at, as
// the room's latest, and applies the room's limits (count, age, bytes)
// and the shard's share of the memory cap.
func (r *room) keep(sh *shard, j *fanout.Job, at, now int64) {
	r.trimAge(sh, now)
	if r.n >= r.rule.count {
		r.dropHead(sh)
	}
	p := j.Payload()
	buf, off := r.arena.add(p, int(r.bytes-int64(r.n)*entrySize))
	r.push(sh, entry{buf: buf, seq: j.Offset, time: at, off: int32(off), n: int32(len(p)), op: j.Op(), json: j.JSON, from: j.FromUser})
	r.next = j.Offset + 1
	for r.rule.maxBytes > 0 && r.bytes > r.rule.maxBytes && r.n > 1 {
		r.dropHead(sh)
	}
	if sh.bytes > sh.limit {
		sh.evict(r)
	}
}

// Replay implements Store.
func (m *Memory) Replay(worker int, name string, since Since, maxBytes int, fn func(fanout.Job)) (Position, bool) {
	sh := m.shards[worker]
	r := sh.get(name)
	if r == nil {
		return Position{}, false
	}
	pos, ok := r.replay(sh, m.clock(), since, maxBytes, fn)
	switch {
	case since.Kind == SinceNone:
	case ok:
		sh.recovered.Add(1)
	default:
		sh.missed.Add(1)
	}
	return pos, ok
}

// replay is Replay on the room's state.
func (r *room) replay(sh *shard, now int64, since Since, maxBytes int, fn func(fanout.Job)) (Position, bool) {
	r.touched = now
	r.trimAge(sh, now)
	pos := Position{Offset: r.next - 1, Epoch: r.epoch}
	var from uint64 // the first offset to deliver
	switch since.Kind {
	case SinceOffset:
		if since.Epoch != r.epoch || since.Offset > pos.Offset || since.Offset+1 < r.first {
			return pos, false
		}
		from = since.Offset + 1
	case SinceLast:
		if r.n == 0 {
			return pos, r.next == 1 // nothing was ever published: nothing is missing
		}
		from = r.next - 1
	default:
		return pos, false
	}
	var size int
	for off := from; off < r.next; off++ {
		size += int(r.at(off).n)
	}
	if size > maxBytes {
		return pos, false
	}
	for off := from; off < r.next; off++ {
		e := r.at(off)
		fb, hdr := fanout.FrameBuf(0, e.op, e.payload())
		fn(fanout.Job{Room: r.name, Buf: fb, Hdr: hdr, JSON: e.json, FromUser: e.from, History: true, Offset: off, Epoch: r.epoch})
		fb.Release()
	}
	return pos, true
}

// Read implements Store. It does not create a room's state.
func (m *Memory) Read(worker int, name string, after uint64, limit int) Page {
	sh := m.shards[worker]
	r := sh.rooms[name]
	if r == nil {
		return Page{Complete: after == 0}
	}
	r.trimAge(sh, m.clock())
	p := Page{Epoch: r.epoch, Last: r.next - 1, Complete: after+1 >= r.first}
	if r.n > 0 {
		p.First = r.first
	}
	for off := max(after+1, r.first); off < r.next && len(p.Messages) < limit; off++ {
		e := r.at(off)
		p.Messages = append(p.Messages, Message{
			Offset: off, Time: time.Unix(0, e.time), Binary: e.op == frame.OpBinary,
			Payload: append([]byte(nil), e.payload()...), JSON: e.json, From: e.from,
		})
	}
	return p
}

// Sweep implements Store.
func (m *Memory) Sweep(worker int, now time.Time) {
	sh := m.shards[worker]
	t := now.UnixNano()
	for name, r := range sh.rooms {
		r.trimAge(sh, t)
		if r.n == 0 && t-r.touched > r.rule.forget {
			delete(sh.rooms, name)
			sh.addBytes(-roomOverhead)
			sh.nRooms.Add(-1)
			continue
		}
		r.shrink()
	}
}

// Rooms implements Store.
func (m *Memory) Rooms(worker int, fn func(string, Position)) {
	for name, r := range m.shards[worker].rooms {
		fn(name, Position{Offset: r.next - 1, Epoch: r.epoch})
	}
}

// Stats implements Store.
func (m *Memory) Stats() Stats {
	var s Stats
	for _, sh := range m.shards {
		s.Rooms += sh.nRooms.Load()
		s.Messages += sh.nMsgs.Load()
		s.Bytes += sh.nBytes.Load()
		s.Evicted += sh.evicted.Load()
		s.Expired += sh.expired.Load()
		s.Recovered += sh.recovered.Load()
		s.Missed += sh.missed.Load()
	}
	return s
}

// get returns the room's state, creating it (under a new epoch) when the
// room matches a rule; nil when it matches none.
func (sh *shard) get(name string) *room {
	if r := sh.rooms[name]; r != nil {
		return r
	}
	rl := sh.m.ruleFor(name)
	if rl == nil {
		return nil
	}
	r := &room{name: strings.Clone(name), rule: rl, first: 1, next: 1,
		epoch: sh.m.nonce + "-" + strconv.FormatUint(sh.m.gen.Add(1), 36)}
	sh.rooms[r.name] = r
	sh.addBytes(roomOverhead)
	sh.nRooms.Add(1)
	return r
}

func (sh *shard) addBytes(n int64) {
	sh.bytes += n
	sh.nBytes.Store(sh.bytes)
}

// at returns the entry of offset off, which must be kept.
func (r *room) at(off uint64) *entry {
	return &r.ring[(r.head+int(off-r.first))&(len(r.ring)-1)]
}

func (r *room) push(sh *shard, e entry) {
	if r.n == len(r.ring) {
		r.resize(min(max(2*len(r.ring), 4), r.rule.ringMax))
	}
	r.ring[(r.head+r.n)&(len(r.ring)-1)] = e
	r.n++
	size := e.cost()
	r.bytes += size
	sh.addBytes(size)
	sh.nMsgs.Add(1)
}

// dropHead drops the oldest kept message.
func (r *room) dropHead(sh *shard) {
	e := &r.ring[r.head]
	size := e.cost()
	if r.chain != nil {
		r.chain.dropped(e.seq)
	}
	e.buf.Release()
	*e = entry{}
	r.head = (r.head + 1) & (len(r.ring) - 1)
	r.n--
	r.first++
	r.bytes -= size
	sh.addBytes(-size)
	sh.nMsgs.Add(-1)
}

// trimAge drops the messages older than the rule's age.
func (r *room) trimAge(sh *shard, now int64) {
	if r.rule.maxAge == 0 {
		return
	}
	cut := now - r.rule.maxAge
	for r.n > 0 && r.ring[r.head].time < cut {
		r.dropHead(sh)
		sh.expired.Add(1)
	}
}

// resize moves the kept messages into a ring of length n (>= r.n).
func (r *room) resize(n int) {
	ring := make([]entry, n)
	for i := range r.n {
		ring[i] = r.ring[(r.head+i)&(len(r.ring)-1)]
	}
	r.ring, r.head = ring, 0
}

// shrink gives back most of a ring that holds far fewer messages than it
// could.
func (r *room) shrink() {
	if r.n == 0 {
		r.ring, r.head = nil, 0
		r.arena.reset()
		return
	}
	if len(r.ring) <= 4 || r.n > len(r.ring)/4 {
		return
	}
	n := 4
	for n < 2*r.n {
		n <<= 1
	}
	r.resize(n)
}
