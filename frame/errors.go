package frame

// ProtocolError is a violation of RFC 6455 (or of the configured limits)
// found while decoding. Code is the close code the connection should be
// closed with. Callers match it with errors.As:
//
//	var pe *frame.ProtocolError
//	if errors.As(err, &pe) { closeWith(pe.Code) }
type ProtocolError struct {
	Code CloseCode // close code to send: 1002, 1007 or 1009
	Msg  string    // human readable, prefixed with "frame: "
}

// Error returns Msg.
func (e *ProtocolError) Error() string { return e.Msg }

// Protocol errors (close code 1002).
var (
	// ErrUnmasked: a client sent an unmasked frame (server role).
	ErrUnmasked = &ProtocolError{CloseProtocolError, "frame: unmasked client frame"}
	// ErrMaskedServerFrame: a server sent a masked frame (client role).
	ErrMaskedServerFrame = &ProtocolError{CloseProtocolError, "frame: masked server frame"}
	// ErrReservedBits: RSV bits set without a negotiated extension, RSV2/RSV3
	// set, or RSV1 on a control or continuation frame.
	ErrReservedBits = &ProtocolError{CloseProtocolError, "frame: reserved bits set"}
	// ErrReservedOpcode: opcode 0x3-0x7 or 0xB-0xF.
	ErrReservedOpcode = &ProtocolError{CloseProtocolError, "frame: reserved opcode"}
	// ErrControlTooLong: control frame payload longer than 125 bytes.
	ErrControlTooLong = &ProtocolError{CloseProtocolError, "frame: control frame payload over 125 bytes"}
	// ErrFragmentedControl: control frame without FIN.
	ErrFragmentedControl = &ProtocolError{CloseProtocolError, "frame: fragmented control frame"}
	// ErrUnexpectedContinuation: continuation frame with no message in progress.
	ErrUnexpectedContinuation = &ProtocolError{CloseProtocolError, "frame: continuation without a message in progress"}
	// ErrExpectedContinuation: new text/binary frame while a fragmented
	// message is in progress.
	ErrExpectedContinuation = &ProtocolError{CloseProtocolError, "frame: new data frame inside a fragmented message"}
	// ErrLengthTopBit: 64-bit payload length with its most significant bit set.
	ErrLengthTopBit = &ProtocolError{CloseProtocolError, "frame: payload length has top bit set"}
	// ErrBadClosePayload: close frame payload of exactly one byte.
	ErrBadClosePayload = &ProtocolError{CloseProtocolError, "frame: close payload of one byte"}
	// ErrBadCloseCode: close code not allowed on the wire.
	ErrBadCloseCode = &ProtocolError{CloseProtocolError, "frame: invalid close code"}
)

// Payload errors.
var (
	// ErrInvalidUTF8: text message or close reason is not valid UTF-8 (1007).
	ErrInvalidUTF8 = &ProtocolError{CloseInvalidPayload, "frame: invalid UTF-8 in text"}
	// ErrFrameTooBig: frame header announces more than Limits.MaxFrame (1009).
	ErrFrameTooBig = &ProtocolError{CloseMessageTooBig, "frame: frame too big"}
	// ErrMessageTooBig: message would grow past Limits.MaxMessage (1009).
	ErrMessageTooBig = &ProtocolError{CloseMessageTooBig, "frame: message too big"}
	// ErrTooManyFragments: a fragmented message's frame count would pass
	// Limits.MaxFragments (1009).
	ErrTooManyFragments = &ProtocolError{CloseMessageTooBig, "frame: message in too many fragments"}
)

// ErrDecoderFailed is returned by Decoder.Feed when it is called after it
// already returned an error, or after Release without a new Init. It signals
// a caller bug, hence 1011.
var ErrDecoderFailed = &ProtocolError{CloseInternalError, "frame: decoder used after an error"}
