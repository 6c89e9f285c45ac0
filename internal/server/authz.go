package server

import (
	"net/netip"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admission"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/limits"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/upgrade"
)

// Admission: the decisions (tokens, room permissions, connection maxima,
// rate budgets and the violation policy) are the admission package's; the
// server maps each refusal to its answer (an HTTP refusal, close 1008, the
// endpoint's own refusal) and counts it.

// guard is the server's admission gate, with the two parts other files
// reach directly: the token verifier (a STOMP login) and the connection
// counter (a handshake undoing its count, a login changing the user).
type guard struct {
	gate     *admission.Gate
	verifier *auth.Verifier // nil without one
	counter  *limits.Counter
}

// limitNames label wsgate_rate_limited_total{kind}, indexed by
// admission.Kind.
var limitNames = admission.KindNames()

func (s *Server) initGuard() error {
	cfg := &s.cfg
	o := admission.Options{Anonymous: cfg.AdmitsAnonymous(), ExpiryAllowance: cfg.AuthLeeway + cfg.AuthExpiryGrace}
	if cfg.AuthEnabled() {
		o.Auth = &auth.Options{
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
		}
	}
	if !cfg.NoLimits {
		o.Conns = limits.CounterOptions{
			MaxTotal: cfg.MaxConns, MaxPerUser: cfg.MaxConnsPerUser, MaxPerIP: cfg.MaxConnsPerIP,
			IPv6Bits: cfg.IPv6Prefix,
		}
		o.ConnRate, o.ConnRateBurst = cfg.ConnRate, cfg.ConnRateBurst
		o.Conn = limits.ConnLimits{
			Msgs:  limits.NewLimit(cfg.RateMsgs, int64(cfg.RateMsgsBurst)),
			Bytes: limits.NewLimit(float64(cfg.RateBytes), cfg.RateBytesBurst),
		}
		o.User = limits.ConnLimits{
			Msgs:  limits.NewLimit(cfg.UserRateMsgs, int64(cfg.UserRateMsgsBurst)),
			Bytes: limits.NewLimit(float64(cfg.UserRateBytes), cfg.UserRateBytesBurst),
		}
		o.Frames = limits.NewLimit(cfg.RateFrames, int64(cfg.RateFramesBurst))
		o.CloseAfter = uint32(cfg.RateCloseAfter)
	}
	g, err := admission.New(o)
	if err != nil {
		return err
	}
	s.guard = guard{gate: g, verifier: g.Verifier(), counter: g.Counter()}
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

// checkConnRate is the first admission check of a complete request: new
// connections per second from the source address.
func (s *Server) checkConnRate(ip netip.Addr) error {
	err := s.guard.gate.CheckRate(ip)
	if err != nil {
		s.countRefusal(err)
	}
	return err
}

// upgradeHost is the server as the upgrade parser's host (upgrade.Host):
// its endpoint table (endpoint.go) and its admission.
type upgradeHost struct{ s *Server }

// Admit implements upgrade.Host: the gate's Admit, a refusal counted; a
// room refusal becomes the handshake's 403.
func (h upgradeHost) Admit(r admission.Request) (admission.Client, error) {
	cl, err := h.s.guard.gate.Admit(r)
	if err != nil {
		h.s.countRefusal(err)
		if err == admission.ErrRoomForbidden {
			err = upgrade.ErrRoomForbidden
		}
	}
	return cl, err
}

// Release implements upgrade.Host (and gateway.Host, for sjHost).
func (h upgradeHost) Release(user string, ip netip.Addr) { h.s.guard.gate.Release(user, ip) }

// countRefusal counts an admission refusal in the metrics.
func (s *Server) countRefusal(err error) {
	if k, ok := admission.KindOf(err); ok {
		s.m.RateLimited[k].Inc()
	} else if err == admission.ErrRoomForbidden {
		s.m.ForbiddenJoin.Inc()
	}
}

// releaseCount undoes the upgrade's admission count when the connection
// closes.
func (c *conn) releaseCount() {
	if c.gate.And(^uint32(gateCounted))&gateCounted == 0 {
		return
	}
	c.srv().guard.counter.Release(c.User(), c.RemoteAddrPort().Addr())
}

// allowFrames charges n frames, the frames of one read, to the
// connection's frame budget; a connection over it is closed with 1008.
func (c *conn) allowFrames(n int) bool {
	s := c.srv()
	if s.guard.gate.AllowFrames(&c.rl, n) {
		return true
	}
	s.m.RateLimited[admission.Frames].Inc()
	c.close(frame.ClosePolicyViolation, "frame rate limit exceeded", reasonPolicy, closeAfterBatch)
	return false
}

// allowMessage applies the per-connection and per-user rate limits to one
// incoming message of n bytes. When it returns false the message must be
// dropped: the client has been sent an error, or (after RateCloseAfter
// violations) the connection is closing with 1008.
func (c *conn) allowMessage(n int) bool { return c.allow(n, c.User()) }

// allowPing applies the per-connection rate limits (not the user's) to a
// ping or a pong.
func (c *conn) allowPing(n int) bool { return c.allow(n, "") }

func (c *conn) allow(n int, user string) bool {
	s := c.srv()
	v := s.guard.gate.AllowMessage(&c.rl, user, n)
	switch v.Action {
	case 0:
		return true
	case limits.Close:
		s.m.RateLimited[v.Limit].Inc()
		c.close(frame.ClosePolicyViolation, limits.CloseReason, reasonPolicy, closeAfterBatch)
		return false
	}
	s.m.RateLimited[v.Limit].Inc()
	var msg [96]byte
	c.ep().proto.Refuse(c, "rate_limited", "", bytesString(v.AppendText(msg[:0])))
	return false
}

// expiryDelay returns how long until the connection's token (plus the
// leeway and grace) expires, and false when it has none.
func (c *conn) expiryDelay() (time.Duration, bool) {
	return c.srv().guard.gate.ExpiresIn(c.Identity())
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
