package hub

import (
	"fmt"
	"sync"
	"testing"
)

// TestObserve: the observers hear of a room's and a user's first member
// and of their last, and of nothing in between.
func TestObserve(t *testing.T) {
	h := New[int](4)
	var got []string
	h.Observe(func(name string, first bool) { got = append(got, fmt.Sprint("room ", name, " ", first)) },
		func(name string, first bool) { got = append(got, fmt.Sprint("user ", name, " ", first)) })
	h.Join("a", 1)
	h.Join("a", 2)
	h.Join("a", 2)
	h.Leave("a", 1)
	h.Leave("a", 3)
	h.LeaveAll([]string{"a", "b"}, 2)
	h.AddUser("u", 1)
	h.AddUser("u", 2)
	h.RemoveUser("u", 1)
	h.RemoveUser("u", 2)
	h.RemoveUser("u", 2)
	want := []string{"room a true", "room a false", "user u true", "user u false"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("observed %q, want %q", got, want)
	}
}

// TestObserveBalanced: under concurrent joins and leaves of one room the
// observer's count of rooms (first +1, last -1) never leaves 0..1 and
// ends at 0: the calls for one name come one at a time, in order.
func TestObserveBalanced(t *testing.T) {
	h := New[int](1)
	var mu sync.Mutex
	n, bad := 0, false
	h.Observe(func(_ string, first bool) {
		mu.Lock()
		if first {
			n++
		} else {
			n--
		}
		bad = bad || n < 0 || n > 1
		mu.Unlock()
	}, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				h.Join("r", g)
				h.Leave("r", g)
			}
		}()
	}
	wg.Wait()
	if bad || n != 0 {
		t.Fatalf("count %d at the end (out of range on the way: %v)", n, bad)
	}
}
