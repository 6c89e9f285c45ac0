package hub

// Hub is a sharded index of rooms and of users, each a set of members of
// type M (the server's connection pointer). All methods are safe for
// concurrent use. The zero Hub is not usable; call New.
type Hub[M comparable] struct {
	rooms index[M]
	users index[M]
}

// New returns an empty Hub whose room index and user index each have
// shards shards: n is rounded up to a power of two (at most 65536), and
// n <= 0 means 64. More shards mean less lock contention between rooms and
// a fixed cost of 128 bytes per shard per index.
func New[M comparable](shards int) *Hub[M] {
	n := shardCount(shards)
	h := new(Hub[M])
	h.rooms.init(n)
	h.users.init(n)
	return h
}

// Join adds m to room, creating the room if it does not exist, and reports
// whether m was not already a member. Joining twice is harmless.
func (h *Hub[M]) Join(room string, m M) (joined bool) {
	return h.rooms.add(room, m)
}

// Leave removes m from room and reports whether it was a member. A room
// left empty is deleted at once.
func (h *Hub[M]) Leave(room string, m M) (left bool) {
	return h.rooms.remove(room, m)
}

// LeaveAll removes m from each of rooms, as on connection close. Rooms m is
// not in are skipped.
func (h *Hub[M]) LeaveAll(rooms []string, m M) {
	for _, room := range rooms {
		h.rooms.remove(room, m)
	}
}

// AppendMembers appends room's members to dst and returns the extended
// slice: a snapshot, in no particular order, for one fan-out. It allocates
// nothing when dst has room for them.
func (h *Hub[M]) AppendMembers(dst []M, room string) []M {
	return h.rooms.appendTo(dst, room)
}

// Count returns the number of members of room (0 if it does not exist).
func (h *Hub[M]) Count(room string) int {
	return h.rooms.count(room)
}

// Rooms calls fn with each room's name and member count until fn returns
// false. No lock is held while fn runs, so fn may use the Hub; the listing
// is consistent per shard, not across shards, and a room changed during
// the walk may be reported with its old or its new count, or not at all.
func (h *Hub[M]) Rooms(fn func(room string, members int) bool) {
	h.rooms.each(fn)
}

// Len returns the number of rooms. It takes each shard's read lock in
// turn, so it is meant for stats and tests, not for hot paths.
func (h *Hub[M]) Len() int {
	return h.rooms.len()
}

// AddUser records m as one of user's members (connections). Adding twice
// is harmless.
func (h *Hub[M]) AddUser(user string, m M) {
	h.users.add(user, m)
}

// RemoveUser forgets m as one of user's members; a user left with none is
// deleted at once.
func (h *Hub[M]) RemoveUser(user string, m M) {
	h.users.remove(user, m)
}

// AppendUser appends user's members to dst and returns the extended slice,
// like AppendMembers.
func (h *Hub[M]) AppendUser(dst []M, user string) []M {
	return h.users.appendTo(dst, user)
}

// CountUser returns the number of members user has (0 if none).
func (h *Hub[M]) CountUser(user string) int {
	return h.users.count(user)
}

// Users returns the number of users with at least one member; like Len,
// it walks every shard.
func (h *Hub[M]) Users() int {
	return h.users.len()
}

// ValidName reports whether a room name is acceptable: 1-128 characters
// from a conservative set (A-Z a-z 0-9 . _ - : @ ~) that needs no escaping
// in paths, logs or subjects of other systems.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '~':
		default:
			return false
		}
	}
	return true
}
