// Package admission decides who is let in and how much they may send: the
// token and identity of a new client, its room permission, the connection
// maxima and the per-address connection rate at the door; the
// per-connection and per-user message, byte and frame budgets afterwards,
// with the policy that turns repeated violations from drops into a close;
// and the strictness of a request head. It answers with errors and
// verdicts and keeps the state behind them; the server turns them into its
// answers (an HTTP refusal, a close with 1008, a refusal in an endpoint's
// own form) and counts them in its metrics.
package admission

import (
	"errors"
	"net/netip"
	"time"

	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/limits"
)

// ErrRoomForbidden is Admit's answer to a client whose token does not
// allow joining the room its request names.
var ErrRoomForbidden = errors.New("admission: token does not allow joining this room")

// Options configure a Gate. The zero value admits nobody who brings a
// token (none can be checked) and anybody who does not only with
// Anonymous; every limit is off.
type Options struct {
	// Auth configures the token verifier; nil: none, and a client that
	// brings a token is refused rather than treated as anonymous.
	Auth *auth.Options
	// Anonymous admits clients that bring no token (dev mode, or the
	// -anonymous setting).
	Anonymous bool
	// ExpiryAllowance is how long past its token's exp an open connection
	// may stay: the clock-skew leeway the token was admitted with, plus
	// any grace.
	ExpiryAllowance time.Duration
	// Conns are the connection maxima; their IPv6Bits also groups the
	// sources of ConnRate.
	Conns limits.CounterOptions
	// ConnRate and ConnRateBurst limit new connections per second from
	// one source address; 0 is no limit.
	ConnRate      float64
	ConnRateBurst int
	// Conn and User are the message and byte rates of one connection and
	// of one user across its connections; zero Limits are no limit.
	Conn, User limits.ConnLimits
	// Frames is the frame rate of one connection; zero is no limit.
	Frames limits.Limit
	// CloseAfter is the rate violation that closes a connection (see
	// limits.Policy).
	CloseAfter uint32
}

// Gate is one server's admission state. It is safe for concurrent use;
// the per-connection state it keeps (Rate) belongs to the connection's
// goroutine.
type Gate struct {
	verifier *auth.Verifier
	anon     bool
	expiry   time.Duration
	counter  *limits.Counter
	ipRate   *limits.IPLimiter
	userRate *limits.KeyedLimiter[string]
	conn     limits.ConnLimits
	connOn   bool // conn has a limit
	frames   limits.Limit
	policy   limits.Policy
	clock    limits.Clock
}

// New builds a Gate; it fails when the verifier cannot load its keys.
func New(o Options) (*Gate, error) {
	g := &Gate{
		anon:   o.Anonymous,
		expiry: o.ExpiryAllowance,
		clock:  limits.NewClock(),
		conn:   o.Conn,
		connOn: !o.Conn.Msgs.Unlimited() || !o.Conn.Bytes.Unlimited(),
		frames: o.Frames,
		policy: limits.Policy{CloseAfter: o.CloseAfter},
	}
	if o.Auth != nil {
		v, err := auth.NewVerifier(*o.Auth)
		if err != nil {
			return nil, err
		}
		g.verifier = v
	}
	g.counter = limits.NewCounter(o.Conns)
	if o.ConnRate > 0 {
		g.ipRate = limits.NewIPLimiter(o.ConnRate, int64(o.ConnRateBurst), o.Conns.IPv6Bits, limits.DefaultSweepEvery)
	}
	if !o.User.Msgs.Unlimited() || !o.User.Bytes.Unlimited() {
		g.userRate = limits.NewUserLimiter(o.User, limits.DefaultSweepEvery)
	}
	return g, nil
}

// Close stops the verifier's key refresh, if any.
func (g *Gate) Close() { g.verifier.Close() }

// Verifier is the token verifier, nil without one (for protocols that
// take a token in a login frame of their own).
func (g *Gate) Verifier() *auth.Verifier { return g.verifier }

// Counter is the connection counter, for a connection that changes its
// user after Admit (a protocol's login) and for the operators' views.
func (g *Gate) Counter() *limits.Counter { return g.counter }

// CheckRate is the first check of a new request: connections per second
// from its source address. It runs before any parsing, so that a storm
// from one address costs little. The error is a *limits.Rejection.
func (g *Gate) CheckRate(ip netip.Addr) error {
	if g.ipRate == nil {
		return nil
	}
	return g.ipRate.Check(ip, g.clock())
}

// Request is a new client at the door, its request parsed.
type Request struct {
	// Tokens holds the token the request brought, if any; not nil.
	Tokens *auth.TokenCollector
	// IP is the client's address.
	IP netip.Addr
	// Room is the room the request's path joins, empty for none.
	Room []byte
	// User is the user id an anonymous client names itself by (dev mode's
	// ?user=); a verified token's subject replaces it.
	User []byte
	// LateAuth admits a request without a token even where one is
	// required: the endpoint's protocol takes it from a login frame of
	// its own, or closes the connection.
	LateAuth bool
}

// Client is what Admit decided about a client it let in.
type Client struct {
	// ID is the verified token, nil for an anonymous client.
	ID *auth.Identity
	// User is the token's subject, or Request.User for an anonymous
	// client; "" when it has none.
	User string
}

// Admit verifies the request's token (or admits an anonymous client),
// checks its room permission and counts it against the connection
// maxima. A client it admits holds a slot of the counter until Release.
// Its errors are the token's (auth.IsRejection), ErrRoomForbidden, and
// the counter's *limits.Rejection.
func (g *Gate) Admit(r Request) (Client, error) {
	var cl Client
	tok, _, err := r.Tokens.Token()
	switch {
	case err == auth.ErrNoToken && (g.anon || r.LateAuth):
		// Anonymous: the dev-mode user id, if any, stays. Late: the
		// protocol's login frame brings the token (or it closes).
		if len(r.User) > 0 {
			cl.User = string(r.User)
		}
	case err != nil:
		return cl, err
	case g.verifier == nil:
		// A token while none can be checked: refuse it rather than
		// silently treating the client as anonymous.
		return cl, auth.ErrUnknownKey
	default:
		id, err := g.verifier.Verify(tok)
		if err != nil {
			return cl, err
		}
		cl.ID, cl.User = id, id.Subject
	}
	if len(r.Room) > 0 && cl.ID != nil && !cl.ID.CanJoinBytes(r.Room) { // a path that names a room joins it
		return cl, ErrRoomForbidden
	}
	if err := g.counter.Acquire(cl.User, r.IP); err != nil {
		return cl, err
	}
	return cl, nil
}

// Release gives back the slot Admit counted for a client.
func (g *Gate) Release(user string, ip netip.Addr) { g.counter.Release(user, ip) }

// ExpiresIn returns how long an open connection with identity id may
// stay (until its token's exp plus the allowance), and false when it has
// no expiring token.
func (g *Gate) ExpiresIn(id *auth.Identity) (time.Duration, bool) {
	if id == nil || id.Expires.IsZero() {
		return 0, false
	}
	return time.Until(id.Expires.Add(g.expiry)), true
}
