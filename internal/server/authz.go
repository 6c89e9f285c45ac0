package server

import (
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/limits"
	"github.com/wsgate/wsgate/internal/metrics"
)

// Indexes of wsgate_rate_limited_total{kind}, in limitNames order.
const (
	limitMsgs = iota
	limitBytes
	limitUserMsgs
	limitUserBytes
	limitConnRate
	limitConnsPerIP
	limitConnsPerUser
	limitConnsTotal
	limitFrames
)

// guard is the server's admission and rate state: the token verifier, the
// connection counters and the rate limiters. Nil members are disabled.
type guard struct {
	verifier *auth.Verifier
	counter  *limits.Counter
	ipRate   *limits.IPLimiter
	userRate *limits.KeyedLimiter[string]
	conn     limits.ConnLimits
	connOn   bool         // conn has a limit
	frames   limits.Limit // frames per connection; zero when off
	policy   limits.Policy
	clock    limits.Clock
}

func (s *Server) initGuard() error {
	cfg := &s.cfg
	g := &s.guard
	if cfg.AuthEnabled() {
		v, err := auth.NewVerifier(auth.Options{
			SecretFiles:  cfg.AuthSecretFiles,
			KeyFiles:     cfg.AuthKeyFiles,
			Issuer:       cfg.AuthIssuer,
			Audience:     cfg.AuthAudience,
			Leeway:       cfg.AuthLeeway,
			RoomsClaim:   cfg.AuthRoomsClaim,
			PublishClaim: cfg.AuthPublishClaim,
			JWKSURL:      cfg.AuthJWKSURL,
			JWKSRefresh:  cfg.AuthJWKSRefresh,
			Logger:       s.log,
		})
		if err != nil {
			return err
		}
		g.verifier = v
	}
	g.clock = limits.NewClock()
	if cfg.NoLimits {
		g.counter = limits.NewCounter(limits.CounterOptions{})
		return nil
	}
	g.counter = limits.NewCounter(limits.CounterOptions{
		MaxTotal: cfg.MaxConns, MaxPerUser: cfg.MaxConnsPerUser, MaxPerIP: cfg.MaxConnsPerIP,
		IPv6Bits: cfg.IPv6Prefix,
	})
	if cfg.ConnRate > 0 {
		g.ipRate = limits.NewIPLimiter(cfg.ConnRate, int64(cfg.ConnRateBurst), cfg.IPv6Prefix, limits.DefaultSweepEvery)
	}
	g.conn = limits.ConnLimits{
		Msgs:  limits.NewLimit(cfg.RateMsgs, int64(cfg.RateMsgsBurst)),
		Bytes: limits.NewLimit(float64(cfg.RateBytes), cfg.RateBytesBurst),
	}
	g.connOn = !g.conn.Msgs.Unlimited() || !g.conn.Bytes.Unlimited()
	g.frames = limits.NewLimit(cfg.RateFrames, int64(cfg.RateFramesBurst))
	user := limits.ConnLimits{
		Msgs:  limits.NewLimit(cfg.UserRateMsgs, int64(cfg.UserRateMsgsBurst)),
		Bytes: limits.NewLimit(float64(cfg.UserRateBytes), cfg.UserRateBytesBurst),
	}
	if !user.Msgs.Unlimited() || !user.Bytes.Unlimited() {
		g.userRate = limits.NewUserLimiter(user, limits.DefaultSweepEvery)
	}
	g.policy = limits.Policy{CloseAfter: uint32(cfg.RateCloseAfter)}
	return nil
}

// jwksState reads the token verifier's JWKS for the metrics; nil without one.
func (s *Server) jwksState() func() metrics.JWKSState {
	if s.cfg.AuthJWKSURL == "" {
		return nil
	}
	return func() metrics.JWKSState {
		st := s.guard.verifier.JWKSStatus()
		return metrics.JWKSState{Keys: st.Keys, Fetches: st.Fetches, Failures: st.Failures, LastSuccess: st.LastSuccess}
	}
}

