package admission

import (
	"bytes"
	"errors"
)

// Refusals of request heads that are ambiguous or malformed at the HTTP
// level, by CheckRequestHead. A lenient parser (gobwas/ws trims whitespace
// before a colon and keeps the last of repeated headers) would read them
// one way, and an intermediary in front of the gateway may have read them
// another: each is refused with 400 instead.
var (
	ErrRequestLineCtl = errors.New("admission: control character in the request line")
	ErrHeaderName     = errors.New("admission: header name is not a token (no whitespace before the colon)")
	ErrHeaderValue    = errors.New("admission: control character (NUL, CR, LF) in a header value")
	ErrHeaderFold     = errors.New("admission: obsolete line folding in a header")
	ErrDupHost        = errors.New(`admission: more than one "Host" header`)
	ErrDupKey         = errors.New(`admission: more than one "Sec-WebSocket-Key" header`)
	ErrDupOrigin      = errors.New(`admission: more than one "Origin" header`)
)

// singleHeaders are the headers a request may carry at most once (RFC 9112
// section 3.2, RFC 6455 section 11.3.1, RFC 6454 section 7), with the
// rejection for a second one.
var singleHeaders = [...]struct {
	name string
	err  error
}{
	{"host", ErrDupHost},
	{"sec-websocket-key", ErrDupKey},
	{"origin", ErrDupOrigin},
}

// CheckRequestHead checks the framing of a request head (request line,
// header lines, each ending in CRLF): no control character in the request
// line; header names that are tokens directly followed by the colon (RFC
// 9112 section 5.1); values without NUL, bare CR, bare LF or other control
// characters but tab (RFC 9110 section 5.5); no obsolete line folding (RFC
// 9112 section 5.2); Host, Sec-WebSocket-Key and Origin at most once. An
// unterminated last line is checked the same way and left to the parser.
// It does not allocate.
func CheckRequestHead(req []byte) error {
	line, rest := cutLine(req)
	for _, b := range line {
		if isCtl(b) {
			return ErrRequestLineCtl
		}
	}
	var seen uint8
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			return nil // the empty line ending the head
		}
		if line[0] == ' ' || line[0] == '\t' {
			return ErrHeaderFold
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return ErrHeaderName
		}
		name := line[:colon]
		for _, b := range name {
			if !isTchar(b) {
				return ErrHeaderName
			}
		}
		for _, b := range line[colon+1:] {
			if isCtl(b) && b != '\t' {
				return ErrHeaderValue
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
