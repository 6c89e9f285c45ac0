package hub

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// owned is a member that records which goroutine owns it. Only its owner
// ever joins or leaves with it, so the owner knows exactly where it is and
// can check every concurrent snapshot against that knowledge.
type owned struct{ owner, id int }

// worker is one goroutine's view in TestConcurrent.
type worker struct {
	g       int
	members []*owned
	rooms   map[string]map[*owned]bool // rooms this worker's members are in
	users   map[string]map[*owned]bool
	dst     []*owned
}

func TestConcurrent(t *testing.T) {
	for _, shards := range []int{1, 64} {
		t.Run(fmt.Sprint("shards=", shards), func(t *testing.T) {
			testConcurrent(t, shards)
		})
	}
}

func testConcurrent(t *testing.T, shards int) {
	const (
		goroutines = 8
		perWorker  = 24 // > indexAt in total, so rooms cross the map threshold
		ops        = 4000
	)
	roomNames := make([]string, 10)
	for i := range roomNames {
		roomNames[i] = fmt.Sprint("room-", i)
	}
	userNames := []string{"ann", "bob", "cy", "di"}
	h := New[*owned](shards)
	workers := make([]*worker, goroutines)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range workers {
		w := &worker{g: g, rooms: map[string]map[*owned]bool{}, users: map[string]map[*owned]bool{}}
		for i := range perWorker {
			w.members = append(w.members, &owned{owner: g, id: i})
		}
		workers[g] = w
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range ops {
				if err := w.step(h, rng, roomNames, userNames); err != nil {
					errs <- fmt.Errorf("worker %d op %d: %w", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkHub(t, h)

	// Quiescent: the hub must equal the union of the workers' models.
	for _, r := range roomNames {
		want := 0
		for _, w := range workers {
			want += len(w.rooms[r])
		}
		if got := h.Count(r); got != want {
			t.Fatalf("Count(%q) = %d, want %d", r, got, want)
		}
		if got := len(h.AppendMembers(nil, r)); got != want {
			t.Fatalf("AppendMembers(%q) has %d, want %d", r, got, want)
		}
	}
	for _, w := range workers {
		for _, m := range w.members {
			h.LeaveAll(roomNames, m)
			for _, u := range userNames {
				h.RemoveUser(u, m)
			}
		}
	}
	if h.Len() != 0 || h.Users() != 0 {
		t.Fatalf("after everyone left: Len %d, Users %d", h.Len(), h.Users())
	}
}

// step performs one random operation and checks its result.
func (w *worker) step(h *Hub[*owned], rng *rand.Rand, rooms, users []string) error {
	room := rooms[rng.IntN(len(rooms))]
	user := users[rng.IntN(len(users))]
	m := w.members[rng.IntN(len(w.members))]
	switch op := rng.IntN(20); {
	case op < 6:
		if got, want := h.Join(room, m), !w.rooms[room][m]; got != want {
			return fmt.Errorf("Join(%s, %d) = %v, want %v", room, m.id, got, want)
		}
		setIn(w.rooms, room, m, true)
	case op < 10:
		if got, want := h.Leave(room, m), w.rooms[room][m]; got != want {
			return fmt.Errorf("Leave(%s, %d) = %v, want %v", room, m.id, got, want)
		}
		setIn(w.rooms, room, m, false)
	case op < 11:
		h.LeaveAll(rooms, m)
		for _, r := range rooms {
			setIn(w.rooms, r, m, false)
		}
	case op < 15:
		w.dst = h.AppendMembers(w.dst[:0], room)
		if err := w.checkSnapshot(w.dst, w.rooms[room]); err != nil {
			return fmt.Errorf("room %s: %w", room, err)
		}
		if n := h.Count(room); n < len(w.rooms[room]) {
			return fmt.Errorf("Count(%s) = %d < own %d", room, n, len(w.rooms[room]))
		}
	case op < 16:
		h.AddUser(user, m)
		setIn(w.users, user, m, true)
	case op < 17:
		h.RemoveUser(user, m)
		setIn(w.users, user, m, false)
	case op < 19:
		w.dst = h.AppendUser(w.dst[:0], user)
		if err := w.checkSnapshot(w.dst, w.users[user]); err != nil {
			return fmt.Errorf("user %s: %w", user, err)
		}
	default:
		var err error
		h.Rooms(func(r string, n int) bool {
			if n <= 0 {
				err = fmt.Errorf("Rooms reported %s with %d members", r, n)
			}
			return err == nil
		})
		if err != nil {
			return err
		}
		if h.Len() > len(rooms) || h.Users() > len(users) {
			return fmt.Errorf("Len %d, Users %d beyond the name pools", h.Len(), h.Users())
		}
	}
	return nil
}

// checkSnapshot verifies that snap has no duplicates and holds exactly the
// worker's own members that its model places there.
func (w *worker) checkSnapshot(snap []*owned, mine map[*owned]bool) error {
	seen := make(map[*owned]bool, len(snap))
	own := 0
	for _, m := range snap {
		if seen[m] {
			return fmt.Errorf("member %d/%d listed twice", m.owner, m.id)
		}
		seen[m] = true
		if m.owner == w.g {
			if !mine[m] {
				return fmt.Errorf("own member %d listed but left", m.id)
			}
			own++
		}
	}
	if own != len(mine) {
		return fmt.Errorf("snapshot has %d own members, want %d", own, len(mine))
	}
	return nil
}

func setIn(sets map[string]map[*owned]bool, name string, m *owned, in bool) {
	if !in {
		delete(sets[name], m)
		return
	}
	if sets[name] == nil {
		sets[name] = map[*owned]bool{}
	}
	sets[name][m] = true
}
