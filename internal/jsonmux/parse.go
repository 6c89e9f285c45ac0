package jsonmux

import "unicode/utf8"

// A small JSON reader for the /ws commands (mux.go). Publishing is the hot
// path, and encoding/json would allocate for every command (maps, or a
// struct's strings), so commands are read in place: the parser records
// where each field's value is in the message and checks that the whole
// message is one valid JSON object; nothing is copied but a room name
// written with escapes.

// maxJSONDepth bounds the nesting of a value read by scanValue; deeper
// documents are refused (encoding/json's own bound is 10000).
const maxJSONDepth = 1024

// Command types.
const (
	cmdJoin uint8 = iota + 1
	cmdLeave
	cmdPublish
)

// maxIDLen bounds a command's id as written (a string or a number): it is
// echoed in replies.
const maxIDLen = 128

// Reasons for a bad_request reply.
const (
	msgMalformed = "malformed command: a command is one JSON object, e.g. {\"type\":\"join\",\"room\":\"chat.a\"}"
	msgType      = `type must be "join", "leave" or "publish"`
	msgRoom      = "room must be a string of 1-128 characters of A-Z a-z 0-9 . _ - : @ ~"
	msgID        = "id must be a string or a number of at most 128 bytes"
	msgNoData    = "publish needs data (any JSON value)"
	msgSince     = `since must be {"offset":N,"epoch":"E"} (N a whole number, E a string of at most 64 bytes) or "last"`
)

// command is one parsed command. room, id and data alias the message; a
// room written with escapes is decoded in place (decoding only shrinks).
type command struct {
	typ  uint8
	room []byte // decoded room name; nil when absent
	id   []byte // the id's JSON text (string or number); nil when absent
	data []byte // the data's JSON text; nil when absent
	// since is where a join resumes (parsed by interpret from the
	// value's JSON text); its epoch aliases the message.
	since      sinceArg
	sinceEpoch []byte
}

// parse reads a command; it returns "" or the reason for a bad_request.
// It may overwrite the part of p that holds the room.
// Keys are case-sensitive, a repeated key's last value counts, and unknown
// keys are ignored (their values must still be valid JSON).
func (m *command) parse(p []byte) string {
	var typ, room, since []byte
	i := skipWS(p, 0)
	if i >= len(p) || p[i] != '{' {
		return msgMalformed
	}
	i = skipWS(p, i+1)
	if i < len(p) && p[i] == '}' {
		i++
	} else {
		for {
			v := scanKey(p, i)
			if v < 0 {
				return msgMalformed
			}
			end := scanValue(p, v)
			if end < 0 {
				return msgMalformed
			}
			var kb [16]byte
			key, ok := unquote(kb[:0], p[i:scanString(p, i)])
			if !ok {
				key = nil // longer than any key we read
			}
			switch string(key) {
			case "type":
				typ = p[v:end]
			case "room":
				room = p[v:end]
			case "id":
				m.id = p[v:end]
			case "data":
				m.data = p[v:end]
			case "since":
				since = p[v:end]
			}
			i = skipWS(p, end)
			if i < len(p) && p[i] == ',' {
				i = skipWS(p, i+1)
				continue
			}
			if i < len(p) && p[i] == '}' {
				i++
				break
			}
			return msgMalformed
		}
	}
	if skipWS(p, i) != len(p) {
		return msgMalformed
	}
	if msg := m.interpret(typ, room); msg != "" {
		return msg
	}
	if since != nil && m.typ == cmdJoin && string(since) != "null" {
		return m.parseSince(since)
	}
	return ""
}

// interpret checks the recorded fields of a well-formed command.
func (m *command) interpret(typ, room []byte) string {
	if m.id != nil && (len(m.id) > maxIDLen || (m.id[0] != '"' && m.id[0] != '-' && (m.id[0] < '0' || m.id[0] > '9'))) {
		m.id = nil
		return msgID
	}
	if room != nil {
		if room[0] != '"' {
			return msgRoom
		}
		m.room, _ = unquote(room[1:1], room) // in place: never overtakes its input
	}
	var tb [16]byte
	var t []byte
	if len(typ) > 0 && typ[0] == '"' {
		if v, ok := unquote(tb[:0], typ); ok {
			t = v
		}
	}
	switch string(t) {
	case "join":
		m.typ = cmdJoin
	case "leave":
		m.typ = cmdLeave
	case "publish":
		m.typ = cmdPublish
		if m.data == nil {
			return msgNoData
		}
	default:
		return msgType
	}
	if m.room == nil {
		return msgRoom
	}
	return ""
}

// isJSONValue reports whether p is exactly one JSON value, with optional
// whitespace around it.
func isJSONValue(p []byte) bool {
	i := scanValue(p, skipWS(p, 0))
	return i >= 0 && skipWS(p, i) == len(p)
}

