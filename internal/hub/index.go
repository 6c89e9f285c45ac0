package hub

import (
	"hash/maphash"
	"strings"
	"sync"
	"unsafe"
)

const (
	// defaultShards is the shard count used when New is given n <= 0.
	defaultShards = 64
	// maxShards caps the shard count; more buys nothing on any real host.
	maxShards = 1 << 16

	// smallShardMap is the high-water room count up to which an emptied
	// shard keeps its map (one small map is cheaper than re-making it).
	smallShardMap = 8
	// minShardRebuild is the smallest high-water room count after which a
	// shard map that has lost three quarters of its rooms is rebuilt.
	minShardRebuild = 64

	// cacheLine is the stride shards are padded to (two 64-byte lines, to
	// defeat the adjacent-line prefetcher as well).
	cacheLine = 128
	// shardFields is the size of a shard's fields before its padding.
	shardFields = unsafe.Sizeof(sync.RWMutex{}) + 2*unsafe.Sizeof(uintptr(0))
)

// shard is one lock and the sets whose names hash to it.
type shard[M comparable] struct {
	mu   sync.RWMutex
	sets map[string]*set[M] // guarded by mu; nil until needed
	high int                // guarded by mu; max len(sets) since sets was made
	_    [cacheLine - shardFields%cacheLine]byte
}

// index maps names to sets of members, sharded by a seeded hash of the
// name. Hub has two: rooms and users.
type index[M comparable] struct {
	seed   maphash.Seed
	mask   uint64
	shards []shard[M]
	obs    Observer // nil unless Observe set one
}

// entry is one name and its member count, as reported by each.
type entry struct {
	name    string
	members int
}

// shardCount maps New's argument to a power of two in [1, maxShards].
func shardCount(n int) int {
	if n <= 0 {
		return defaultShards
	}
	c := 1
	for c < n && c < maxShards {
		c <<= 1
	}
	return c
}

func (x *index[M]) init(shards int) {
	x.seed = maphash.MakeSeed()
	x.mask = uint64(shards - 1)
	x.shards = make([]shard[M], shards)
}

func (x *index[M]) shardFor(name string) *shard[M] {
	return &x.shards[maphash.String(x.seed, name)&x.mask]
}

// add puts m in the set called name, creating the set if needed, and
// reports whether m was absent.
func (x *index[M]) add(name string, m M) bool {
	s := x.shardFor(name)
	s.mu.Lock()
	st := s.sets[name]
	if st == nil {
		st = s.createLocked(name)
		if x.obs != nil {
			x.obs(name, true)
		}
	}
	added := st.add(m)
	s.mu.Unlock()
	return added
}

// remove takes m out of the set called name, deleting the set when it
// becomes empty, and reports whether m was present.
func (x *index[M]) remove(name string, m M) bool {
	s := x.shardFor(name)
	s.mu.Lock()
	st := s.sets[name]
	removed := st != nil && st.remove(m)
	if removed && len(st.members) == 0 {
		delete(s.sets, name)
		s.shrinkLocked()
		if x.obs != nil {
			x.obs(name, false)
		}
	}
	s.mu.Unlock()
	return removed
}

// appendTo appends the members of the set called name to dst.
func (x *index[M]) appendTo(dst []M, name string) []M {
	s := x.shardFor(name)
	s.mu.RLock()
	if st := s.sets[name]; st != nil {
		dst = append(dst, st.members...)
	}
	s.mu.RUnlock()
	return dst
}

// count returns the number of members in the set called name.
func (x *index[M]) count(name string) int {
	s := x.shardFor(name)
	s.mu.RLock()
	n := 0
	if st := s.sets[name]; st != nil {
		n = len(st.members)
	}
	s.mu.RUnlock()
	return n
}

// len returns the number of sets, summed shard by shard.
func (x *index[M]) len() int {
	n := 0
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.RLock()
		n += len(s.sets)
		s.mu.RUnlock()
	}
	return n
}

// each calls fn for every set, one shard at a time. A shard's names and
// counts are copied under its read lock and fn runs after the lock is
// released, so fn may call back into the hub.
func (x *index[M]) each(fn func(name string, members int) bool) {
	var buf []entry
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.RLock()
		buf = buf[:0]
		for name, st := range s.sets {
			buf = append(buf, entry{name, len(st.members)})
		}
		s.mu.RUnlock()
		for _, e := range buf {
			if !fn(e.name, e.members) {
				return
			}
		}
	}
}

// createLocked adds an empty set called name. The name is copied, so the
// map key never aliases memory the caller may reuse (such as a read buffer
// converted to a string without a copy).
func (s *shard[M]) createLocked(name string) *set[M] {
	if s.sets == nil {
		s.sets = make(map[string]*set[M])
	}
	st := new(set[M])
	s.sets[strings.Clone(name)] = st
	if n := len(s.sets); n > s.high {
		s.high = n
	}
	return st
}

// shrinkLocked gives back map memory after rooms are deleted (Go maps never
// shrink). An emptied map that ever grew past smallShardMap is dropped; a
// large map that fell below a quarter of its high-water mark is rebuilt at
// its current size. Both are amortized O(1) per deletion.
func (s *shard[M]) shrinkLocked() {
	n := len(s.sets)
	switch {
	case n == 0 && s.high > smallShardMap:
		s.sets, s.high = nil, 0
	case s.high >= minShardRebuild && n < s.high/4:
		sets := make(map[string]*set[M], n)
		for name, st := range s.sets {
			sets[name] = st
		}
		s.sets, s.high = sets, n
	}
}
