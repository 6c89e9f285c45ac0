package limits

import (
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
)

// Handshake rejections. Counter.Acquire and IPLimiter.Check return a
// *Rejection that unwraps to one of them.
var (
	// ErrTooManyConns: the server holds its maximum of connections (503).
	ErrTooManyConns = errors.New("limits: too many connections")
	// ErrTooManyUserConns: the user holds its maximum of connections (429).
	ErrTooManyUserConns = errors.New("limits: too many connections for this user")
	// ErrTooManyIPConns: the source address holds its maximum of
	// connections (429).
	ErrTooManyIPConns = errors.New("limits: too many connections from this address")
	// ErrConnRate: the source address opens connections too fast (429);
	// IPLimiter.Check returns it.
	ErrConnRate = errors.New("limits: connecting too fast")
)

// Rejection is a refused handshake: the HTTP status, the Retry-After
// seconds, and the sentinel it unwraps to.
type Rejection struct {
	Status     int
	RetryAfter int // seconds
	err        error
	retryText  string
}

// NewRejection builds a rejection of err with status and Retry-After
// seconds.
func NewRejection(err error, status, retryAfter int) *Rejection {
	return &Rejection{Status: status, RetryAfter: retryAfter, err: err, retryText: strconv.Itoa(retryAfter)}
}

// Error is the sentinel's text.
func (r *Rejection) Error() string { return r.err.Error() }

// Unwrap returns the sentinel.
func (r *Rejection) Unwrap() error { return r.err }

// RetryAfterText is RetryAfter formatted for the header, without
// allocating.
func (r *Rejection) RetryAfterText() string { return r.retryText }

// CounterOptions are the connection maxima; 0 means no maximum.
type CounterOptions struct {
	// MaxTotal is the most connections the server holds (503 past it).
	MaxTotal int
	// MaxPerUser is the most connections one user id holds (429).
	MaxPerUser int
	// MaxPerIP is the most connections one source address (IPv6: one
	// prefix, see IPKey) holds (429).
	MaxPerIP int
	// IPv6Bits groups IPv6 sources by prefix; 0 means 64.
	IPv6Bits int
	// RetryAfterTotal and RetryAfterLimit are the Retry-After seconds of
	// the 503 and of the 429s. 0 means 5 and 10.
	RetryAfterTotal int
	RetryAfterLimit int
}

// Counter counts open connections in total, per user and per source
// address against their maxima. Acquire when a handshake is about to
// succeed, Release exactly once when that connection closes. Safe for
// concurrent use; a user or address with no connection holds no entry.
type Counter struct {
	opt     CounterOptions
	total   atomic.Int64
	users   keyed[string, int32]
	ips     keyed[netip.Addr, int32]
	rejTot  *Rejection
	rejUser *Rejection
	rejIP   *Rejection
}

// NewCounter returns a Counter enforcing o.
func NewCounter(o CounterOptions) *Counter {
	if o.RetryAfterTotal <= 0 {
		o.RetryAfterTotal = 5
	}
	if o.RetryAfterLimit <= 0 {
		o.RetryAfterLimit = 10
	}
	c := &Counter{
		opt:     o,
		rejTot:  NewRejection(ErrTooManyConns, http.StatusServiceUnavailable, o.RetryAfterTotal),
		rejUser: NewRejection(ErrTooManyUserConns, http.StatusTooManyRequests, o.RetryAfterLimit),
		rejIP:   NewRejection(ErrTooManyIPConns, http.StatusTooManyRequests, o.RetryAfterLimit),
	}
	c.users.init(stringHash())
	c.ips.init(addrHash())
	return c
}

// Acquire counts one more connection for user (empty: anonymous, not
// counted per user) from ip (the zero Addr is not counted per address).
// It returns nil or a *Rejection; nothing is counted when it rejects. It
// does not allocate except for a user's or address's first connection.
func (c *Counter) Acquire(user string, ip netip.Addr) error {
	if n := c.total.Add(1); c.opt.MaxTotal > 0 && n > int64(c.opt.MaxTotal) {
		c.total.Add(-1)
		return c.rejTot
	}
	if c.opt.MaxPerIP > 0 && ip.IsValid() {
		if !acquireKey(&c.ips, IPKey(ip, c.opt.IPv6Bits), c.opt.MaxPerIP) {
			c.total.Add(-1)
			return c.rejIP
		}
	}
	if c.opt.MaxPerUser > 0 && user != "" {
		if !acquireKey(&c.users, user, c.opt.MaxPerUser) {
			if c.opt.MaxPerIP > 0 && ip.IsValid() {
				releaseKey(&c.ips, IPKey(ip, c.opt.IPv6Bits))
			}
			c.total.Add(-1)
			return c.rejUser
		}
	}
	return nil
}

// Release undoes one successful Acquire with the same arguments.
func (c *Counter) Release(user string, ip netip.Addr) {
	if c.opt.MaxPerUser > 0 && user != "" {
		releaseKey(&c.users, user)
	}
	if c.opt.MaxPerIP > 0 && ip.IsValid() {
		releaseKey(&c.ips, IPKey(ip, c.opt.IPv6Bits))
	}
	c.total.Add(-1)
}

func acquireKey[K comparable](m *keyed[K, int32], key K, maxN int) bool {
	s := m.shard(key)
	s.mu.Lock()
	n := s.m[key]
	ok := int(n) < maxN
	if ok {
		s.m[key] = n + 1
	}
	s.mu.Unlock()
	return ok
}

func releaseKey[K comparable](m *keyed[K, int32], key K) {
	s := m.shard(key)
	s.mu.Lock()
	switch n := s.m[key]; {
	case n > 1:
		s.m[key] = n - 1
	case n == 1:
		delete(s.m, key)
	}
	s.mu.Unlock()
}

// Total is the number of connections counted.
func (c *Counter) Total() int64 { return c.total.Load() }

// User is the number of connections counted for user.
func (c *Counter) User(user string) int { return int(get(&c.users, user)) }

// IP is the number of connections counted for ip's key.
func (c *Counter) IP(ip netip.Addr) int { return int(get(&c.ips, IPKey(ip, c.opt.IPv6Bits))) }

// Entries is the number of users and addresses holding an entry (zero
// when no connection is counted: nothing leaks).
func (c *Counter) Entries() int { return c.users.len() + c.ips.len() }

func get[K comparable](m *keyed[K, int32], key K) int32 {
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}
