package server

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admin"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/rawproto"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/internal/stompproto"
	"github.com/wsgate/wsgate/poller"
)

// This file wires the STOMP endpoint and the optional protocol seams it
// uses (Ticker, Deliverer, own subprotocols, late authentication; on the
// connection: pairs, identity, subprotocol, compression, asynchronous
// close).

// registerStomp registers the STOMP endpoint at -stomp-path.
func (s *Server) registerStomp() {
	cfg := &s.cfg
	sc := &cfg.Stomp
	if sc.Path == "" {
		return
	}
	lim := stomp.Limits{
		MaxFrame:      int(sc.MaxFrame),
		MaxHeaderLine: sc.MaxHeaderLine,
		MaxHeaders:    sc.MaxHeaders,
	}
	if lim.MaxFrame <= 0 {
		lim.MaxFrame = int(cfg.RoomMessageLimit())
	}
	lim.MaxBody = lim.MaxFrame
	o := stompproto.Options{
		Pool:             s.pool,
		Metrics:          s.m,
		Stomp:            s.m.NewStomp(stompproto.ReasonNames()),
		HeartBeat:        stomp.HeartBeat{Send: sc.HeartBeatSend, Receive: sc.HeartBeatReceive},
		Limits:           lim,
		MaxSubscriptions: sc.MaxSubscriptions,
		ConnectTimeout:   cfg.HandshakeTimeout,
		TokenRequired:    !cfg.AdmitsAnonymous(),
		DevLogin:         cfg.DevMode,
		DeflateThreshold: cfg.DeflateThreshold,
		DeflateLevel:     cfg.DeflateLevel,
		QueueBacklog:     sc.QueueBacklog,
		App:              stompproto.AppOptions{URL: sc.AppURL, Timeout: sc.AppTimeout, Workers: sc.AppWorkers, Queue: sc.AppQueue},
		Logger:           s.log,
		History:          s.node.Store(),
		ReplayBytes:      int(cfg.SendQueue / 2),
	}
	if v := s.guard.verifier; v != nil {
		o.Verify = func(tok []byte) (*auth.Identity, error) { return v.Verify(tok) }
	}
	s.stomp = stompproto.New(o)
	_ = s.Handle(sc.Path, false, s.stomp)
}

// newEndpoint builds an endpoint table entry, finding the protocol's
// optional interfaces once.
func newEndpoint(path string, prefix bool, p protocol.Protocol, lim *endpointLimits) endpoint {
	_, echo := p.(rawproto.Echo)
	e := endpoint{path: path, prefix: prefix, proto: p, lim: lim, keepsState: !echo}
	e.ticker, _ = p.(protocol.Ticker)
	e.deliverer, _ = p.(protocol.Deliverer)
	if sc, ok := p.(protocol.SubprotocolChooser); ok {
		e.subprotos = sc.Subprotocols()
	}
	if la, ok := p.(protocol.LateAuthenticator); ok {
		e.lateAuth = la.AuthenticatesLate()
	}
	return e
}

// tickWithin bounds how long a connection of a Ticker endpoint waits for
// its next Tick: what the last Tick asked, else one timer-wheel tick (the
// first Tick after the upgrade comes at once, and the protocol says when
// it wants the next).
func tickWithin(next time.Duration, cfg *config.Config) time.Duration {
	if next > 0 {
		return next
	}
	return cfg.Tick
}

// tick runs the endpoint's Ticker, if any, on the wheel goroutine; ok is
// false when it closed the connection.
func (c *conn) tick() (next time.Duration, ok bool) {
	t := c.ep().ticker
	if t == nil {
		return 0, true
	}
	next, err := t.Tick(c, time.Now())
	if err == nil {
		return next, true
	}
	code, msg := frame.CloseInternalError, "internal error"
	var pe *frame.ProtocolError
	if errors.As(err, &pe) {
		code, msg = pe.Code, pe.Msg
	}
	why := reasonForCode(code)
	if code == frame.CloseGoingAway {
		why = reasonIdle // heart-beats stopped: the protocol's idle timeout
	}
	c.close(code, msg, why, closeQueued)
	return 0, false
}

// QueuePair implements protocol.PairQueuer.
func (c *conn) QueuePair(head, tail *poller.Buf) (first, ok bool) {
	if c.loadState() != stateOpen {
		return false, false
	}
	head.Retain()
	tail.Retain()
	queued, err := c.SendPair(head, tail)
	if err != nil {
		return false, false
	}
	if int64(queued) > c.srv().cfg.SendQueue {
		c.slowConsumer(false)
	}
	return queued == len(head.B)+len(tail.B), true
}

// Subprotocol implements protocol.Subprotocoler.
func (c *conn) Subprotocol() string {
	if c.ext == nil {
		return ""
	}
	return c.ext.subproto
}

// Compression implements protocol.CompressionInfo.
func (c *conn) Compression() (uint8, bool) {
	return c.dflBits(), c.ext != nil && c.ext.comp != nil
}

// CloseQueued implements protocol.AsyncCloser.
func (c *conn) CloseQueued(code frame.CloseCode, reason string) {
	c.close(code, reason, reasonForCode(code), closeQueued)
}

// errIdentitySet refuses a second identity.
var errIdentitySet = errors.New("server: the connection already has an identity")

// SetIdentity implements protocol.IdentitySetter: the connection takes on
// user (and the verified token id, nil in dev mode) as if they had come
// with the upgrade: it counts against the user's connection limit, joins
// the user's index, and closes when the token expires.
func (c *conn) SetIdentity(id *auth.Identity, user string) error {
	if c.ext == nil || c.ext.who.Load() != nil { // ext: made at open for every stateful endpoint
		return errIdentitySet
	}
	s := c.srv()
	if user != "" && c.gate.Load()&gateCounted != 0 {
		// Count the user; the address and total were counted at the
		// upgrade, so take back this Acquire's share of the total.
		if err := s.guard.counter.Acquire(user, netip.Addr{}); err != nil {
			s.countRefusal(err)
			return err
		}
		s.guard.counter.Release("", netip.Addr{})
	}
	if !c.ext.who.CompareAndSwap(nil, &identity{user: user, id: id}) {
		return errIdentitySet
	}
	if user != "" {
		s.hub.AddUser(user, c)
	}
	if id != nil {
		c.scheduleCheck() // the token's expiry may come before the next check
	}
	return nil
}

// SendUserTo implements admin.DestinationSender: a message for a user's
// STOMP subscriptions of destination (its other connections get it as
// SendUser sends it).
func (b adminBackend) SendUserTo(ctx context.Context, user, destination string, op frame.Opcode, payload []byte) (int, error) {
	s := b.s
	if s.stomp == nil {
		return 0, admin.ErrBadDestination
	}
	if s.draining.Load() {
		return 0, admin.ErrDraining
	}
	n := s.hub.CountUser(user)
	err := s.stomp.SendUser(ctx, user, destination, op, payload)
	switch {
	case errors.Is(err, stompproto.ErrBadDestination):
		return 0, admin.ErrBadDestination
	case err != nil:
		s.m.Overloaded.Inc()
		return 0, admin.ErrOverloaded
	}
	return n, nil
}
