package hub

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"
	"weak"
)

// tconn stands in for the server's connection; pad makes a leaked one
// visible in heap statistics.
type tconn struct {
	id int
	_  [1024]byte
}

func newConns(n int) []*tconn {
	cs := make([]*tconn, n)
	for i := range cs {
		cs[i] = &tconn{id: i}
	}
	return cs
}

func ids(cs []*tconn) []int {
	out := make([]int, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	slices.Sort(out)
	return out
}

// checkSet verifies a set's internal invariants.
func checkSet[M comparable](t *testing.T, name string, s *set[M]) {
	t.Helper()
	if len(s.members) == 0 {
		t.Fatalf("%q: empty set kept", name)
	}
	if s.pos == nil {
		if len(s.members) > indexAt {
			t.Fatalf("%q: %d members without a position map", name, len(s.members))
		}
		return
	}
	if len(s.pos) != len(s.members) {
		t.Fatalf("%q: %d positions for %d members", name, len(s.pos), len(s.members))
	}
	for i, m := range s.members {
		if p, ok := s.pos[m]; !ok || p != i {
			t.Fatalf("%q: member %d at %d, map says %d (%v)", name, i, i, p, ok)
		}
	}
}

// checkHub verifies every set of h, and that no room or user is empty.
func checkHub[M comparable](t *testing.T, h *Hub[M]) {
	t.Helper()
	for _, x := range []*index[M]{&h.rooms, &h.users} {
		for i := range x.shards {
			for name, st := range x.shards[i].sets {
				checkSet(t, name, st)
			}
		}
	}
}

func TestShardCount(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{-1, 64}, {0, 64}, {1, 1}, {2, 2}, {3, 4}, {64, 64}, {65, 128},
		{1 << 16, 1 << 16}, {1<<16 + 1, 1 << 16}, {1 << 30, 1 << 16},
	} {
		if got := shardCount(tc.in); got != tc.want {
			t.Errorf("shardCount(%d) = %d, want %d", tc.in, got, tc.want)
		}
		if tc.in > 1<<20 {
			continue
		}
		h := New[*tconn](tc.in)
		if len(h.rooms.shards) != tc.want || len(h.users.shards) != tc.want {
			t.Errorf("New(%d): %d/%d shards, want %d", tc.in, len(h.rooms.shards), len(h.users.shards), tc.want)
		}
	}
	if s := unsafe.Sizeof(shard[*tconn]{}); s%cacheLine != 0 {
		t.Errorf("shard is %d bytes, not a multiple of %d", s, cacheLine)
	}
}

func TestJoinLeave(t *testing.T) {
	h := New[*tconn](4)
	a, b := &tconn{id: 1}, &tconn{id: 2}
	steps := []struct {
		op   string
		room string
		m    *tconn
		want bool
	}{
		{"join", "r", a, true},
		{"join", "r", a, false},
		{"join", "r", b, true},
		{"join", "s", a, true},
		{"leave", "r", a, true},
		{"leave", "r", a, false},
		{"leave", "nope", a, false},
		{"leave", "s", b, false},
		{"leave", "r", b, true},
		{"leave", "s", a, true},
	}
	counts := map[string]int{}
	for i, st := range steps {
		var got bool
		if st.op == "join" {
			got = h.Join(st.room, st.m)
		} else {
			got = h.Leave(st.room, st.m)
		}
		if got != st.want {
			t.Fatalf("step %d: %s(%q, %d) = %v, want %v", i, st.op, st.room, st.m.id, got, st.want)
		}
		if got && st.op == "join" {
			counts[st.room]++
		} else if got {
			counts[st.room]--
			if counts[st.room] == 0 {
				delete(counts, st.room)
			}
		}
		for _, r := range []string{"r", "s", "nope"} {
			if c := h.Count(r); c != counts[r] {
				t.Fatalf("step %d: Count(%q) = %d, want %d", i, r, c, counts[r])
			}
		}
		if h.Len() != len(counts) {
			t.Fatalf("step %d: Len() = %d, want %d", i, h.Len(), len(counts))
		}
		checkHub(t, h)
	}
}