// connRate is a connection's rate state, allocated at its first message:
// a connection that never sends holds only the pointer.
type connRate struct {
	b limits.ConnBuckets
	f limits.Bucket // frames
	v limits.Violations
}

// checkConnRate is the first admission check of a complete request: new
// connections per second from the source address. It runs before any
// parsing, so a storm from one address costs little.
func (s *Server) checkConnRate(ip netip.Addr) error {
	if s.guard.ipRate == nil {
		return nil
	}
	if err := s.guard.ipRate.Check(ip, s.guard.clock()); err != nil {
		s.m.RateLimited[limitConnRate].Inc()
		return err
	}
	return nil
}

// admit runs when the request has parsed and its key checked: it verifies
// the token (or admits an anonymous client), checks the room permission
// for a room endpoint, and counts the connection against the maxima.
func (h *handshake) admit() error {
	s := h.srv
	g := &s.guard
	h.id = nil
	tok, _, err := h.tok.Token()
	switch {
	case err == auth.ErrNoToken && s.cfg.AdmitsAnonymous():
		// Anonymous (dev or -anonymous): the dev user id, if any, stays.
	case err == auth.ErrNoToken && h.kind != 0 && s.endpoints[h.kind-1].lateAuth:
		// The protocol's login frame brings the token (or the protocol
		// closes the connection).
	case err != nil:
		return err
	case g.verifier == nil:
		// A token while none can be checked: refuse it rather than
		// silently treating the client as anonymous.
		return auth.ErrUnknownKey
	default:
		id, err := g.verifier.Verify(tok)
		if err != nil {
			return err
		}
		h.id = id
		h.user = append(h.user[:0], id.Subject...)
	}
	if len(h.room) > 0 && h.id != nil && !h.id.CanJoinBytes(h.room) { // a path that names a room joins it
		s.m.ForbiddenJoin.Inc()
		return errRoomForbidden
	}
	h.userID = string(h.user) // one copy, shared by the counter and the connection
	if err := g.counter.Acquire(h.userID, h.ip); err != nil {
		s.countConnRejection(err)
		return err
	}
	h.counted = true
	return nil
}

func (s *Server) countConnRejection(err error) {
	switch {
	case errors.Is(err, limits.ErrTooManyConns):
		s.m.RateLimited[limitConnsTotal].Inc()
	case errors.Is(err, limits.ErrTooManyUserConns):
		s.m.RateLimited[limitConnsPerUser].Inc()
	case errors.Is(err, limits.ErrTooManyIPConns):
		s.m.RateLimited[limitConnsPerIP].Inc()
	}
}

// releaseCount undoes admit's Acquire when the connection closes.
func (c *conn) releaseCount() {
	if c.gate.And(^uint32(gateCounted))&gateCounted == 0 {
		return
	}
	var user string
	if c.ext != nil {
		user = c.ext.user
	}
	c.srv().guard.counter.Release(user, c.RemoteAddrPort().Addr())
}

// allowFrames charges n frames, the frames of one read, to the
// connection's frame budget. A connection over it is closed with 1008: a
// frame cannot be dropped alone, and no client needs that many (it sends
// one frame per message, or a few).
func (c *conn) allowFrames(n int) bool {
	g := &c.srv().guard
	if g.frames.Unlimited() {
		return true
	}
	if c.rl == nil {
		c.rl = &connRate{}
	}
	if c.rl.f.Allow(&g.frames, g.clock(), int64(n)) {
		return true
	}
	c.srv().m.RateLimited[limitFrames].Inc()
	c.close(frame.ClosePolicyViolation, "frame rate limit exceeded", reasonPolicy, closeAfterBatch)
	return false
}

// allowMessage applies the per-connection and per-user rate limits to one
// incoming message of n bytes. When it returns false the message must be
// dropped: the client has been sent an error, or (after RateCloseAfter
// violations) the connection is closing with 1008.
func (c *conn) allowMessage(n int) bool { return c.allow(n, true) }