func skipWS(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// scanKey reads an object key at p[i] and the colon after it, and returns
// where its value starts, or -1.
func scanKey(p []byte, i int) int {
	if i >= len(p) || p[i] != '"' {
		return -1
	}
	if i = scanString(p, i); i < 0 {
		return -1
	}
	i = skipWS(p, i)
	if i >= len(p) || p[i] != ':' {
		return -1
	}
	return skipWS(p, i+1)
}

// scanValue returns the end of the JSON value starting at p[i], or -1 if
// there is none (or it nests deeper than maxJSONDepth). It allocates
// nothing: containers are tracked in a bit stack.
func scanValue(p []byte, i int) int {
	var stack [maxJSONDepth / 64]uint64 // bit set: object; clear: array
	depth := 0
	for {
		if i >= len(p) {
			return -1
		}
		switch c := p[i]; c {
		case '{', '[':
			if depth == maxJSONDepth {
				return -1
			}
			obj := c == '{'
			if obj {
				stack[depth/64] |= 1 << (depth % 64)
			} else {
				stack[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			i = skipWS(p, i+1)
			if i < len(p) && p[i] == c+2 { // '{'+2 == '}', '['+2 == ']'
				depth--
				i++
				break
			}
			if obj {
				i = scanKey(p, i)
			}
			if i < 0 {
				return -1
			}
			continue // the first element's value
		case '"':
			i = scanString(p, i)
		case 't':
			i = scanLiteral(p, i, "true")
		case 'f':
			i = scanLiteral(p, i, "false")
		case 'n':
			i = scanLiteral(p, i, "null")
		default:
			i = scanNumber(p, i)
		}
		if i < 0 {
			return -1
		}
		// After a value: close containers, or find the next element.
		for {
			if depth == 0 {
				return i
			}
			if i = skipWS(p, i); i >= len(p) {
				return -1
			}
			obj := stack[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			if p[i] == ',' {
				i = skipWS(p, i+1)
				if obj {
					if i = scanKey(p, i); i < 0 {
						return -1
					}
				}
				break
			}
			if (obj && p[i] == '}') || (!obj && p[i] == ']') {
				depth--
				i++
				continue
			}
			return -1
		}
	}
}

// scanString returns the end of the string literal at p[i] (a '"'), or
// -1. Escapes must be JSON's; raw control characters are refused. UTF-8
// is not checked here: text messages were checked by the decoder.
func scanString(p []byte, i int) int {
	for i++; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i >= len(p) {
				return -1
			}
			switch p[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(p) {
					return -1
				}
				for k := 1; k <= 4; k++ {
					if _, ok := unhex(p[i+k]); !ok {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		case c < 0x20:
			return -1
		}
	}
	return -1
}

func scanLiteral(p []byte, i int, lit string) int {
	if len(p)-i < len(lit) || string(p[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

func scanNumber(p []byte, i int) int {
	if i < len(p) && p[i] == '-' {
		i++
	}
	switch {
	case i >= len(p):
		return -1
	case p[i] == '0':
		i++
	case '1' <= p[i] && p[i] <= '9':
		i = scanDigits(p, i)
	default:
		return -1
	}
	if i < len(p) && p[i] == '.' {
		j := scanDigits(p, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		j := scanDigits(p, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func scanDigits(p []byte, i int) int {
	for i < len(p) && '0' <= p[i] && p[i] <= '9' {
		i++
	}
	return i
}

func unhex(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}

// unquote decodes a checked JSON string literal s (quotes included). With
// no escapes it returns the bytes between the quotes, without a copy;
// otherwise it decodes into dst's spare capacity and reports false if that
// is too small. dst may be s[1:1]: each escape decodes to fewer bytes than
// it takes, so the output never overtakes the input. A lone surrogate
// becomes U+FFFD, as in encoding/json.
func unquote(dst, s []byte) ([]byte, bool) {
	if len(s) < 2 {
		return nil, false
	}
	s = s[1 : len(s)-1]
	i := 0
	for i < len(s) && s[i] != '\\' {
		i++
	}
	if i == len(s) {
		return s, true
	}
	out := dst[:0]
	for i = 0; i < len(s); {
		if len(out) == cap(out) {
			return out, false
		}
		if s[i] != '\\' {
			out = append(out, s[i])
			i++
			continue
		}
		c := s[i+1]
		i += 2
		switch c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(s[i:])
			i += 4
			if utf16IsHigh(r) && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if lo := hex4(s[i+2:]); utf16IsLow(lo) {
					r = (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000
					i += 6
				}
			}
			if n := utf8.RuneLen(r); cap(out)-len(out) < max(n, 3) { // a surrogate becomes U+FFFD
				return out, false
			}
			out = utf8.AppendRune(out, r) // a lone surrogate is RuneError
		default: // '"', '\\', '/'
			out = append(out, c)
		}
	}
	return out, true
}

func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		v, _ := unhex(c)
		r = r<<4 | v
	}
	return r
}

func utf16IsHigh(r rune) bool { return 0xd800 <= r && r < 0xdc00 }
func utf16IsLow(r rune) bool  { return 0xdc00 <= r && r < 0xe000 }
