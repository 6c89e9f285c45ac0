package limits

import (
	"encoding/binary"
	"hash/maphash"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// numShards is the number of independently locked parts of each keyed
// map; a power of two.
const numShards = 64

// DefaultSweepEvery is how often each shard of a keyed limiter drops its
// idle entries when Options leave it zero.
const DefaultSweepEvery = 10 * time.Second

// keyed is a sharded map from K to V with a lock per shard. Hashes are
// seeded per map, so a client cannot aim all its keys at one shard.
type keyed[K comparable, V any] struct {
	hash   func(K) uint64
	shards [numShards]shard[K, V]
}

type shard[K comparable, V any] struct {
	mu        sync.Mutex
	m         map[K]V // guarded by mu
	lastSweep int64   // guarded by mu
	_         [40]byte
}

func (k *keyed[K, V]) init(hash func(K) uint64) {
	k.hash = hash
	for i := range k.shards {
		k.shards[i].m = make(map[K]V)
	}
}

func (k *keyed[K, V]) shard(key K) *shard[K, V] {
	return &k.shards[k.hash(key)&(numShards-1)]
}

// len counts the entries in every shard.
func (k *keyed[K, V]) len() int {
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func stringHash() func(string) uint64 {
	seed := maphash.MakeSeed()
	return func(s string) uint64 { return maphash.String(seed, s) }
}

func addrHash() func(netip.Addr) uint64 {
	k0, k1 := rand.Uint64()|1, rand.Uint64()
	return func(a netip.Addr) uint64 {
		b := a.As16()
		h := (binary.LittleEndian.Uint64(b[:8]) ^ k1) * k0
		h ^= binary.LittleEndian.Uint64(b[8:])
		h *= 0x9e3779b97f4a7c15
		return h ^ h>>29
	}
}

// KeyedLimiter rate-limits by key: messages and bytes per second per user
// across all the user's connections (K = string), or new connections per
// second per source address (K = netip.Addr, see IPLimiter). It is safe
// for concurrent use; each key costs one map entry (two 8-byte buckets)
// while it is not full, and a full (idle) entry is dropped by the
// periodic sweep without changing any answer.
type KeyedLimiter[K comparable] struct {
	limits     ConnLimits
	sweepEvery int64
	m          keyed[K, ConnBuckets]
}

func newKeyedLimiter[K comparable](l ConnLimits, sweepEvery time.Duration, hash func(K) uint64) *KeyedLimiter[K] {
	if sweepEvery <= 0 {
		sweepEvery = DefaultSweepEvery
	}
	k := &KeyedLimiter[K]{limits: l, sweepEvery: int64(sweepEvery)}
	k.m.init(hash)
	return k
}

// NewUserLimiter returns a limiter of messages and bytes per user;
// sweepEvery 0 means DefaultSweepEvery.
func NewUserLimiter(l ConnLimits, sweepEvery time.Duration) *KeyedLimiter[string] {
	return newKeyedLimiter(l, sweepEvery, stringHash())
}

// Allow admits one message of size bytes for key at now. Steady state
// (the key has an entry) does not allocate; the lookup with a string
// key does not copy it.
func (k *KeyedLimiter[K]) Allow(key K, now, size int64) bool {
	s := k.m.shard(key)
	s.mu.Lock()
	if now-s.lastSweep >= k.sweepEvery {
		k.sweepLocked(s, now)
	}
	e := s.m[key]
	ok := e.Allow(&k.limits, now, size)
	if ok {
		s.m[key] = e
	}
	s.mu.Unlock()
	return ok
}

// Delay is how long key must wait from now before a message of size
// bytes would pass.
func (k *KeyedLimiter[K]) Delay(key K, now, size int64) time.Duration {
	s := k.m.shard(key)
	s.mu.Lock()
	e := s.m[key]
	s.mu.Unlock()
	return max(e.msgs.Delay(&k.limits.Msgs, now, 1), e.bytes.Delay(&k.limits.Bytes, now, size))
}

// sweepLocked drops the entries of s that are full at now.
func (k *KeyedLimiter[K]) sweepLocked(s *shard[K, ConnBuckets], now int64) {
	s.lastSweep = now
	for key, e := range s.m {
		if e.Full(now) {
			delete(s.m, key)
		}
	}
}

// Sweep drops every idle entry now (Allow also sweeps each shard every
// sweepEvery, so calling Sweep is optional).
func (k *KeyedLimiter[K]) Sweep(now int64) {
	for i := range k.m.shards {
		s := &k.m.shards[i]
		s.mu.Lock()
		k.sweepLocked(s, now)
		s.mu.Unlock()
	}
}

// Len is the number of keys with state (for tests and metrics).
func (k *KeyedLimiter[K]) Len() int { return k.m.len() }

// IPKey normalizes a source address into the key limits count it under:
// IPv4-mapped IPv6 becomes IPv4, the zone is dropped, and an IPv6 address
// is cut to its first v6Bits bits (a /64 is what one subscriber usually
// holds, so per-address limits on full IPv6 addresses are easy to dodge).
// v6Bits outside 1..128 means 64. It does not allocate.
func IPKey(a netip.Addr, v6Bits int) netip.Addr {
	a = a.Unmap()
	if !a.Is6() {
		return a
	}
	if v6Bits <= 0 || v6Bits > 128 {
		v6Bits = 64
	}
	p, err := a.WithZone("").Prefix(v6Bits)
	if err != nil {
		return a
	}
	return p.Addr()
}

// IPLimiter limits new connections per second per source address (IPv6
// grouped by prefix, see IPKey). Safe for concurrent use.
type IPLimiter struct {
	k      *KeyedLimiter[netip.Addr]
	v6Bits int
	rej    [maxRetryAfter]*Rejection // rej[s-1]: Retry-After s seconds
}

// maxRetryAfter caps the Retry-After seconds of a connection-rate 429.
const maxRetryAfter = 60

// NewIPLimiter returns a limiter of perSecond new connections per source
// address with the given burst; v6Bits as in IPKey; sweepEvery 0 means
// DefaultSweepEvery.
func NewIPLimiter(perSecond float64, burst int64, v6Bits int, sweepEvery time.Duration) *IPLimiter {
	l := ConnLimits{Msgs: NewLimit(perSecond, burst)}
	il := &IPLimiter{k: newKeyedLimiter(l, sweepEvery, addrHash()), v6Bits: v6Bits}
	for i := range il.rej {
		il.rej[i] = NewRejection(ErrConnRate, http.StatusTooManyRequests, i+1)
	}
	return il
}

// Check is Allow for the handshake: nil, or a *Rejection (429,
// ErrConnRate) whose Retry-After is the wait rounded up to seconds (1 to
// 60). Rejections are prebuilt, so a connection storm allocates nothing.
func (l *IPLimiter) Check(a netip.Addr, now int64) error {
	ok, wait := l.Allow(a, now)
	if ok {
		return nil
	}
	return l.rej[min(RetryAfterSeconds(wait), maxRetryAfter)-1]
}

// Allow admits one new connection from a at now. When it refuses,
// retryAfter is the wait until one would pass (for a 429's Retry-After,
// see RetryAfterSeconds). It does not allocate for a known address.
func (l *IPLimiter) Allow(a netip.Addr, now int64) (ok bool, retryAfter time.Duration) {
	key := IPKey(a, l.v6Bits)
	if l.k.Allow(key, now, 0) {
		return true, 0
	}
	return false, l.k.Delay(key, now, 0)
}

// Sweep drops idle entries now.
func (l *IPLimiter) Sweep(now int64) { l.k.Sweep(now) }

// Len is the number of addresses with state.
func (l *IPLimiter) Len() int { return l.k.Len() }

// RetryAfterSeconds rounds d up to whole seconds, at least 1, for a
// Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
