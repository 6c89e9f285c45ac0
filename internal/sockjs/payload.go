package sockjs

import (
	"bytes"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// Errors of the sending endpoints, answered with status 500 and the body
// the protocol prescribes ("Payload expected.", "Broken JSON encoding.").
var (
	// ErrPayloadExpected reports an empty body or JSON that is not an
	// array.
	ErrPayloadExpected = errors.New("sockjs: payload expected")
	// ErrBrokenJSON reports a body that is not valid JSON.
	ErrBrokenJSON = errors.New("sockjs: broken JSON encoding")
)

// ParseMessages parses body, a JSON array of messages as xhr_send and
// jsonp_send carry them, and calls fn with each message in order. String
// elements are unescaped (an unpaired surrogate escape becomes U+FFFD);
// any other JSON value is delivered as its JSON text. The whole body is
// validated before fn is first called, so a broken body delivers
// nothing. scratch is reused for the unescaped bytes and returned for the
// next call; the slice given to fn is valid only during the call.
func ParseMessages(body, scratch []byte, fn func(msg []byte)) ([]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return scratch, ErrPayloadExpected
	}
	end, err := skipValue(body, 0)
	if err != nil || len(bytes.TrimSpace(body[end:])) != 0 {
		return scratch, ErrBrokenJSON
	}
	if body[0] != '[' {
		return scratch, ErrPayloadExpected
	}
	i := skipWS(body, 1)
	for body[i] != ']' {
		start := i
		i, _ = skipValue(body, i)
		elem := body[start:i]
		if elem[0] == '"' {
			scratch = unquote(scratch[:0], elem)
			fn(scratch)
		} else {
			fn(elem)
		}
		i = skipWS(body, i)
		if body[i] == ',' {
			i = skipWS(body, i+1)
		}
	}
	return scratch, nil
}

// ParseWebSocketMessage parses one WebSocket message of the SockJS
// websocket transport: a JSON array of messages, or a single JSON string.
// An empty payload carries nothing and is not an error; anything else
// that is not such JSON is ErrBrokenJSON, on which the session is closed.
func ParseWebSocketMessage(payload, scratch []byte, fn func(msg []byte)) ([]byte, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		return scratch, nil
	}
	if p[0] == '[' {
		s, err := ParseMessages(p, scratch, fn)
		if err == ErrPayloadExpected {
			err = ErrBrokenJSON
		}
		return s, err
	}
	end, err := skipValue(p, 0)
	if err != nil || end != len(p) {
		return scratch, ErrBrokenJSON
	}
	if p[0] == '"' {
		scratch = unquote(scratch[:0], p)
		fn(scratch)
	} else {
		fn(p)
	}
	return scratch, nil
}

// FormValue returns the value of field name in an
// application/x-www-form-urlencoded string (or URL query), decoded into
// scratch ('+' is a space, %XX a byte), and whether it was present.
// A malformed escape is kept literally.
func FormValue(form []byte, name string, scratch []byte) ([]byte, bool) {
	for len(form) > 0 {
		var field []byte
		if i := bytes.IndexByte(form, '&'); i >= 0 {
			field, form = form[:i], form[i+1:]
		} else {
			field, form = form, nil
		}
		k, v := field, []byte(nil)
		if i := bytes.IndexByte(field, '='); i >= 0 {
			k, v = field[:i], field[i+1:]
		}
		if formDecodedEqual(k, name) {
			return formDecode(scratch[:0], v), true
		}
	}
	return scratch[:0], false
}

func formDecodedEqual(k []byte, name string) bool {
	if bytes.IndexByte(k, '%') < 0 && bytes.IndexByte(k, '+') < 0 {
		return string(k) == name
	}
	var buf [64]byte
	return string(formDecode(buf[:0], k)) == name
}

func formDecode(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '+':
			dst = append(dst, ' ')
		case c == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]):
			dst = append(dst, unhex(v[i+1])<<4|unhex(v[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// maxDepth bounds nesting in skipValue, so hostile input cannot exhaust
// the stack.
const maxDepth = 64

// skipValue returns the index just after the JSON value starting at i.
func skipValue(b []byte, i int) (int, error) { return skipValueDepth(b, i, 0) }

func skipValueDepth(b []byte, i, depth int) (int, error) {
	i = skipWS(b, i)
	if i >= len(b) || depth > maxDepth {
		return 0, ErrBrokenJSON
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '[' || c == '{':
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i, err = skipString(b, skipWS(b, i)); err != nil {
					return 0, err
				}
				if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
					return 0, ErrBrokenJSON
				}
				i++
			}
			if i, err = skipValueDepth(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return 0, ErrBrokenJSON
			}
			if b[i] == closer {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, ErrBrokenJSON
			}
			i++
		}
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(b, i)
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(b[i:], []byte(lit)) {
			return i + len(lit), nil
		}
	}
	return 0, ErrBrokenJSON
}

func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, ErrBrokenJSON
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return 0, ErrBrokenJSON
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, ErrBrokenJSON
		}
	}
	if i == start {
		return 0, ErrBrokenJSON
	}
	return i, nil
}

// skipString returns the index after the JSON string starting at b[i].
func skipString(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, ErrBrokenJSON
	}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return 0, ErrBrokenJSON
		case c == '\\':
			i++
			if i >= len(b) {
				return 0, ErrBrokenJSON
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return 0, ErrBrokenJSON
				}
				i += 4
			default:
				return 0, ErrBrokenJSON
			}
		}
	}
	return 0, ErrBrokenJSON
}

// unquote appends the contents of s, a JSON string already checked by
// skipString, unescaped.
func unquote(dst, s []byte) []byte {
	s = s[1 : len(s)-1]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return appendValidUTF8(dst, s[i:])
			}
			dst = appendValidUTF8(dst, s[i:i+j])
			i += j - 1
			continue
		}
		i++
		switch s[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+1:]))
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					r2 = utf16.DecodeRune(r, rune(hex4(s[i+3:])))
					if r2 != utf8.RuneError {
						i += 6
					}
				}
				r = r2
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, s[i])
		}
	}
	return dst
}

func hex4(b []byte) uint16 {
	return uint16(unhex(b[0]))<<12 | uint16(unhex(b[1]))<<8 | uint16(unhex(b[2]))<<4 | uint16(unhex(b[3]))
}

// appendValidUTF8 appends p with each invalid UTF-8 byte replaced by
// U+FFFD, so messages handed to the application are always valid text.
func appendValidUTF8(dst, p []byte) []byte {
	if utf8.Valid(p) {
		return append(dst, p...)
	}
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, p[:n]...)
		}
		p = p[n:]
	}
	return dst
}