func TestAppendMembers(t *testing.T) {
	h := New[*tconn](0)
	cs := newConns(40)
	for _, c := range cs {
		h.Join("big", c)
	}
	h.Join("one", cs[7])
	prefix := &tconn{id: -1}
	got := h.AppendMembers([]*tconn{prefix}, "big")
	if got[0] != prefix || len(got) != 41 {
		t.Fatalf("AppendMembers kept prefix %v, len %d", got[0] == prefix, len(got))
	}
	if !slices.Equal(ids(got[1:]), ids(cs)) {
		t.Fatalf("AppendMembers(big) = %v", ids(got[1:]))
	}
	if got := h.AppendMembers(nil, "one"); len(got) != 1 || got[0] != cs[7] {
		t.Fatalf("AppendMembers(one) = %v", ids(got))
	}
	dst := make([]*tconn, 0, 4)
	if got := h.AppendMembers(dst, "missing"); len(got) != 0 {
		t.Fatalf("AppendMembers(missing) = %v", ids(got))
	}
	// Leave in the middle, so the swap-delete path runs with a map.
	for i := 0; i < 40; i += 3 {
		h.Leave("big", cs[i])
	}
	var want []*tconn
	for i, c := range cs {
		if i%3 != 0 {
			want = append(want, c)
		}
	}
	if got := h.AppendMembers(nil, "big"); !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("after leaves: %v, want %v", ids(got), ids(want))
	}
	checkHub(t, h)
}

func TestLeaveAll(t *testing.T) {
	h := New[*tconn](8)
	a, b := &tconn{id: 1}, &tconn{id: 2}
	rooms := []string{"x", "y", "z"}
	for _, r := range rooms {
		h.Join(r, a)
	}
	h.Join("y", b)
	// Stale and duplicate names are harmless.
	h.LeaveAll([]string{"x", "y", "z", "y", "never"}, a)
	if h.Len() != 1 || h.Count("y") != 1 {
		t.Fatalf("after LeaveAll: Len %d, Count(y) %d", h.Len(), h.Count("y"))
	}
	if got := h.AppendMembers(nil, "y"); len(got) != 1 || got[0] != b {
		t.Fatalf("y = %v", ids(got))
	}
}

func TestRooms(t *testing.T) {
	h := New[*tconn](4)
	cs := newConns(30)
	want := map[string]int{}
	for i, c := range cs {
		for r := 0; r <= i%5; r++ {
			name := fmt.Sprintf("room-%d", r)
			h.Join(name, c)
			want[name]++
		}
	}
	got := map[string]int{}
	h.Rooms(func(room string, members int) bool {
		if _, dup := got[room]; dup {
			t.Errorf("room %q listed twice", room)
		}
		got[room] = members
		return true
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Rooms = %v, want %v", got, want)
	}
	n := 0
	h.Rooms(func(string, int) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("Rooms did not stop: %d calls", n)
	}
	// The callback may change the hub (no lock is held while it runs).
	h.Rooms(func(room string, _ int) bool {
		for _, c := range cs {
			h.Leave(room, c)
		}
		return true
	})
	if h.Len() != 0 {
		t.Fatalf("Len after emptying from Rooms = %d", h.Len())
	}
}

func TestUsers(t *testing.T) {
	h := New[*tconn](2)
	cs := newConns(20)
	for i, c := range cs {
		h.AddUser(fmt.Sprint("u", i%3), c)
		h.AddUser(fmt.Sprint("u", i%3), c)
	}
	if h.Users() != 3 {
		t.Fatalf("Users = %d", h.Users())
	}
	if h.Len() != 0 {
		t.Fatalf("users leaked into rooms: Len %d", h.Len())
	}
	got := h.AppendUser(nil, "u1")
	var want []*tconn
	for i, c := range cs {
		if i%3 == 1 {
			want = append(want, c)
		}
	}
	if !slices.Equal(ids(got), ids(want)) || h.CountUser("u1") != len(want) {
		t.Fatalf("AppendUser(u1) = %v, CountUser %d, want %v", ids(got), h.CountUser("u1"), ids(want))
	}
	for i, c := range cs {
		h.RemoveUser(fmt.Sprint("u", i%3), c)
		h.RemoveUser(fmt.Sprint("u", i%3), c)
	}
	if h.Users() != 0 || h.CountUser("u1") != 0 || len(h.AppendUser(nil, "u1")) != 0 {
		t.Fatalf("after removal: Users %d", h.Users())
	}
}

// TestModel runs random operations against a map model, checking results
// and the sets' internal invariants through growth and shrinkage.
func TestModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := New[int](4)
	model := map[string]map[int]bool{}
	rooms := []string{"a", "b", "c", "d", "e", "f", ""}
	for step := range 40000 {
		room := rooms[rng.IntN(len(rooms))]
		// Vary the member range over time so sets grow past the index
		// threshold and shrink back below it.
		span := 4 + (step/2000%5)*40
		m := rng.IntN(span)
		in := model[room][m]
		switch op := rng.IntN(10); {
		case op < 5:
			if got := h.Join(room, m); got == in {
				t.Fatalf("step %d: Join(%q, %d) = %v with member=%v", step, room, m, got, in)
			}
			if model[room] == nil {
				model[room] = map[int]bool{}
			}
			model[room][m] = true
		case op < 9 || !in:
			if got := h.Leave(room, m); got != in {
				t.Fatalf("step %d: Leave(%q, %d) = %v with member=%v", step, room, m, got, in)
			}
			delete(model[room], m)
			if len(model[room]) == 0 {
				delete(model, room)
			}
		default:
			for r := range model {
				delete(model[r], m)
				if len(model[r]) == 0 {
					delete(model, r)
				}
			}
			h.LeaveAll(rooms, m)
		}
		if step%97 == 0 {
			checkModel(t, h, model)
		}
	}
	checkModel(t, h, model)
}

