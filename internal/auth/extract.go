package auth

// Token extraction from the handshake. The functions work on the slices
// gobwas/ws hooks hand over (valid only during the call) and do not
// allocate; TokenCollector copies the winning token into a buffer it
// reuses.
//
// Precedence: Authorization header > Sec-WebSocket-Protocol > access_token
// query parameter. The highest-precedence source present decides, even
// when it is malformed: a bad header is never rescued by a query token,
// and a malformed source is never treated as "no token" (which could let
// a request fall through to anonymous access).
//
// Browsers cannot set Authorization on a WebSocket; they can use the
// protocol style (new WebSocket(url, ["bearer", token])) or the query
// parameter. Query strings end up in access logs and browser history, so
// prefer the protocol style and short-lived tokens.

// Source says where a token came from, in increasing precedence.
type Source uint8

// Token sources.
const (
	SourceNone Source = iota
	SourceQuery
	SourceProtocol
	SourceHeader
)

// String names the source for logs.
func (s Source) String() string {
	switch s {
	case SourceQuery:
		return "query"
	case SourceProtocol:
		return "protocol"
	case SourceHeader:
		return "header"
	}
	return "none"
}

// BearerToken returns the token of an Authorization header value
// "Bearer <token>" (scheme case-insensitive, spaces or tabs around the
// token). ok is false for another scheme (Basic, ...), which is not ours;
// a Bearer value with an empty token or inner spaces gives ok true and an
// empty token, which the caller treats as malformed.
func BearerToken(value []byte) (token []byte, ok bool) {
	v := trimOWS(value)
	if len(v) < 6 || !equalFold(v[:6], "bearer") {
		return nil, false
	}
	if len(v) == 6 {
		return nil, true
	}
	if v[6] != ' ' && v[6] != '\t' {
		return nil, false // "Bearerx": another scheme
	}
	token = trimOWS(v[7:])
	for _, c := range token {
		if c == ' ' || c == '\t' {
			return nil, true
		}
	}
	return token, true
}

// AppendQueryToken finds the access_token parameter in a raw query (the
// part of the request URI after '?'), URL-unescapes it ('%XX', '+' as
// space) and appends it to dst. found is false when the parameter is
// absent; err is ErrMalformed for a bad escape, an empty value or a
// second access_token parameter.
func AppendQueryToken(dst, query []byte) (out []byte, found bool, err error) {
	out = dst
	for len(query) > 0 {
		var pair []byte
		pair, query = cutByte(query, '&')
		k, v := cutByte(pair, '=')
		if string(k) != "access_token" {
			continue
		}
		if found || len(v) == 0 {
			return dst, true, ErrMalformed
		}
		found = true
		if out, err = appendUnescaped(out, v); err != nil {
			return dst, true, err
		}
	}
	return out, found, nil
}

func appendUnescaped(dst, s []byte) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) {
				return dst, ErrMalformed
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return dst, ErrMalformed
			}
			dst = append(dst, hi<<4|lo)
			i += 2
		case '+':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ProtocolMarker is the Sec-WebSocket-Protocol element that announces a
// token: the element after it is the token.
const ProtocolMarker = "bearer"

// ProtocolToken finds the "bearer, <token>" pair (marker case-insensitive)
// in a Sec-WebSocket-Protocol value. found is false when there is no
// marker; a marker with no element after it gives found true and an empty
// token (malformed), and so do two markers in one value (two tokens in
// one source are ambiguous, as in two header lines).
func ProtocolToken(value []byte) (token []byte, found bool) {
	rest := value
	for len(rest) > 0 {
		var el []byte
		el, rest = nextElement(rest)
		if isMarker(el) {
			if found {
				return nil, true
			}
			token, rest = nextElement(rest)
			found = true
		}
	}
	return token, found
}

func isMarker(el []byte) bool {
	return len(el) == len(ProtocolMarker) && equalFold(el, ProtocolMarker)
}

