package frame

import "strconv"

// Opcode is the 4-bit opcode of a WebSocket frame (RFC 6455 section 5.2).
type Opcode byte

// Opcodes defined by RFC 6455. Values 0x3-0x7 and 0xB-0xF are reserved and
// rejected by the Decoder.
const (
	OpContinuation Opcode = 0x0 // continuation of a fragmented data message
	OpText         Opcode = 0x1 // UTF-8 text data message
	OpBinary       Opcode = 0x2 // binary data message
	OpClose        Opcode = 0x8 // close control frame
	OpPing         Opcode = 0x9 // ping control frame
	OpPong         Opcode = 0xA // pong control frame
)

// IsControl reports whether o is a control opcode (0x8-0xF, including the
// reserved ones).
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsData reports whether o is a non-control opcode (0x0-0x7, including
// continuation and the reserved ones).
func (o Opcode) IsData() bool { return o&0x8 == 0 && o <= 0xF }

// reserved reports whether o is not one of the six opcodes RFC 6455 defines.
func (o Opcode) reserved() bool {
	switch o {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return false
	}
	return true
}

// String returns the opcode's name ("text", "ping", ...) or "opcode(0xN)" for
// a reserved value.
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode(0x" + strconv.FormatUint(uint64(o), 16) + ")"
}

// CloseCode is the status code carried by a close frame (RFC 6455 section
// 7.4, IANA "WebSocket Close Code Number Registry").
type CloseCode uint16

// Close codes. CloseNoStatus and CloseAbnormal are never sent on the wire:
// they describe a close frame without a code and a connection that dropped
// without a close frame.
const (
	CloseNormal             CloseCode = 1000 // normal closure
	CloseGoingAway          CloseCode = 1001 // endpoint going away (shutdown, navigation)
	CloseProtocolError      CloseCode = 1002 // protocol violation
	CloseUnsupportedData    CloseCode = 1003 // data type not accepted
	CloseNoStatus           CloseCode = 1005 // close frame had no status code (never on the wire)
	CloseAbnormal           CloseCode = 1006 // no close frame at all (never on the wire)
	CloseInvalidPayload     CloseCode = 1007 // data inconsistent with its type (bad UTF-8)
	ClosePolicyViolation    CloseCode = 1008 // generic policy violation
	CloseMessageTooBig      CloseCode = 1009 // frame or message over the size limit
	CloseMandatoryExtension CloseCode = 1010 // client needed an extension the server did not accept
	CloseInternalError      CloseCode = 1011 // unexpected server condition
	CloseServiceRestart     CloseCode = 1012 // server restarting
	CloseTryAgainLater      CloseCode = 1013 // temporary overload
	CloseBadGateway         CloseCode = 1014 // upstream failure in a gateway
)

// ValidOnWire reports whether c may appear in a close frame: 1000-1003,
// 1007-1014 and the application/private range 3000-4999.
func (c CloseCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// String returns the decimal code.
func (c CloseCode) String() string { return strconv.FormatUint(uint64(c), 10) }

// ParseClose validates a close frame payload and splits it into code and
// reason. The reason aliases payload.
//
// An empty payload yields CloseNoStatus and no error. A 1-byte payload yields
// ErrBadClosePayload, a code that is not ValidOnWire yields ErrBadCloseCode
// and a reason that is not valid UTF-8 yields ErrInvalidUTF8.
func ParseClose(payload []byte) (code CloseCode, reason []byte, err error) {
	switch len(payload) {
	case 0:
		return CloseNoStatus, nil, nil
	case 1:
		return 0, nil, ErrBadClosePayload
	}
	code = CloseCode(uint16(payload[0])<<8 | uint16(payload[1]))
	if !code.ValidOnWire() {
		return code, nil, ErrBadCloseCode
	}
	reason = payload[2:]
	if !ValidUTF8(reason) {
		return code, nil, ErrInvalidUTF8
	}
	return code, reason, nil
}
