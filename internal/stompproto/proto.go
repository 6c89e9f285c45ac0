package stompproto

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/history"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/poller"
)

// Options configures the STOMP protocol. Zero values take the defaults
// given.
type Options struct {
	// Pool is the server's fan-out pool (required). New registers the
	// protocol's formats with it, so call New before the pool starts.
	Pool *fanout.Pool
	// Metrics and Stomp receive counters; nil records nothing.
	Metrics *metrics.Metrics
	Stomp   *metrics.Stomp
	// HeartBeat is the server's heart-beat header: how often it can send
	// heart-beats, how often it wants them. Zero: none either way.
	HeartBeat stomp.HeartBeat
	// Limits bound the frames a session may send.
	Limits stomp.Limits
	// MaxSubscriptions bounds one session's subscriptions; default 256.
	MaxSubscriptions int
	// ConnectTimeout is how long a session may take to send CONNECT;
	// default 5s.
	ConnectTimeout time.Duration
	// Verify checks a token from the CONNECT frame; nil when the server
	// verifies no tokens (CONNECT credentials are then ignored).
	Verify func(token []byte) (*auth.Identity, error)
	// TokenRequired refuses a session without a token (from the upgrade
	// request or the CONNECT frame).
	TokenRequired bool
	// DevLogin takes a session's user id from CONNECT's login header when
	// it has none (development mode only).
	DevLogin bool
	// DeflateThreshold: MESSAGE frames shorter than this go uncompressed
	// to permessage-deflate connections. DeflateLevel is the flate level.
	DeflateThreshold, DeflateLevel int
	// QueueBacklog bounds each /queue's waiting messages; default 1000.
	QueueBacklog int
	// App configures /app forwarding; App.URL empty disables it.
	App AppOptions
	// Server is the CONNECTED frame's server header; default "wsgate".
	Server string
	// Logger receives forward failures; nil discards them.
	Logger *slog.Logger
	// History keeps the history of the rooms it selects (nil: none): their
	// MESSAGE frames carry offset and epoch headers, and a SUBSCRIBE may
	// resume (see history.go). ReplayBytes bounds what one resume may
	// replay (keep it under the connection's send queue).
	History     history.Store
	ReplayBytes int
}

// Protocol is the STOMP endpoint; it implements protocol.Protocol and
// the optional Ticker, Deliverer, SubprotocolChooser and
// LateAuthenticator. Its zero value is not usable; call New.
type Protocol struct {
	o       Options
	pool    *fanout.Pool
	m       *metrics.Metrics
	sm      *metrics.Stomp
	hist    history.Store // nil: no room keeps history
	tailFmt fanout.Format // the shared MESSAGE tail
	zFmt    fanout.Format // the tail compressed for a 15-bit window
	lim     stomp.Limits
	queues  *localQueues
	app     *forwarder
	// sessions numbers sessions for their session header; prefix makes
	// the ids of two processes differ.
	sessions atomic.Uint32
	prefix   string
	log      *slog.Logger
	// ids numbers MESSAGE frames: message-id is unique in the process.
	ids atomic.Uint64
	// heads are the fan-out workers' MESSAGE head caches, by worker.
	heads []headCache
	// keys interns the subscriptions' head prefixes.
	keys keyTable
	// locks guard the sessions' subscription lists (session.lock).
	locks [64]sync.Mutex
	// epoch is the zero of the sessions' millisecond clocks (now).
	epoch time.Time
}

// now returns t as the sessions' clock: milliseconds since the protocol
// started, modulo 2^32 (differences of up to 24 days come out right in
// uint32 arithmetic).
func (p *Protocol) now(t time.Time) uint32 { return uint32(t.Sub(p.epoch).Milliseconds()) }

