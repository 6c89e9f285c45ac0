package hub_test

import (
	"fmt"

	"github.com/wsgate/wsgate/internal/hub"
)

// conn stands in for the server's per-connection state.
type conn struct {
	name  string
	user  string
	rooms []string // owned by the server: every room this conn joined
}

// Example shows the life of two connections as the server drives it:
// join, fan out with a reused snapshot slice, and leave everything on close.
func Example() {
	h := hub.New[*conn](0)
	a := &conn{name: "a", user: "ann"}
	b := &conn{name: "b", user: "ann"}
	for _, c := range []*conn{a, b} {
		h.AddUser(c.user, c)
		if h.Join("lobby", c) {
			c.rooms = append(c.rooms, "lobby")
		}
	}

	var dst []*conn // one per publisher goroutine, reused
	dst = h.AppendMembers(dst[:0], "lobby")
	fmt.Println("lobby members:", len(dst))
	clear(dst) // do not keep connections reachable until the next fan-out

	// On close, whatever the reason:
	h.LeaveAll(a.rooms, a)
	h.RemoveUser(a.user, a)
	fmt.Println("lobby:", h.Count("lobby"), "ann:", len(h.AppendUser(nil, "ann")))

	h.LeaveAll(b.rooms, b)
	h.RemoveUser(b.user, b)
	fmt.Println("rooms:", h.Len(), "users:", h.Users())
	// Output:
	// lobby members: 2
	// lobby: 1 ann: 1
	// rooms: 0 users: 0
}
