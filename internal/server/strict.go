package server

import (
	"bytes"
	"net/http"

	"github.com/gobwas/ws"
)

// Rejections of request heads that are ambiguous or malformed at the HTTP
// level. gobwas/ws parses leniently (it trims whitespace before a colon
// and keeps the last of repeated headers); a request that an intermediary
// in front of wsgate may have read differently is refused instead, with
// 400.
var (
	errRequestLineCtl = badRequest("server: control character in the request line")
	errHeaderName     = badRequest("server: header name is not a token (no whitespace before the colon)")
	errHeaderValue    = badRequest("server: control character (NUL, CR, LF) in a header value")
	errHeaderFold     = badRequest("server: obsolete line folding in a header")
	errDupHost        = badRequest(`server: more than one "Host" header`)
	errDupKey         = badRequest(`server: more than one "Sec-WebSocket-Key" header`)
	errDupOrigin      = badRequest(`server: more than one "Origin" header`)
)

func badRequest(reason string) error {
	return ws.RejectConnectionError(ws.RejectionStatus(http.StatusBadRequest), ws.RejectionReason(reason))
}

// singleHeaders are the headers a request may carry at most once (RFC 9112
// section 3.2, RFC 6455 section 11.3.1, RFC 6454 section 7), with the
// rejection for a second one.
var singleHeaders = [...]struct {
	name string
	err  error
}{
	{"host", errDupHost},
	{"sec-websocket-key", errDupKey},
	{"origin", errDupOrigin},
}

// checkRequestHead checks the framing of a request head (request line,
// header lines, each ending in CRLF): no control character in the request
// line; header names that are tokens directly followed by the colon (RFC
// 9112 section 5.1); values without NUL, bare CR, bare LF or other control
// characters but tab (RFC 9110 section 5.5); no obsolete line folding (RFC
// 9112 section 5.2); Host, Sec-WebSocket-Key and Origin at most once. An
// unterminated last line is checked the same way and left to the parser.
// It does not allocate.
func checkRequestHead(req []byte) error {
	line, rest := cutLine(req)
	for _, b := range line {
		if isCtl(b) {
			return errRequestLineCtl
		}
	}
	var seen uint8
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			return nil // the empty line ending the head
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errHeaderFold
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errHeaderName
		}
		name := line[:colon]
		for _, b := range name {
			if !isTchar(b) {
				return errHeaderName
			}
		}
		for _, b := range line[colon+1:] {
			if isCtl(b) && b != '\t' {
				return errHeaderValue
			}
		}
		for i, h := range singleHeaders {
			if len(name) == len(h.name) && bytes.EqualFold(name, []byte(h.name)) {
				if seen&(1<<i) != 0 {
					return h.err
				}
				seen |= 1 << i
			}
		}
	}
	return nil
}

// cutLine splits s at its first CRLF; without one, line is all of s.
func cutLine(s []byte) (line, rest []byte) {
	if i := bytes.Index(s, []byte("\r\n")); i >= 0 {
		return s[:i], s[i+2:]
	}
	return s, nil
}

// isCtl reports whether b is an ASCII control character (DEL included).
func isCtl(b byte) bool { return b < 0x20 || b == 0x7f }

// isTchar reports whether b may appear in a token (RFC 9110 section 5.6.2).
func isTchar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	switch b {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
