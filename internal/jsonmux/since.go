package jsonmux

import "math"

// sinceArg is a join's "since": absent, an offset in an epoch, or "last".
type sinceArg struct {
	kind   uint8 // sinceNone, sinceOffset, sinceLast
	offset uint64
}

const (
	sinceNone uint8 = iota
	sinceOffset
	sinceLast
)

// maxEpochLen bounds the epoch a client sends back.
const maxEpochLen = 64

// parseSince reads a join's since value (checked JSON text):
// {"offset":N,"epoch":"E"} or "last". Other keys in the object are
// ignored; both of these are required.
func (m *command) parseSince(v []byte) string {
	if v[0] == '"' {
		var b [8]byte
		if s, ok := unquote(b[:0], v); ok && string(s) == "last" {
			m.since.kind = sinceLast
			return ""
		}
		return msgSince
	}
	if v[0] != '{' {
		return msgSince
	}
	var off, epoch []byte
	i := skipWS(v, 1)
	if i < len(v) && v[i] == '}' {
		return msgSince
	}
	for {
		val := scanKey(v, i)
		end := scanValue(v, val) // the value was checked: neither fails
		var kb [16]byte
		key, _ := unquote(kb[:0], v[i:scanString(v, i)])
		switch string(key) {
		case "offset":
			off = v[val:end]
		case "epoch":
			epoch = v[val:end]
		}
		i = skipWS(v, end)
		if v[i] == '}' {
			break
		}
		i = skipWS(v, i+1) // a comma
	}
	n, ok := parseOffset(off)
	if !ok || len(epoch) < 2 || epoch[0] != '"' {
		return msgSince
	}
	e, ok := unquote(epoch[1:1], epoch) // in place, as room names are
	if !ok || len(e) > maxEpochLen {
		return msgSince
	}
	m.since = sinceArg{kind: sinceOffset, offset: n}
	m.sinceEpoch = e
	return ""
}

// parseOffset reads a JSON number that is a whole number from 0 to
// 2^63-1 (written without fraction or exponent).
func parseOffset(p []byte) (uint64, bool) {
	if len(p) == 0 || len(p) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if (len(p) > 1 && p[0] == '0') || n > math.MaxInt64 {
		return 0, false
	}
	return n, true
}