// Protocols iterates over the real subprotocols of a Sec-WebSocket-Protocol
// value: every non-empty element except the bearer marker and the token
// after it, so the server never selects the token as its subprotocol.
// When none remains and the client offered the marker, answer with
// ProtocolMarker: browsers fail a connection whose offered protocols get
// no answer.
type Protocols struct {
	rest []byte
}

// ProtocolsOf returns an iterator over value's real subprotocols.
func ProtocolsOf(value []byte) Protocols { return Protocols{rest: value} }

// Next returns the next real subprotocol, or ok false at the end.
func (p *Protocols) Next() (proto []byte, ok bool) {
	for len(p.rest) > 0 {
		var el []byte
		el, p.rest = nextElement(p.rest)
		if len(el) == 0 {
			continue
		}
		if len(el) == len(ProtocolMarker) && equalFold(el, ProtocolMarker) {
			_, p.rest = nextElement(p.rest) // the token
			continue
		}
		return el, true
	}
	return nil, false
}

// nextElement cuts the first comma-separated element, trimmed.
func nextElement(s []byte) (el, rest []byte) {
	el, rest = cutByte(s, ',')
	return trimOWS(el), rest
}

// TokenCollector gathers the token of one handshake from the hooks,
// keeping the highest-precedence source and copying its token out of the
// hook's slice. Reset it for each handshake; the buffer is reused, so in
// steady state it does not allocate.
type TokenCollector struct {
	buf []byte
	src Source
	err error
}

// Reset forgets the previous handshake's token.
func (c *TokenCollector) Reset() { c.buf, c.src, c.err = c.buf[:0], SourceNone, nil }

// Header offers an Authorization header value. Non-Bearer schemes are
// ignored.
func (c *TokenCollector) Header(value []byte) {
	if tok, ok := BearerToken(value); ok {
		c.offer(SourceHeader, tok, nil)
	}
}

// Protocol offers a Sec-WebSocket-Protocol value and reports whether it
// carried the bearer marker (the server then answers with the marker when
// it selects no other subprotocol).
func (c *TokenCollector) Protocol(value []byte) (marker bool) {
	tok, ok := ProtocolToken(value)
	if ok {
		c.offer(SourceProtocol, tok, nil)
	}
	return ok
}

// Query offers the raw query string of the request URI.
func (c *TokenCollector) Query(query []byte) {
	if c.src >= SourceQuery {
		if c.src == SourceQuery {
			c.err = ErrMalformed
		}
		return
	}
	out, found, err := AppendQueryToken(c.buf[:0], query)
	if !found {
		return
	}
	c.src, c.buf, c.err = SourceQuery, out, err
	if c.err == nil && len(out) == 0 {
		c.err = ErrMalformed
	}
}

func (c *TokenCollector) offer(src Source, tok []byte, err error) {
	switch {
	case src < c.src:
		return
	case src == c.src:
		c.err = ErrMalformed // two tokens from one source: ambiguous
		return
	}
	c.src, c.err = src, err
	c.buf = append(c.buf[:0], tok...)
	if c.err == nil && len(tok) == 0 {
		c.err = ErrMalformed
	}
}

// Token returns the collected token and its source. err is ErrNoToken
// when no source carried one, ErrMalformed when the deciding source was
// malformed. The token is valid until the next Reset.
func (c *TokenCollector) Token() (token []byte, src Source, err error) {
	if c.src == SourceNone {
		return nil, SourceNone, ErrNoToken
	}
	if c.err != nil {
		return nil, c.src, c.err
	}
	return c.buf, c.src, nil
}

func cutByte(s []byte, sep byte) (before, after []byte) {
	for i, c := range s {
		if c == sep {
			return s[:i], s[i+1:]
		}
	}
	return s, nil
}

func trimOWS(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// equalFold reports whether b equals lower (ASCII lower case), ignoring
// ASCII case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
