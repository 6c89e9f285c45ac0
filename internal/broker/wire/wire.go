// Package wire is the broker's message format and its mapping of room,
// user and queue names to NATS subjects. It knows no network.
package wire

import (
	"encoding/binary"
	"errors"
	"unsafe"
)

// Kind says what a message is addressed to.
type Kind uint8

// Kinds of message.
const (
	// Room: every member of a room, on every node.
	Room Kind = iota
	// User: every connection of a user (a token subject), on every node.
	User
	// Queue: one competing consumer of a queue destination in the cluster.
	Queue
	numKinds
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool { return k < numKinds }

// String returns "room", "user" or "queue".
func (k Kind) String() string {
	switch k {
	case Room:
		return "room"
	case User:
		return "user"
	case Queue:
		return "queue"
	}
	return "kind?"
}

// Flags describe a message's payload.
type Flags uint8

// Flags of a message. Bits not named here are carried through unchanged.
const (
	// Binary: the payload travels in a binary WebSocket message (else
	// text).
	Binary Flags = 1 << iota
	// JSON: the payload is exactly one JSON value, which a JSON protocol
	// may embed in its envelope without quoting.
	JSON
)

// Message is what travels between nodes.
type Message struct {
	Kind  Kind
	Flags Flags
	// Origin is the ID of the node that published the message; the
	// broker's Publish sets it.
	Origin string
	// Seq orders the messages of one origin: the broker's Publish sets
	// it, increasing in the order the messages leave the node, so that a
	// receiver can drop a message that arrives after a later one of the
	// same origin (as in-flight messages do when a failover sends the
	// next ones on a faster path).
	Seq uint64
	// Publisher is the user id of the publisher; empty for anonymous or
	// the server itself.
	Publisher string
	// Target is the room, user or queue name.
	Target string
	// Dest, when set, narrows a user message to one destination within
	// the user's sessions (a STOMP /user/queue/NAME); empty for all of
	// them. It travels as an optional field.
	Dest string
	// Payload is the message body, unchanged.
	Payload []byte
	// Offset, Prev and Time describe a message of a room's history as the
	// history stream passed it on: its offset, the offset of the room's
	// message before it (0: none kept), and when the stream took it (unix
	// nanoseconds). They are not encoded: the broker sets them from the
	// stream's headers. Zero for other messages.
	Offset, Prev uint64
	Time         int64
}

// Version is the first byte of every encoded message.
const Version = 1

// The encoding, all lengths unsigned varints:
//
//	version  kind  flags  seq  hdrlen  header  payload
//
// seq is 8 bytes, big-endian, at a fixed offset so that SetSeq can stamp
// an encoded message.
// header is origin, publisher and target, each as length then bytes,
// followed by optional fields, each as tag, length, bytes. A decoder skips
// fields whose tag it does not know and everything up to hdrlen, so later
// versions can add fields (a history offset, say) that older nodes ignore.
// Tag 1 is Dest.
// The payload is the rest of the message.

// Errors from Decode.
var (
	// ErrTruncated: the message ends inside its header.
	ErrTruncated = errors.New("wire: message truncated")
	// ErrVersion: the message has a version this node does not speak.
	ErrVersion = errors.New("wire: unknown message version")
	// ErrMalformed: a length or kind in the message is out of range.
	ErrMalformed = errors.New("wire: malformed message")
)

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// Tags of the optional header fields.
const (
	tagDest = 1
)

func headerLen(m *Message) int {
	n := uvarintLen(uint64(len(m.Origin))) + len(m.Origin) +
		uvarintLen(uint64(len(m.Publisher))) + len(m.Publisher) +
		uvarintLen(uint64(len(m.Target))) + len(m.Target)
	if m.Dest != "" {
		n += 1 + uvarintLen(uint64(len(m.Dest))) + len(m.Dest)
	}
	return n
}

// seqOffset is where seq starts in an encoded message.
const seqOffset = 3

// fixedLen is the length of version, kind, flags and seq.
const fixedLen = seqOffset + 8

// EncodedLen is the number of bytes AppendMessage adds for m.
func EncodedLen(m *Message) int {
	h := headerLen(m)
	return fixedLen + uvarintLen(uint64(h)) + h + len(m.Payload)
}

// SetSeq overwrites the seq of the encoded message enc.
func SetSeq(enc []byte, seq uint64) {
	binary.BigEndian.PutUint64(enc[seqOffset:fixedLen], seq)
}

// AppendMessage appends the encoding of m to dst and returns the extended
// slice. It allocates only when dst lacks room.
func AppendMessage(dst []byte, m *Message) []byte {
	h := headerLen(m)
	dst = append(dst, Version, byte(m.Kind), byte(m.Flags))
	dst = binary.BigEndian.AppendUint64(dst, m.Seq)
	dst = binary.AppendUvarint(dst, uint64(h))
	dst = binary.AppendUvarint(dst, uint64(len(m.Origin)))
	dst = append(dst, m.Origin...)
	dst = binary.AppendUvarint(dst, uint64(len(m.Publisher)))
	dst = append(dst, m.Publisher...)
	dst = binary.AppendUvarint(dst, uint64(len(m.Target)))
	dst = append(dst, m.Target...)
	if m.Dest != "" {
		dst = append(dst, tagDest)
		dst = binary.AppendUvarint(dst, uint64(len(m.Dest)))
		dst = append(dst, m.Dest...)
	}
	return append(dst, m.Payload...)
}

// Decode parses one encoded message. It copies nothing: the strings and
// the payload of the result point into b, so b must not change while they
// are in use.
func Decode(b []byte) (Message, error) {
	var m Message
	if len(b) < fixedLen+1 {
		return m, ErrTruncated
	}
	if b[0] != Version {
		return m, ErrVersion
	}
	if Kind(b[1]) >= numKinds {
		return m, ErrMalformed
	}
	m.Kind, m.Flags = Kind(b[1]), Flags(b[2])
	m.Seq = binary.BigEndian.Uint64(b[seqOffset:fixedLen])
	hl, n := binary.Uvarint(b[fixedLen:])
	if n <= 0 {
		return m, ErrMalformed
	}
	rest := b[fixedLen+n:]
	if hl > uint64(len(rest)) {
		return m, ErrTruncated
	}
	hdr := rest[:hl]
	m.Payload = rest[hl:len(rest):len(rest)]
	var err error
	if m.Origin, hdr, err = field(hdr); err != nil {
		return m, err
	}
	if m.Publisher, hdr, err = field(hdr); err != nil {
		return m, err
	}
	if m.Target, hdr, err = field(hdr); err != nil {
		return m, err
	}
	// Optional fields: tag, then a length-prefixed value; a tag this
	// version does not know is skipped.
	for len(hdr) > 0 {
		tag, n := binary.Uvarint(hdr)
		if n <= 0 {
			return m, ErrMalformed
		}
		var v string
		if v, hdr, err = field(hdr[n:]); err != nil {
			return m, err
		}
		if tag == tagDest {
			m.Dest = v
		}
	}
	return m, nil
}

// field splits one length-prefixed string off the front of b.
func field(b []byte) (string, []byte, error) {
	l, n := binary.Uvarint(b)
	if n <= 0 {
		if n == 0 {
			return "", nil, ErrTruncated
		}
		return "", nil, ErrMalformed
	}
	b = b[n:]
	if l > uint64(len(b)) {
		return "", nil, ErrTruncated
	}
	if l == 0 {
		return "", b, nil
	}
	return unsafe.String(&b[0], int(l)), b[l:], nil
}
