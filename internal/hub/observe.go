package hub

// Observer is told when a room or a user comes into being (its first
// member joins: first is true) and when it goes (its last member leaves:
// first is false). A node of a cluster uses it to follow its interest in
// rooms and users.
//
// It runs while the hub holds the lock of the name's shard, so the calls
// for one name arrive in the order of the changes they report, never
// two at once; it must not call back into the hub, and must not block.
// name may alias the caller's buffer: copy it to keep it.
type Observer func(name string, first bool)

// Observe sets the observers of the room index and the user index (nil:
// none). Call it before the hub is used; it is not safe to call while
// other goroutines use the hub.
func (h *Hub[M]) Observe(rooms, users Observer) {
	h.rooms.obs = rooms
	h.users.obs = users
}