// New returns the STOMP protocol delivering through o.Pool, whose MESSAGE
// formats it registers (call it before the pool starts).
func New(o Options) *Protocol {
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = 256
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.QueueBacklog <= 0 {
		o.QueueBacklog = 1000
	}
	if o.Server == "" {
		o.Server = "wsgate"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Protocol{o: o, pool: o.Pool, m: o.Metrics, sm: o.Stomp, lim: o.Limits, log: o.Logger, epoch: time.Now(), hist: o.History}
	p.prefix = strconv.FormatUint(rand.Uint64()&0xffffff, 36) + "-"
	p.heads = make([]headCache, o.Pool.Workers())
	p.tailFmt = o.Pool.AddFormat(p.encodeTail)
	p.zFmt = o.Pool.AddFormat(p.encodeTailDeflate)
	p.queues = newLocalQueues(o.QueueBacklog, o.Stomp, &p.ids)
	if o.App.URL != "" {
		p.app = newForwarder(p, o.App)
	}
	return p
}

// Stop ends the /app forwarders after the forwards in flight.
func (p *Protocol) Stop() {
	if p.app != nil {
		p.app.stop()
	}
}

// Format implements protocol.Protocol. STOMP connections get their room
// and user messages through Deliver and their subscriptions, so the
// format is only the tail (never queued alone).
func (p *Protocol) Format() fanout.Format { return p.tailFmt }

// Subprotocols implements protocol.SubprotocolChooser: 1.2 preferred.
func (p *Protocol) Subprotocols() []string { return subprotocols }

var subprotocols = []string{"v12.stomp", "v11.stomp", "v10.stomp"}

// AuthenticatesLate implements protocol.LateAuthenticator: a token may
// come in the CONNECT frame.
func (p *Protocol) AuthenticatesLate() bool { return true }

// Open implements protocol.Protocol.
func (p *Protocol) Open(c protocol.Conn) any {
	s := &session{p: p, c: c}
	s.since.Store(p.now(time.Now()))
	s.parser.Init(&p.lim)
	bits, takeover := compression(c)
	s.z = bits == deflate.MaxWindowBits && !takeover
	return s
}

// sessionOf returns c's session.
func sessionOf(c protocol.Conn) *session {
	s, _ := c.State().(*session)
	return s
}

// Message implements protocol.Protocol: a WebSocket message holds any
// number of frames and heart-beats, or part of a frame.
func (p *Protocol) Message(c protocol.Conn, _ frame.Opcode, payload []byte) error {
	s := sessionOf(c)
	if s == nil || s.failed {
		return nil
	}
	if s.hbRecv.Load() > 0 && !s.heard.Load() {
		s.heard.Store(true)
	}
	if err := s.parser.Feed(payload, s); err != nil {
		var se *stomp.Error
		if errors.As(err, &se) {
			s.fail(reasonOfCode(se.Code), se.Reason(), nil, frame.CloseProtocolError)
		}
	}
	return nil
}

// Refuse implements protocol.Protocol: a message dropped by the server's
// rate limits is reported on the session's /user/queue/errors
// subscriptions (STOMP has no error that keeps a session open).
func (p *Protocol) Refuse(c protocol.Conn, code, _ string, text string) {
	if s := sessionOf(c); s != nil {
		s.sendError("", code+": "+text)
	}
}

// Close implements protocol.Protocol: the session leaves its rooms and
// queues (its unacknowledged queue messages go to other consumers).
func (p *Protocol) Close(c protocol.Conn) {
	s := sessionOf(c)
	if s == nil {
		return
	}
	mu := s.lock()
	mu.Lock()
	s.closed = true
	subs := s.subs
	mu.Unlock()
	// The list changes only on the event loop, which is here.
	for sb := subs; sb != nil; sb = sb.next {
		p.dropSub(sb)
		p.keys.release(sb.key)
	}
}

// Deliver implements protocol.Deliverer: a message for the connection's
// user reaches the session's subscriptions of its destination. Messages
// without one (from the admin API's destination-less send) have no STOMP
// form and are skipped.
func (p *Protocol) Deliver(c protocol.Conn, d *fanout.Delivery) (flush, ok bool) {
	s := sessionOf(c)
	ud, isUser := d.Job().From.(fanout.Destined)
	if s == nil || !isUser {
		return false, true
	}
	return s.deliverUser(ud.Destination(), d)
}

// userDest is a user message's STOMP destination, carried in the job's
// From field (a user job has no publishing member to skip).
type userDest struct{ dest string }

func (*userDest) Deliver(*fanout.Delivery) (bool, bool) { return false, false }
func (*userDest) Flush()                                {}

// Destination implements fanout.Destined.
func (u *userDest) Destination() string { return u.dest }

// Errors of SendUser.
var (
	// ErrBadDestination: not a user destination.
	ErrBadDestination = errors.New("stompproto: destination must be /user/queue/NAME or /user/topic/NAME")
)

// SendUser queues payload for every session of user subscribed to
// destination ("/user/queue/NAME", "/user/topic/NAME", or without the
// /user prefix), waiting while the user's fan-out queue is full until ctx
// ends. Not for event loops. Errors: ErrBadDestination, or Submit's.
func (p *Protocol) SendUser(ctx context.Context, user, destination string, op frame.Opcode, payload []byte) error {
	dest, ok := userDestination(destination)
	if !ok {
		return ErrBadDestination
	}
	fb, hdr := fanout.FrameBuf(0, op, payload)
	err := p.pool.Submit(ctx, fanout.Job{User: user, Buf: fb, Hdr: hdr, From: &userDest{dest}})
	if err != nil {
		fb.Release()
	}
	return err
}

// userDestination normalizes a user destination: /user/queue/NAME,
// /user/topic/NAME, or /queue/NAME and /topic/NAME taken as the same.
func userDestination(d string) (string, bool) {
	if !strings.HasPrefix(d, "/user/") {
		d = "/user" + d
	}
	kind, name, ok := strings.Cut(d[len("/user/"):], "/")
	if !ok || (kind != "queue" && kind != "topic") || name == "" || len(d) > maxDestination {
		return "", false
	}
	return d, true
}

// sessionID returns the session header's value for session number n.
func (p *Protocol) sessionID(n uint32) string { return p.prefix + strconv.FormatUint(uint64(n), 36) }

// countError counts one ERROR frame by reason.
func (p *Protocol) countError(r errReason) {
	if p.sm != nil && int(r) < len(p.sm.Errors) {
		p.sm.Errors[r].Inc()
	}
}

// eolFrame is a heart-beat: one EOL in a text message, shared by every
// session and never returned to its pool (the Buf keeps one reference).
var eolFrame = func() *poller.Buf {
	b := poller.NewBuf(3)
	b.B = frame.AppendFrame(b.B, true, 0, frame.OpText, []byte{'\n'})
	return b
}()