func checkModel(t *testing.T, h *Hub[int], model map[string]map[int]bool) {
	t.Helper()
	checkHub(t, h)
	if h.Len() != len(model) {
		t.Fatalf("Len = %d, want %d", h.Len(), len(model))
	}
	for room, ms := range model {
		got := h.AppendMembers(nil, room)
		slices.Sort(got)
		var want []int
		for m := range ms {
			want = append(want, m)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) || h.Count(room) != len(want) {
			t.Fatalf("room %q = %v (Count %d), want %v", room, got, h.Count(room), want)
		}
	}
}

// TestNameIsCopied passes a room name that aliases a buffer and then
// overwrites the buffer: the hub must have kept its own copy.
func TestNameIsCopied(t *testing.T) {
	h := New[*tconn](1)
	buf := []byte("lobby")
	c := &tconn{}
	h.Join(unsafe.String(&buf[0], len(buf)), c)
	h.AddUser(unsafe.String(&buf[0], len(buf)), c)
	copy(buf, "XXXXX")
	if h.Count("lobby") != 1 || h.CountUser("lobby") != 1 {
		t.Fatalf("lost room after buffer reuse: Count %d, CountUser %d", h.Count("lobby"), h.CountUser("lobby"))
	}
	h.Rooms(func(room string, _ int) bool {
		if room != "lobby" {
			t.Errorf("room name changed to %q", room)
		}
		return true
	})
}

// TestLeftMembersAreCollectable checks that nothing in the hub keeps a
// member reachable once it has left: not a set's spare slice capacity, not
// its position map.
func TestLeftMembersAreCollectable(t *testing.T) {
	for _, stay := range []int{2, 20, 300} {
		t.Run(fmt.Sprint("stay=", stay), func(t *testing.T) {
			h := New[*tconn](1)
			staying := newConns(stay)
			for _, c := range staying {
				h.Join("room", c)
				h.AddUser("user", c)
			}
			var refs []weak.Pointer[tconn]
			func() {
				visitors := newConns(10)
				for _, c := range visitors {
					h.Join("room", c)
					h.AddUser("user", c)
					refs = append(refs, weak.Make(c))
				}
				for _, c := range visitors {
					h.Leave("room", c)
					h.RemoveUser("user", c)
				}
			}()
			runtime.GC()
			runtime.GC()
			for i, r := range refs {
				if r.Value() != nil {
					t.Fatalf("visitor %d still reachable after leaving", i)
				}
			}
			if h.Count("room") != stay || h.CountUser("user") != stay {
				t.Fatalf("Count %d, CountUser %d, want %d", h.Count("room"), h.CountUser("user"), stay)
			}
			runtime.KeepAlive(staying)
		})
	}
}

// TestShrink checks that sets and shard maps give memory back.
func TestShrink(t *testing.T) {
	h := New[int](1)
	for i := range 10000 {
		h.Join("big", i)
	}
	for i := range 9992 {
		h.Leave("big", i)
	}
	st := h.rooms.shards[0].sets["big"]
	if cap(st.members) > 64 || st.pos != nil {
		t.Fatalf("8 members left: cap %d, map %v", cap(st.members), st.pos != nil)
	}
	checkHub(t, h)

	for i := range 1000 {
		h.Join(fmt.Sprint("r", i), i)
	}
	s := &h.rooms.shards[0]
	for i := range 990 {
		h.Leave(fmt.Sprint("r", i), i)
	}
	if s.high >= minShardRebuild && s.high > 4*len(s.sets) {
		t.Fatalf("shard map not rebuilt: high %d, len %d", s.high, len(s.sets))
	}
	for i := 990; i < 1000; i++ {
		h.Leave(fmt.Sprint("r", i), i)
	}
	h.Leave("big", 9995)
	for i := 9992; i < 10000; i++ {
		h.Leave("big", i)
	}
	if s.sets != nil || h.Len() != 0 {
		t.Fatalf("emptied shard keeps its map (len %d)", len(s.sets))
	}
}
