package admin

// Stats is a gateway's counters: the answer of GET /api/stats, and each
// node's part of GET /api/stats?scope=cluster.
type Stats struct {
	// Open is the number of connections (handshaking or upgraded) now open.
	Open int64 `json:"open"`
	// Accepted counts successful upgrades; Rejected counts refused handshakes.
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
	// Rooms and Users are the sizes of the hub's indexes.
	Rooms int `json:"rooms"`
	Users int `json:"users"`
	// MessagesIn and MessagesOut count data messages received and queued.
	MessagesIn  uint64 `json:"messages_in"`
	MessagesOut uint64 `json:"messages_out"`
	// SlowClosed and Dropped count slow-consumer actions.
	SlowClosed uint64 `json:"slow_consumer_closed"`
	Dropped    uint64 `json:"dropped_messages"`
	// WriteSyscalls and WrittenBytes count the socket writes (write and
	// writev) and what they carried: their ratio is the batching achieved.
	WriteSyscalls uint64 `json:"write_syscalls"`
	WrittenBytes  uint64 `json:"written_bytes"`
}

// Add adds o's counters to st: the totals of several nodes. A room or a
// user with members on two nodes counts twice.
func (st *Stats) Add(o *Stats) {
	st.Open += o.Open
	st.Accepted += o.Accepted
	st.Rejected += o.Rejected
	st.Rooms += o.Rooms
	st.Users += o.Users
	st.MessagesIn += o.MessagesIn
	st.MessagesOut += o.MessagesOut
	st.SlowClosed += o.SlowClosed
	st.Dropped += o.Dropped
	st.WriteSyscalls += o.WriteSyscalls
	st.WrittenBytes += o.WrittenBytes
}
