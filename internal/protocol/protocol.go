// Package protocol is the inbound seam of wsgate: what an endpoint does
// with an upgraded connection's messages. Each endpoint (echo, a raw room,
// the /ws JSON commands, STOMP, ...) is one value implementing Protocol,
// registered with the server under a path; the server owns the socket,
// the WebSocket codec, limits and closing, and hands the protocol whole
// messages through a Conn.
//
// Goroutines: Open and Message run on the connection's event loop, never
// concurrently for one connection; Close runs once, on whichever
// goroutine saw the connection end. A protocol must never block in Open or
// Message: every connection of the loop waits while it runs.
package protocol

import (
	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/poller"
)

// Protocol is one endpoint's behaviour.
type Protocol interface {
	// Format is the encoding in which the endpoint's connections receive
	// room and user messages from the fan-out.
	Format() fanout.Format
	// Open is called once after the upgrade, before any message; what it
	// returns is kept as the connection's state (Conn.State). The 101
	// response is already queued: anything Open queues (a join's effect)
	// goes out after it.
	Open(c Conn) (state any)
	// Message handles one complete data message (text is valid UTF-8;
	// compressed messages arrive inflated). An error fails the
	// connection: a *frame.ProtocolError closes with its code.
	Message(c Conn, op frame.Opcode, payload []byte) error
	// Refuse tells the client that a message of its was dropped (code is a
	// short machine-readable word such as "rate_limited" or "forbidden";
	// room may be empty; text is for people), in the endpoint's own form.
	// Endpoints without a form of their own for errors do nothing: the
	// drop is counted by the caller.
	Refuse(c Conn, code, room, text string)
	// Close is called once when the connection has ended, whatever the
	// reason, so the protocol can release what it holds (memberships).
	Close(c Conn)
}

// Conn is what a protocol sees of one upgraded connection. A Conn is also
// the fan-out Subscriber that receives the endpoint's room and user
// messages in the protocol's Format.
type Conn interface {
	fanout.Subscriber
	// Reply queues one unfragmented data message to this connection,
	// compressed when permessage-deflate was negotiated, written together
	// with the rest of the current read's output. Event loop only.
	Reply(op frame.Opcode, payload []byte)
	// Queue adds a reference to a prepared frame (retained; the caller
	// keeps its own) after whatever is queued, from any goroutine.
	// first reports that the queue was empty (Flush is needed); ok is
	// false when the connection no longer takes output.
	Queue(b *poller.Buf) (first, ok bool)
	// Scratch returns an empty buffer owned by the connection's event
	// loop, for building a reply without allocating; it is valid until
	// Message returns, and is not the buffer Reply appends to. Event loop
	// only.
	Scratch() []byte
	// Fail closes the connection with code and reason after the current
	// read's output. Event loop only.
	Fail(code frame.CloseCode, reason string)
	// Room is the room named by the upgrade path on prefix endpoints
	// (/room/NAME), else "".
	Room() string
	// User is the connection's user id: the token's subject, or in dev
	// mode the ?user= parameter; "" when anonymous.
	User() string
	// Identity is the verified token, nil for anonymous connections.
	Identity() *auth.Identity
	// State returns what Open returned.
	State() any
}

// MayJoin reports whether c's token allows joining room; anonymous
// connections (admitted only in dev mode or with -anonymous) may join any.
func MayJoin(c Conn, room string) bool {
	id := c.Identity()
	return id == nil || id.CanJoin(room)
}

// MayPublish reports whether c's token allows publishing to room;
// anonymous connections may publish anywhere.
func MayPublish(c Conn, room string) bool {
	id := c.Identity()
	return id == nil || id.CanPublish(room)
}
