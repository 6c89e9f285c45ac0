package hub

// Thresholds of a set's layout. Below indexAt members a lookup scans the
// slice (a few pointer compares beat a hash, and a small room carries no
// map); above it a position map makes Leave O(1). The gaps between the
// thresholds are hysteresis, so a room whose size hovers around one of them
// does not rebuild anything on each Join/Leave.
const (
	// indexAt is the member count above which a set builds its position map.
	indexAt = 16
	// dropIndexAt is the member count at or below which the map is dropped.
	dropIndexAt = 8
	// minShrinkCap is the smallest slice capacity that is ever shrunk.
	minShrinkCap = 32
)

// set is the membership of one room or one user: members in a slice, for
// fast copying to a fan-out snapshot, and (for large sets only) a map from
// member to its position in the slice, for O(1) swap-delete.
//
// A set is guarded by the lock of the shard that holds it.
type set[M comparable] struct {
	members []M
	pos     map[M]int // nil for small sets; else pos[members[i]] == i
}

// find returns m's position in s.members, or -1.
func (s *set[M]) find(m M) int {
	if s.pos != nil {
		if i, ok := s.pos[m]; ok {
			return i
		}
		return -1
	}
	for i, x := range s.members {
		if x == m {
			return i
		}
	}
	return -1
}

// add inserts m and reports whether it was absent.
func (s *set[M]) add(m M) bool {
	if s.find(m) >= 0 {
		return false
	}
	s.members = append(s.members, m)
	switch n := len(s.members); {
	case s.pos != nil:
		s.pos[m] = n - 1
	case n > indexAt:
		s.buildIndex()
	}
	return true
}

// remove deletes m by swapping the last member into its place, and reports
// whether m was present. The vacated slot is zeroed so that the slice's
// spare capacity never keeps a departed member reachable.
func (s *set[M]) remove(m M) bool {
	i := s.find(m)
	if i < 0 {
		return false
	}
	last := len(s.members) - 1
	if i != last {
		moved := s.members[last]
		s.members[i] = moved
		if s.pos != nil {
			s.pos[moved] = i
		}
	}
	var zero M
	s.members[last] = zero
	s.members = s.members[:last]
	if s.pos != nil {
		delete(s.pos, m)
	}
	s.shrink()
	return true
}

// shrink gives memory back after a set has lost most of its members: Go
// maps and slices never shrink by themselves, so a room that once held
// 100,000 members would otherwise keep their space for as long as it lives.
// Both steps are amortized O(1): each needs the set to have lost at least
// half of its members since the last rebuild.
func (s *set[M]) shrink() {
	n := len(s.members)
	if s.pos != nil && n <= dropIndexAt {
		s.pos = nil
	}
	if c := cap(s.members); n == 0 || c < minShrinkCap || n >= c/4 {
		return // an emptied set is about to be deleted whole
	}
	members := make([]M, n, 2*n)
	copy(members, s.members)
	s.members = members
	if s.pos != nil {
		s.buildIndex()
	}
}

// buildIndex (re)creates the position map from the slice.
func (s *set[M]) buildIndex() {
	s.pos = make(map[M]int, len(s.members))
	for i, x := range s.members {
		s.pos[x] = i
	}
}
