// Package limits holds wsgate's rate and connection limits: token buckets
// for messages and bytes per connection and per user, new connections per
// second per source address, a violation policy, and connection counters
// with maxima. It imports only the standard library.
//
// # Token buckets
//
// A Bucket is 8 bytes: the GCRA "theoretical arrival time" (the instant
// the bucket is full again), with its rate and burst in a shared, read-
// only Limit. A connection's ConnBuckets (messages and bytes) is 16
// bytes, updated by the connection's poller goroutine without locks; two
// golang.org/x/time/rate Limiters would be 160 bytes with two mutexes.
// The zero Bucket is full, so a full entry can be forgotten without
// changing any answer: keyed limiters drop idle entries in a periodic
// sweep done by Allow itself (each shard every sweepEvery). Callers pass
// the time as monotonic nanoseconds (a Clock, read once per loop
// iteration), which keeps every test deterministic.
//
// Per user (KeyedLimiter[string], shared by a user's connections) and per
// source address (IPLimiter over netip.Addr keys, IPv4-mapped addresses
// unmapped, IPv6 grouped by /64) the buckets live in a 64-way sharded map
// with a lock per shard; steady-state calls do not allocate.
//
// # Violations
//
// Policy.Violation counts a connection's violations: the first
// CloseAfter-1 give Drop (discard the message, send the client an error),
// the CloseAfter-th gives Close (close with CloseCode 1008 and
// CloseReason "rate limit exceeded").
//
// # Connection counters
//
// Counter.Acquire checks the total, per-user and per-address maxima and
// returns nil or a *Rejection (503 with Retry-After for the total, 429
// with Retry-After for a user or address); Release undoes it when the
// connection closes. Users and addresses with no connection hold no
// entry.
//
// # Configuration the server wires (proposed config.Config fields)
//
// Zero means unlimited for every rate and maximum; the defaults proposed
// here are generous enough that a well-behaved client never meets them.
//
//	RateMsgs        float64  -rate-msgs          messages/s per connection. Default 100.
//	RateMsgsBurst   int      -rate-msgs-burst    message burst per connection. Default 200.
//	RateBytes       int64    -rate-bytes         bytes/s per connection (64KiB style). Default 1MiB.
//	RateBytesBurst  int64    -rate-bytes-burst   byte burst per connection; keep >= max-message. Default 2MiB.
//	UserRateMsgs    float64  -user-rate-msgs     messages/s per user across connections. Default 500.
//	UserRateMsgsBurst int    -user-rate-msgs-burst  Default 1000.
//	UserRateBytes   int64    -user-rate-bytes    bytes/s per user. Default 4MiB.
//	UserRateBytesBurst int64 -user-rate-bytes-burst Default 8MiB.
//	ConnRate        float64  -conn-rate          new connections/s per source address (IPv6 /64). Default 20.
//	ConnRateBurst   int      -conn-rate-burst    Default 50.
//	RateCloseAfter  int      -rate-close-after   violations before close 1008 (the first N-1 are dropped). Default 10.
//	MaxConns        int      -max-conns          connections in total (503, Retry-After 5). Default 0 (unlimited; the fd limit applies).
//	MaxConnsPerUser int      -max-conns-per-user connections per user (429). Default 16.
//	MaxConnsPerIP   int      -max-conns-per-ip   connections per source address (429). Default 256.
//	IPv6PrefixBits  int      -ipv6-prefix        IPv6 source grouping for per-IP limits. Default 64.
//
// Per-IP defaults assume clients are not all behind one NAT; load tests
// from 127.0.0.1 need -max-conns-per-ip 0 -conn-rate 0.
package limits
