// Package hub is wsgate's membership index: which connections are in which
// room, and which connections belong to which user. The server's fan-out
// asks it for a room's members and writes to each of them.
//
// A Hub[M] stores values of the type parameter M, meant to be the server's
// connection pointer. The hub only compares, copies and hashes them; it
// never calls, dereferences or closes a member.
//
// # Sharding
//
// Rooms and users live in two separate indexes, each split into a power of
// two of shards chosen by a per-hub seeded hash/maphash of the name. Each
// shard has its own sync.RWMutex and map, so operations on different rooms
// rarely share a lock, and fan-out snapshots of one room (read lock) run in
// parallel with each other.
//
// # Concurrency rules
//
// Every method is safe for concurrent use. Each call takes at most one
// shard lock, never calls out while holding it (except to an Observer,
// which must not block or use the hub), and never blocks on anything
// else, so the hub cannot take part in a deadlock; Rooms runs its
// callback with no lock held, so the callback may use the Hub.
//
// Results are snapshots. AppendMembers copies a room's members under the
// shard's read lock and returns; a member in the snapshot may leave or
// close before the caller writes to it, and a member that joins afterwards
// is not in it. The server must therefore tolerate writing to a connection
// that has just closed. Len, Users and Rooms walk the shards one at a time
// and are exact only when the hub is quiescent.
//
// Members come back in no particular order: Leave moves the last member
// into the leaver's slot. Ordering of messages is the server's business;
// the hub only answers "who is in this room now".
//
// # Ownership
//
// The hub cannot tell when a connection dies, so the server owns each
// member's lifecycle: it keeps the list of rooms a connection joined and
// its user id, and on close, whatever the reason, calls LeaveAll with that
// list and RemoveUser. Join, Leave, AddUser and RemoveUser are idempotent,
// so a list with stale or duplicate names is harmless. A room or user whose
// last member goes is deleted at once, and the index's maps and slices
// give back their memory after shrinking, so nothing accumulates.
//
// Names are copied when a room or user is created: the caller may pass a
// string that aliases a reusable buffer (as an unsafe []byte conversion
// does) and reuse the buffer once the call returns. The hub puts no limit
// on names; the server validates them.
//
// A dst slice passed to AppendMembers or AppendUser belongs to the caller.
// A reused dst keeps the connections it last held reachable: clear it
// (clear(dst)) after each fan-out, so that a closed connection can be
// collected.
//
// # Cost
//
// AppendMembers, Count, and Join or Leave of an existing room allocate
// nothing in steady state. Creating a room allocates its set, a one-member
// slice and a copy of the name. Measured on amd64 with pointer members
// (BenchmarkMemory): a room or user with one member and a 10-byte name
// costs about 100 bytes; each member of a large room about 40 bytes (an
// 8-byte slice slot plus an entry in the position map that rooms above 16
// members keep for O(1) Leave). Each index also has a fixed 128 bytes per
// shard.
package hub