// allowPing applies the per-connection rate limits (not the user's: a
// liveness check on one connection must not fail because the user's other
// connections are busy) to a ping or a pong.
func (c *conn) allowPing(n int) bool { return c.allow(n, false) }

func (c *conn) allow(n int, user bool) bool {
	s := c.srv()
	g := &s.guard
	if !g.connOn && g.userRate == nil {
		return true
	}
	now := g.clock()
	var saved limits.ConnBuckets // the connection's buckets before this message
	if g.connOn {
		if c.rl == nil {
			c.rl = &connRate{}
		}
		saved = c.rl.b
		if !c.rl.b.Allow(&g.conn, now, int64(n)) {
			// Which limit refused it? Ask a copy: the dropped message
			// must not spend the byte budget.
			probe := c.rl.b
			if g.conn.Msgs.Unlimited() || !probe.Allow(&limits.ConnLimits{Bytes: g.conn.Bytes}, now, int64(n)) {
				s.m.RateLimited[limitBytes].Inc()
			} else {
				s.m.RateLimited[limitMsgs].Inc()
			}
			return c.rateViolation("connection")
		}
	}
	if user && g.userRate != nil && c.ext != nil && c.ext.user != "" {
		if !g.userRate.Allow(c.ext.user, now, int64(n)) {
			// A zero-byte message waits only for the message bucket.
			if g.userRate.Delay(c.ext.user, now, 0) > 0 {
				s.m.RateLimited[limitUserMsgs].Inc()
			} else {
				s.m.RateLimited[limitUserBytes].Inc()
			}
			if g.connOn {
				c.rl.b = saved // a dropped message costs the connection nothing
			}
			return c.rateViolation("user")
		}
	}
	return true
}

// rateViolation applies the violation policy: an error message, or a
// close with 1008 at the RateCloseAfter-th violation.
func (c *conn) rateViolation(scope string) bool {
	if c.rl == nil {
		c.rl = &connRate{}
	}
	s := c.srv()
	if s.guard.policy.Violation(&c.rl.v) == limits.Close {
		c.close(frame.ClosePolicyViolation, limits.CloseReason, reasonPolicy, closeAfterBatch)
		return false
	}
	left := int(s.guard.policy.CloseAfter) - int(c.rl.v.Count())
	var msg [96]byte
	m := append(msg[:0], "message dropped: "...)
	m = append(m, scope...)
	m = append(m, " rate limit exceeded; closing after "...)
	m = strconv.AppendInt(m, int64(left), 10)
	m = append(m, " more"...)
	c.ep().proto.Refuse(c, "rate_limited", "", bytesString(m))
	return false
}

// expiryDelay returns how long until the connection's token (plus grace)
// expires, and false when it has none.
func (c *conn) expiryDelay() (time.Duration, bool) {
	id := c.Identity()
	if id == nil || id.Expires.IsZero() {
		return 0, false
	}
	// The handshake admitted the token within the clock-skew leeway; the
	// open connection gets the same allowance, plus any grace.
	cfg := &c.srv().cfg
	return time.Until(id.Expires.Add(cfg.AuthLeeway + cfg.AuthExpiryGrace)), true
}

// warnInsecure logs, once at start, each setting that lets in more than a
// production listener should.
func (s *Server) warnInsecure() {
	cfg := &s.cfg
	if cfg.DevMode {
		s.log.Warn("DEV MODE: no token required, user ids from ?user=, any Origin admitted; never expose this listener")
	} else if cfg.Anonymous {
		s.log.Warn("clients without a token are admitted (-anonymous)")
	}
	for _, o := range cfg.Origins {
		if o == "*" {
			s.log.Warn("every web page may connect: -origins contains * (-allow-any-origin)")
		}
	}
	if cfg.NoLimits {
		s.log.Warn("rate limits and connection maxima are off (-no-limits)")
	}
}

// limitNames label wsgate_rate_limited_total{kind}.
var limitNames = [...]string{"messages", "bytes", "user_messages", "user_bytes", "connection_rate", "connections_per_ip", "connections_per_user", "connections_total", "frames"}
