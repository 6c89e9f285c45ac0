package poller

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Pending connections.
//
// A connection is pending from its accept until the handler calls
// Engine.Opened (when its protocol handshake is done): it costs a
// descriptor and memory while its peer has proved nothing. Stalled
// handshakes are the cheapest way to exhaust a server, and the per-address
// limits a handler applies once a request is complete never see them. So
// the Engine caps pending connections itself, at accept, before the
// connection costs a read:
//
//   - per source address (IPv6: per network of Config.PendingIPv6Bits),
//     MaxPendingPerIP: one more is closed at once, before the Handler
//     sees it;
//   - in total, MaxPending: when one more is accepted the oldest pending
//     connection is closed (ErrHandshakeShed), so a flood of stalled
//     handshakes sheds itself and newcomers, honest ones among them, are
//     served.

// ErrHandshakeShed closes a pending connection to make room for newer
// ones: the oldest when too many were pending, or the oldest stalled TLS
// handshake when every TLS handshake slot was taken.
var ErrHandshakeShed = errors.New("poller: handshake shed to make room")

// pendingSet is an Engine's pending connections.
type pendingSet struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
	order []*Conn // accept order; holds some connections no longer pending
	perIP map[netip.Addr]int32
	// reserved counts admissions made (admit) and not yet registered or
	// released; they count towards the total.
	reserved int

	maxIP, max int
	v6bits     int

	shedIP, shedOldest atomic.Uint64
}

func newPendingSet(cfg Config) *pendingSet {
	if cfg.MaxPending <= 0 && cfg.MaxPendingPerIP <= 0 {
		return nil
	}
	bits := cfg.PendingIPv6Bits
	if bits <= 0 || bits > 128 {
		bits = 64
	}
	return &pendingSet{conns: make(map[*Conn]struct{}), perIP: make(map[netip.Addr]int32),
		maxIP: cfg.MaxPendingPerIP, max: cfg.MaxPending, v6bits: bits}
}

// key is the per-address key of ip: the address itself for IPv4, its
// network for IPv6.
func (p *pendingSet) key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		if pfx, err := ip.Prefix(p.v6bits); err == nil {
			return pfx.Addr()
		}
	}
	return ip
}

// admit reserves a pending slot for a connection from ip, or reports
// false when ip already has MaxPendingPerIP pending.
func (p *pendingSet) admit(ip netip.Addr) bool {
	k := p.key(ip)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maxIP > 0 && int(p.perIP[k]) >= p.maxIP {
		p.shedIP.Add(1)
		return false
	}
	p.perIP[k]++
	p.reserved++
	return true
}

// release gives back a reservation admit made for ip that was never
// registered.
func (p *pendingSet) release(ip netip.Addr) {
	p.mu.Lock()
	p.reserved--
	p.decLocked(p.key(ip))
	p.mu.Unlock()
}

func (p *pendingSet) decLocked(k netip.Addr) {
	if n := p.perIP[k]; n <= 1 {
		delete(p.perIP, k)
	} else {
		p.perIP[k] = n - 1
	}
}

// register turns the reservation for c into a pending connection. It
// returns the oldest pending connection when there are now more than
// MaxPending: the caller closes it (it is no longer counted).
func (p *pendingSet) register(c *Conn) (victim *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reserved--
	p.conns[c] = struct{}{}
	p.order = append(p.order, c)
	if p.max > 0 && len(p.conns)+p.reserved > p.max {
		victim = p.popOldestLocked()
		if victim != nil {
			p.shedOldest.Add(1)
		}
	}
	p.compactLocked()
	return victim
}

// popOldestLocked removes and returns the oldest pending connection.
func (p *pendingSet) popOldestLocked() *Conn {
	for i, c := range p.order {
		if _, ok := p.conns[c]; !ok {
			continue
		}
		p.order = p.order[i+1:]
		p.removeLocked(c)
		return c
	}
	p.order = p.order[:0]
	return nil
}

// compactLocked drops the connections no longer pending from order once
// they are the greater part of it.
func (p *pendingSet) compactLocked() {
	if len(p.order) < 64 || len(p.order) < 2*len(p.conns) {
		return
	}
	kept := p.order[:0]
	for _, c := range p.order {
		if _, ok := p.conns[c]; ok {
			kept = append(kept, c)
		}
	}
	clear(p.order[len(kept):])
	p.order = kept
}

func (p *pendingSet) removeLocked(c *Conn) {
	delete(p.conns, c)
	p.decLocked(p.key(c.RemoteAddrPort().Addr()))
}

// done ends c's pending state (opened or closed); it does nothing if c is
// not pending.
func (p *pendingSet) done(c *Conn) {
	p.mu.Lock()
	if _, ok := p.conns[c]; ok {
		p.removeLocked(c)
		if len(p.conns) == 0 {
			clear(p.order)
			p.order = p.order[:0]
		}
	}
	p.mu.Unlock()
}

// len returns the number of pending connections.
func (p *pendingSet) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Opened tells the Engine that c's handshake is done: it no longer counts
// as pending (see Config.MaxPending).
func (e *Engine) Opened(c *Conn) {
	if e.pend != nil {
		e.pend.done(c)
	}
}

// PendingHandshakes returns the connections accepted and not yet Opened
// (0 when neither pending cap is configured).
func (e *Engine) PendingHandshakes() int {
	if e.pend == nil {
		return 0
	}
	return e.pend.len()
}

// HandshakesShed reports the connections closed during their handshake to
// make room: refused at accept because their address had MaxPendingPerIP
// pending (perIP), the oldest pending when more than MaxPending were
// (oldest), and the oldest stalled TLS handshake when every TLS handshake
// slot was taken (stalled).
func (e *Engine) HandshakesShed() (perIP, oldest, stalled uint64) {
	if e.pend != nil {
		perIP, oldest = e.pend.shedIP.Load(), e.pend.shedOldest.Load()
	}
	if e.tls != nil {
		stalled = e.tls.hs.shed.Load()
	}
	return perIP, oldest, stalled
}
