package stomp

import "strconv"

// Text is a string or a byte slice: header names and values can be passed
// as either without conversion (and so without allocating).
type Text interface{ ~string | ~[]byte }

// Header is one header line for AppendFrame.
type Header struct{ Name, Value string }

// AppendCommand appends cmd's command line ("MESSAGE\n") to dst.
func AppendCommand(dst []byte, cmd Command) []byte {
	dst = append(dst, cmd.String()...)
	return append(dst, '\n')
}

// AppendHeader appends the header line "name:value\n" to dst, escaping CR,
// LF, colon and backslash in name and value as STOMP 1.2 requires unless
// cmd is CONNECT, STOMP or CONNECTED (see Command.Escaped): those are
// written as given, and must not contain CR or LF.
func AppendHeader[N, V Text](dst []byte, cmd Command, name N, value V) []byte {
	if cmd.Escaped() {
		dst = appendEscaped(dst, name)
		dst = append(dst, ':')
		dst = appendEscaped(dst, value)
	} else {
		dst = append(dst, name...)
		dst = append(dst, ':')
		dst = append(dst, value...)
	}
	return append(dst, '\n')
}

// escMask has the bits of the bytes below 64 that need escaping.
const escMask uint64 = 1<<'\n' | 1<<'\r' | 1<<':'

// needsEscape reports whether c is escaped in a header: CR, LF, colon or
// backslash.
func needsEscape(c byte) bool { return c == '\\' || (c < 64 && escMask>>c&1 != 0) }

// appendEscaped appends s with STOMP 1.2 escaping.
func appendEscaped[T Text](dst []byte, s T) []byte {
	for j := 0; j < len(s); j++ {
		if needsEscape(s[j]) {
			return appendEscapedFrom(dst, s, j)
		}
	}
	return append(dst, s...)
}

// appendEscapedFrom appends s, escaping from s[j] on (s[:j] needs none).
func appendEscapedFrom[T Text](dst []byte, s T, j int) []byte {
	i := 0
	for ; j < len(s); j++ {
		var e byte
		switch s[j] {
		case '\\':
			e = '\\'
		case '\n':
			e = 'n'
		case '\r':
			e = 'r'
		case ':':
			e = 'c'
		default:
			continue
		}
		dst = append(dst, s[i:j]...)
		dst = append(dst, '\\', e)
		i = j + 1
	}
	return append(dst, s[i:]...)
}

// AppendContentLength appends the header line "content-length:n\n".
func AppendContentLength(dst []byte, n int) []byte {
	dst = append(dst, HeaderContentLength+":"...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\n')
}

// AppendBody appends the blank line that ends the headers, body and the
// terminating NUL: the last part of every frame.
func AppendBody(dst, body []byte) []byte {
	dst = append(dst, '\n')
	dst = append(dst, body...)
	return append(dst, 0)
}

// AppendFrame appends a complete frame to dst: the command line, headers in
// the given order (escaped as AppendHeader does), a content-length header
// when cmd may carry a body (SEND, MESSAGE, ERROR; so the body may contain
// NUL bytes), the blank line, body and NUL. Do not pass content-length in
// headers for those commands: peers read the first one, so the added one
// would be ignored and a wrong one passed in would garble the stream. A
// body given to another command is written as is, making a frame that
// peers reject.
func AppendFrame(dst []byte, cmd Command, headers []Header, body []byte) []byte {
	dst = AppendCommand(dst, cmd)
	for i := range headers {
		dst = AppendHeader(dst, cmd, headers[i].Name, headers[i].Value)
	}
	if cmd.AllowsBody() {
		dst = AppendContentLength(dst, len(body))
	}
	return AppendBody(dst, body)
}

// AppendMessageHead appends the per-subscriber start of a MESSAGE frame:
// the command line and the destination, subscription and message-id
// headers. Complete the frame with a tail built once per broadcast by
// AppendMessageTail; add per-subscriber headers (such as ack) between the
// two with AppendHeader(dst, CmdMessage, ...). Head and tail together are
// byte for byte what AppendFrame writes for the same headers in the same
// order, so a broadcast can be sent as two buffers: a small reused head per
// subscriber and one shared tail.
func AppendMessageHead[D, S, M Text](dst []byte, destination D, subscription S, messageID M) []byte {
	dst = append(dst, "MESSAGE\n"+HeaderDestination+":"...)
	dst = appendEscaped(dst, destination)
	dst = append(dst, "\n"+HeaderSubscription+":"...)
	dst = appendEscaped(dst, subscription)
	dst = append(dst, "\n"+HeaderMessageID+":"...)
	dst = appendEscaped(dst, messageID)
	return append(dst, '\n')
}

// AppendMessageTail appends the part of a MESSAGE frame that is the same
// for every subscriber: a content-type header (omitted when contentType is
// empty), content-length, the blank line, body and NUL. Headers shared by
// all subscribers (user headers of the SEND, or destination and message-id
// when the head carries only subscription and ack) can go in front of it
// with AppendHeader(dst, CmdMessage, ...).
func AppendMessageTail[T Text](dst []byte, contentType T, body []byte) []byte {
	if len(contentType) > 0 {
		dst = append(dst, HeaderContentType+":"...)
		dst = appendEscaped(dst, contentType)
		dst = append(dst, '\n')
	}
	dst = AppendContentLength(dst, len(body))
	return AppendBody(dst, body)
}

// AppendError appends an ERROR frame whose message header is message (use
// Error.Reason for parser errors), with a receipt-id header when receiptID
// is not empty (the receipt header of the frame at fault), and body as
// text/plain detail when not empty.
func AppendError(dst []byte, message string, receiptID, body []byte) []byte {
	dst = append(dst, "ERROR\n"...)
	dst = AppendHeader(dst, CmdError, HeaderMessage, message)
	if len(receiptID) > 0 {
		dst = AppendHeader(dst, CmdError, HeaderReceiptID, receiptID)
	}
	if len(body) > 0 {
		dst = append(dst, HeaderContentType+":text/plain\n"...)
	}
	dst = AppendContentLength(dst, len(body))
	return AppendBody(dst, body)
}

// AppendReceipt appends a RECEIPT frame for the given receipt-id.
func AppendReceipt[T Text](dst []byte, receiptID T) []byte {
	dst = append(dst, "RECEIPT\n"...)
	dst = AppendHeader(dst, CmdReceipt, HeaderReceiptID, receiptID)
	return AppendBody(dst, nil)
}

// AppendConnected appends a CONNECTED frame with the version header, the
// heart-beat header unless hb is zero, and the session and server headers
// unless empty. CONNECTED headers are not escaped: session and server must
// not contain CR or LF.
func AppendConnected(dst []byte, v Version, hb HeartBeat, session, server string) []byte {
	dst = append(dst, "CONNECTED\n"+HeaderVersion+":"...)
	dst = append(dst, v.String()...)
	dst = append(dst, '\n')
	if hb != (HeartBeat{}) {
		dst = append(dst, HeaderHeartBeat+":"...)
		dst = AppendHeartBeat(dst, hb)
		dst = append(dst, '\n')
	}
	if session != "" {
		dst = AppendHeader(dst, CmdConnected, HeaderSession, session)
	}
	if server != "" {
		dst = AppendHeader(dst, CmdConnected, HeaderServer, server)
	}
	return AppendBody(dst, nil)
}
