package history

// evict drops the shard's oldest messages, across its rooms, until it
// holds a sixteenth less than its share of the memory cap (so the walk
// over its rooms is paid once per sixteenth of the share, not per
// message). cur, the room just written, keeps its latest message.
func (sh *shard) evict(cur *room) {
	target := sh.limit - sh.limit/16
	h := sh.heap[:0]
	for _, r := range sh.rooms {
		if r.evictable(cur) {
			h = append(h, r)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for sh.bytes > target && len(h) > 0 {
		r := h[0]
		r.dropHead(sh)
		sh.evicted.Add(1)
		if !r.evictable(cur) {
			last := len(h) - 1
			h[0] = h[last]
			h[last] = nil
			h = h[:last]
		}
		siftDown(h, 0)
	}
	clear(h)
	sh.heap = h[:0]
}

// evictable reports whether the cap may take r's oldest message.
func (r *room) evictable(cur *room) bool {
	return r.n > 1 || (r.n == 1 && r != cur)
}

// headTime is the time of r's oldest message.
func (r *room) headTime() int64 { return r.ring[r.head].time }

// siftDown restores the min-heap order (by headTime) of h below i.
func siftDown(h []*room, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].headTime() < h[l].headTime() {
			m = r
		}
		if h[i].headTime() <= h[m].headTime() {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
