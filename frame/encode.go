package frame

import "unicode/utf8"

// Reserved header bits in their wire position within the first header byte,
// for the rsv argument of the Append functions. RSV1 marks a
// permessage-deflate compressed message (RFC 7692).
const (
	RSV1 byte = 0x40
	RSV2 byte = 0x20
	RSV3 byte = 0x10
)

// MaxControlPayload is the largest payload a control frame may carry.
const MaxControlPayload = 125

// Precompiled unmasked control frames (server to client). They are string
// constants so they can never be modified; append them with
// append(dst, CompiledPing...).
const (
	CompiledPing           = "\x89\x00"         // ping, empty payload
	CompiledPong           = "\x8a\x00"         // pong, empty payload
	CompiledCloseEmpty     = "\x88\x00"         // close without status code
	CompiledCloseNormal    = "\x88\x02\x03\xe8" // close 1000
	CompiledCloseGoingAway = "\x88\x02\x03\xe9" // close 1001
	CompiledCloseRestart   = "\x88\x02\x03\xf4" // close 1012
)

// HeaderSize returns the length of a frame header for a payload of
// payloadLen bytes, with (masked) or without a 4-byte masking key.
func HeaderSize(payloadLen int, masked bool) int {
	n := 2
	switch {
	case payloadLen > 0xFFFF:
		n += 8
	case payloadLen > 125:
		n += 2
	}
	if masked {
		n += 4
	}
	return n
}

// rsvBits normalizes rsv: bits in wire position (RSV1 = 0x40) are used as is;
// the low three bits are accepted as the 3-bit field (RSV1 = 0x4, the
// convention of gobwas/ws) and shifted into place.
func rsvBits(rsv byte) byte { return rsv&0x70 | (rsv&0x07)<<4 }

// AppendHeader appends a frame header to dst and returns the extended slice.
// rsv carries the reserved bits (use RSV1; the 3-bit field form 0x4 is
// accepted too). The length is encoded minimally. mask nil means unmasked
// (server to client); otherwise the key is written and the mask bit set, and
// the caller masks the payload (see Mask).
func AppendHeader(dst []byte, fin bool, rsv byte, op Opcode, payloadLen int, mask *[4]byte) []byte {
	b0 := rsvBits(rsv) | byte(op&0xF)
	if fin {
		b0 |= 0x80
	}
	var mb byte
	if mask != nil {
		mb = 0x80
	}
	switch {
	case payloadLen <= 125:
		dst = append(dst, b0, mb|byte(payloadLen))
	case payloadLen <= 0xFFFF:
		dst = append(dst, b0, mb|126, byte(payloadLen>>8), byte(payloadLen))
	default:
		n := uint64(payloadLen)
		dst = append(dst, b0, mb|127,
			byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if mask != nil {
		dst = append(dst, mask[0], mask[1], mask[2], mask[3])
	}
	return dst
}

// AppendFrame appends a complete unmasked frame (server to client) to dst.
func AppendFrame(dst []byte, fin bool, rsv byte, op Opcode, payload []byte) []byte {
	dst = AppendHeader(dst, fin, rsv, op, len(payload), nil)
	return append(dst, payload...)
}

// AppendMaskedFrame appends a complete frame masked with key (client to
// server) to dst. payload is not modified.
func AppendMaskedFrame(dst []byte, fin bool, rsv byte, op Opcode, key [4]byte, payload []byte) []byte {
	dst = AppendHeader(dst, fin, rsv, op, len(payload), &key)
	start := len(dst)
	dst = append(dst, payload...)
	Mask(dst[start:], key, 0)
	return dst
}

// AppendClose appends a complete unmasked close frame carrying code and
// reason. The reason is cut at a rune boundary so the payload fits in 125
// bytes. Code 0 or CloseNoStatus produce an empty close frame (no code, no
// reason), since 1005 must not be sent.
func AppendClose(dst []byte, code CloseCode, reason string) []byte {
	if code == 0 || code == CloseNoStatus {
		return append(dst, CompiledCloseEmpty...)
	}
	if len(reason) > MaxControlPayload-2 {
		n := MaxControlPayload - 2
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	dst = append(dst, 0x88, byte(2+len(reason)), byte(code>>8), byte(code))
	return append(dst, reason...)
}
