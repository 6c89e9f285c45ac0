package protocol

import (
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/poller"
)

// Optional interfaces. A protocol or a Conn implements the ones it needs;
// the server checks for them once, when the endpoint is registered (for
// protocols), or where it needs them (for Conns). A Conn that lacks one
// (a session that does not sit on a socket, say) makes the protocol fall
// back to the plain Conn methods.

// Ticker is implemented by protocols with periodic work per connection,
// such as heart-beats or a deadline for a login frame. The server calls
// Tick from its timer wheel (no timer per connection), on the wheel's
// goroutine, concurrently with Message: Tick may only use what Conn
// allows from any goroutine (Queue, Flush).
type Ticker interface {
	// Tick runs at least as often as the server checks the connection's
	// liveness, and sooner when the previous Tick asked: next > 0 is how
	// soon the protocol wants the next Tick. A non-nil err closes the
	// connection after what is queued: a *frame.ProtocolError with its
	// code and message, anything else with 1011.
	Tick(c Conn, now time.Time) (next time.Duration, err error)
}

// Deliverer is implemented by protocols that turn room and user messages
// into their own output instead of queueing the Format encoding as it is
// (one STOMP MESSAGE per subscription, say). The server's Subscriber
// calls it from fan-out workers, with Subscriber.Deliver's contract.
type Deliverer interface {
	Deliver(c Conn, d *fanout.Delivery) (flush, ok bool)
}

// SubprotocolChooser is implemented by protocols that speak WebSocket
// subprotocols of their own ("v12.stomp"): the handshake selects the
// first of Subprotocols (server preference) that the client offered,
// instead of the server's -subprotocols list.
type SubprotocolChooser interface {
	Subprotocols() []string
}

// LateAuthenticator is implemented by protocols whose clients may bring
// their token in the protocol's own login frame instead of the upgrade
// request: the handshake then admits a request without a token even where
// tokens are required (a bad token is still refused), and the protocol
// must authenticate the client itself (see IdentitySetter) or close it.
type LateAuthenticator interface {
	AuthenticatesLate() bool
}

// PairQueuer is implemented by Conns that can queue two prepared buffers
// as one message, with nothing queued between them: a small head built per
// receiver and a tail shared by many (both retained; the caller keeps its
// own references). Results as for Conn.Queue. Any goroutine.
type PairQueuer interface {
	QueuePair(head, tail *poller.Buf) (first, ok bool)
}

// IdentitySetter is implemented by Conns whose identity can be set after
// the upgrade, by a protocol that verified a token of its own login frame
// (or, in dev mode, took a user id from it). The connection then counts
// against the user's limits, receives the user's messages, and closes
// when the token expires, as if the token had come with the upgrade. It
// fails when the connection already has an identity or the user is over
// its connection limit. Event loop only.
type IdentitySetter interface {
	SetIdentity(id *auth.Identity, user string) error
}

// Subprotocoler is implemented by Conns that negotiated a WebSocket
// subprotocol: Subprotocol returns it, or "".
type Subprotocoler interface {
	Subprotocol() string
}

// AsyncCloser is implemented by Conns that can be closed from any
// goroutine: the close frame (code, reason) goes after everything already
// queued.
type AsyncCloser interface {
	CloseQueued(code frame.CloseCode, reason string)
}

// CompressionInfo is implemented by Conns that may have negotiated
// permessage-deflate: Compression returns the server's window bits (0:
// not negotiated) and whether the server compresses with context
// takeover (every compressed message must then come from the
// connection's own compressor).
type CompressionInfo interface {
	Compression() (windowBits uint8, contextTakeover bool)
}
