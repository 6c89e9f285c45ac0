package sockjs

import (
	"bytes"
	"errors"
)

// Errors returned by Parser.Parse. Each maps to the HTTP status the
// server answers before closing the connection (see ErrorStatus).
var (
	// ErrHeaderTooLarge reports a request line and headers longer than
	// Parser.MaxHeader (431).
	ErrHeaderTooLarge = errors.New("sockjs: request header too large")
	// ErrBodyTooLarge reports a Content-Length over Parser.MaxBody (413).
	ErrBodyTooLarge = errors.New("sockjs: request body too large")
	// ErrMalformed reports a request that is not HTTP/1.x (400).
	ErrMalformed = errors.New("sockjs: malformed request")
	// ErrBadContentLength reports a missing, invalid or repeated
	// Content-Length with different values (400).
	ErrBadContentLength = errors.New("sockjs: bad Content-Length")
	// ErrTransferEncoding reports a Transfer-Encoding other than
	// "chunked", or one together with a Content-Length (501): refusing
	// them keeps request smuggling out.
	ErrTransferEncoding = errors.New("sockjs: unsupported Transfer-Encoding")
)

// ErrorStatus returns the HTTP status to answer for an error from Parse.
func ErrorStatus(err error) int {
	switch err {
	case ErrHeaderTooLarge:
		return 431
	case ErrBodyTooLarge:
		return 413
	case ErrTransferEncoding:
		return 501
	}
	return 400
}

// Default limits of a Parser whose fields are zero.
const (
	DefaultMaxHeader = 8 << 10
	DefaultMaxBody   = 64 << 10
)

// Request is one parsed HTTP request. Its byte slices point into the
// buffer given to Parser.Parse or into the parser's scratch buffer, and
// are valid only until the next call to Parse.
type Request struct {
	Method []byte
	// Path is the request target up to '?', not percent-decoded.
	Path []byte
	// Query is the target after '?', not decoded (see QueryValue).
	Query []byte
	// Minor is the HTTP/1.x minor version: 0 or 1.
	Minor int

	Origin            []byte
	Host              []byte
	Authorization     []byte
	Cookie            []byte
	ContentType       []byte
	IfNoneMatch       []byte
	Upgrade           []byte
	ACRequestHeaders  []byte // Access-Control-Request-Headers
	ACRequestMethod   []byte // Access-Control-Request-Method
	hasACRequestHdrs  bool
	ConnectionClose   bool // Connection: close
	ConnectionKeep    bool // Connection: keep-alive
	ConnectionUpgrade bool // Connection: upgrade
	// ContentLength is the body's declared length, 0 when absent.
	ContentLength int
	// Body is the complete body (ContentLength bytes).
	Body []byte
	// Head is the request line and headers, terminator included, for a
	// server that hands an upgrade request to a WebSocket handshake.
	Head []byte
}

// KeepAlive reports whether the connection stays open after the response:
// HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
// "Connection: keep-alive".
func (r *Request) KeepAlive() bool {
	if r.Minor == 0 {
		return r.ConnectionKeep && !r.ConnectionClose
	}
	return !r.ConnectionClose
}

// HasACRequestHeaders reports whether the request carried a non-empty
// Access-Control-Request-Headers.
func (r *Request) HasACRequestHeaders() bool {
	return r.hasACRequestHdrs && len(r.ACRequestHeaders) > 0
}

// IsMethod reports whether the request's method is m.
func (r *Request) IsMethod(m string) bool { return string(r.Method) == m }

// Parser parses HTTP/1.x requests incrementally and in place. A request
// that arrives whole in one read is parsed without copying: the Request's
// fields are sub-slices of that read (a chunked body, which sockjs-client
// sends from Node, is decoded into a buffer the parser keeps). Only a request split across reads
// is copied into the parser's scratch buffer, which grows to at most
// MaxHeader+MaxBody bytes and is dropped once the request completes, so
// an idle connection holds no buffer.
//
// A Parser is not safe for concurrent use.
type Parser struct {
	// MaxHeader bounds the request line plus headers (default 8 KiB).
	MaxHeader int
	// MaxBody bounds Content-Length (default 64 KiB).
	MaxBody int

	req     Request
	scratch []byte // bytes of an incomplete request
	// headLen and bodyLen are known once the head of a split request has
	// been parsed; 0 headLen means "not yet".
	headLen, bodyLen int
	// release is set after a request parsed from scratch was returned:
	// the next Parse drops the scratch buffer.
	release bool
	chunks  chunkState
}

// chunkedBody is the bodyLen of a request whose body is chunked.
const chunkedBody = -1

// chunkState is the progress of decoding a chunked body.
type chunkState struct {
	pos  int    // offset in the encoded body of the next unread element
	body []byte // decoded so far
	// trailers is set once the last chunk was read: only trailer lines
	// and the blank line remain.
	trailers bool
}

func (p *Parser) limits() (int, int) {
	h, b := p.MaxHeader, p.MaxBody
	if h <= 0 {
		h = DefaultMaxHeader
	}
	if b <= 0 {
		b = DefaultMaxBody
	}
	return h, b
}

// Buffered returns the number of bytes of an incomplete request held in
// the scratch buffer.
func (p *Parser) Buffered() int {
	if p.release {
		return 0
	}
	return len(p.scratch)
}

// Reset drops any partial request and the scratch buffer.
func (p *Parser) Reset() {
	p.scratch, p.headLen, p.bodyLen, p.release = nil, 0, 0, false
	p.req = Request{}
}

// Parse consumes bytes from data and returns the next complete request,
// or nil when data ends inside one (its bytes are then kept and n is
// len(data)). n is the number of bytes of data consumed; the caller
// passes data[n:] to the next call, which is how several pipelined
// requests in one read come out one by one. After an error the
// connection must be answered (ErrorStatus) and closed.
func (p *Parser) Parse(data []byte) (req *Request, n int, err error) {
	if p.release {
		p.scratch = p.scratch[:0]
		if cap(p.scratch) > 4<<10 {
			p.scratch = nil
		}
		p.release = false
	}
	maxHeader, maxBody := p.limits()
	if len(p.scratch) == 0 {
		// Empty lines between requests are ignored (RFC 9112, 2.2).
		skip := 0
		for skip < len(data) && (data[skip] == '\r' || data[skip] == '\n') {
			skip++
		}
		data = data[skip:]
		// Fast path: the whole request is in data.
		hl, bl, err := p.parseHead(data, maxHeader, maxBody)
		if err != nil {
			return nil, 0, err
		}
		if hl > 0 && bl == chunkedBody {
			p.chunks = chunkState{body: p.chunks.body[:0]}
			done, end, err := p.chunks.scan(data[hl:], maxBody)
			if err != nil {
				return nil, 0, err
			}
			if done {
				p.req.Body = p.chunks.body
				return &p.req, skip + hl + end, nil
			}
		} else if hl > 0 && hl+bl <= len(data) {
			p.req.Body = data[hl : hl+bl]
			return &p.req, skip + hl + bl, nil
		}
		p.scratch = append(p.scratch, data...)
		p.headLen, p.bodyLen = hl, bl
		return nil, skip + len(data), nil
	}
	old := len(p.scratch)
	if p.headLen > 0 && p.bodyLen == chunkedBody {
		return p.parseChunkedScratch(data, maxHeader, maxBody)
	}
	if p.headLen > 0 {
		// Head known: take only what the body still needs.
		need := p.headLen + p.bodyLen - old
		take := min(need, len(data))
		p.scratch = append(p.scratch, data[:take]...)
		if take < need {
			return nil, take, nil
		}
		// Re-parse the head: the scratch buffer may have moved.
		if _, _, err := p.parseHead(p.scratch, maxHeader, maxBody); err != nil {
			return nil, 0, err
		}
		p.req.Body = p.scratch[p.headLen:]
		p.headLen, p.bodyLen, p.release = 0, 0, true
		return &p.req, take, nil
	}
	// Head not complete yet: append at most what can still belong to it.
	take := min(len(data), maxHeader+1-old)
	if take < 0 {
		take = 0
	}
	p.scratch = append(p.scratch, data[:take]...)
	// Look for the terminator only from just before the new bytes.
	hl, bl, err := p.parseHead(p.scratch, maxHeader, maxBody)
	if err != nil {
		return nil, 0, err
	}
	if hl == 0 {
		return nil, take, nil
	}
	// The head ends inside the new bytes; drop what followed it.
	p.scratch = p.scratch[:hl]
	consumed := hl - old
	p.headLen, p.bodyLen = hl, bl
	if bl == 0 {
		p.req.Body = nil
		p.headLen, p.release = 0, true
		return &p.req, consumed, nil
	}
	if bl == chunkedBody {
		p.chunks = chunkState{body: p.chunks.body[:0]}
	}
	req, m, err := p.Parse(data[consumed:])
	return req, consumed + m, err
}

// parseChunkedScratch continues a split request with a chunked body whose
// head is in the scratch buffer.
func (p *Parser) parseChunkedScratch(data []byte, maxHeader, maxBody int) (*Request, int, error) {
	old := len(p.scratch)
	p.scratch = append(p.scratch, data...)
	done, end, err := p.chunks.scan(p.scratch[p.headLen:], maxBody)
	if err != nil {
		return nil, 0, err
	}
	if !done {
		if len(p.scratch) > maxHeader+2*maxBody+4096 {
			return nil, 0, ErrBodyTooLarge
		}
		return nil, len(data), nil
	}
	total := p.headLen + end
	p.scratch = p.scratch[:total]
	if _, _, err := p.parseHead(p.scratch, maxHeader, maxBody); err != nil {
		return nil, 0, err
	}
	p.req.Body = p.chunks.body
	p.headLen, p.bodyLen, p.release = 0, 0, true
	return &p.req, total - old, nil
}

// maxChunkLine bounds a chunk-size line (size and extensions) and a
// trailer line.
const maxChunkLine = 1024

// scan decodes the complete elements of the chunked body b from c.pos on.
// It reports whether the body ended and, if so, its encoded length.
func (c *chunkState) scan(b []byte, maxBody int) (done bool, end int, err error) {
	for {
		rest := b[c.pos:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			if len(rest) > maxChunkLine {
				return false, 0, ErrMalformed
			}
			return false, 0, nil
		}
		line := rest[:nl]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if c.trailers {
			c.pos += nl + 1
			if len(line) == 0 {
				return true, c.pos, nil
			}
			continue
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		line = trimOWS(line)
		if len(line) == 0 || len(line) > 8 {
			return false, 0, ErrMalformed
		}
		size := 0
		for _, ch := range line {
			if !isHex(ch) {
				return false, 0, ErrMalformed
			}
			size = size<<4 | int(unhex(ch))
		}
		if size == 0 {
			c.pos += nl + 1
			c.trailers = true
			continue
		}
		if len(c.body)+size > maxBody {
			return false, 0, ErrBodyTooLarge
		}
		data := rest[nl+1:]
		if len(data) < size+2 {
			return false, 0, nil
		}
		switch {
		case data[size] == '\n':
			c.pos += nl + 1 + size + 1
		case data[size] == '\r' && data[size+1] == '\n':
			c.pos += nl + 1 + size + 2
		default:
			return false, 0, ErrMalformed
		}
		c.body = append(c.body, data[:size]...)
	}
}

// headEnd returns the length of the head (through the blank line) in b,
// or 0 when it is not complete.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
		if i >= len(b) {
			return 0
		}
	}
}

// parseHead parses the request line and headers at the start of b into
// p.req and returns the head length (0 when incomplete) and the body
// length.
func (p *Parser) parseHead(b []byte, maxHeader, maxBody int) (int, int, error) {
	hl := headEnd(b)
	if hl == 0 {
		if len(b) > maxHeader {
			return 0, 0, ErrHeaderTooLarge
		}
		// A request must start with a token; refuse garbage early.
		if len(b) > 0 && !isTokenChar(b[0]) {
			return 0, 0, ErrMalformed
		}
		return 0, 0, nil
	}
	if hl > maxHeader {
		return 0, 0, ErrHeaderTooLarge
	}
	p.req = Request{Head: b[:hl]}
	r := &p.req
	line, rest := nextLine(b[:hl])
	if err := parseRequestLine(r, line); err != nil {
		return 0, 0, err
	}
	clSeen := false
	var te []byte
	for {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, 0, ErrMalformed
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		for _, c := range name {
			if !isTokenChar(c) {
				return 0, 0, ErrMalformed
			}
		}
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok || (clSeen && n != r.ContentLength) {
				return 0, 0, ErrBadContentLength
			}
			clSeen, r.ContentLength = true, n
		case equalFold(name, "transfer-encoding"):
			if te != nil {
				return 0, 0, ErrTransferEncoding
			}
			te = value
		case equalFold(name, "origin"):
			r.Origin = value
		case equalFold(name, "cookie"):
			r.Cookie = value
		case equalFold(name, "host"):
			r.Host = value
		case equalFold(name, "authorization"):
			r.Authorization = value
		case equalFold(name, "content-type"):
			r.ContentType = value
		case equalFold(name, "connection"):
			parseConnection(r, value)
		case equalFold(name, "upgrade"):
			r.Upgrade = value
		case equalFold(name, "if-none-match"):
			r.IfNoneMatch = value
		case equalFold(name, "access-control-request-headers"):
			r.ACRequestHeaders, r.hasACRequestHdrs = value, true
		case equalFold(name, "access-control-request-method"):
			r.ACRequestMethod = value
		}
	}
	if te != nil {
		if clSeen || !equalFold(te, "chunked") {
			return 0, 0, ErrTransferEncoding
		}
		return hl, chunkedBody, nil
	}
	if r.ContentLength > maxBody {
		return 0, 0, ErrBodyTooLarge
	}
	return hl, r.ContentLength, nil
}

// nextLine splits b after the first line ending (LF or CRLF) and returns
// the line without it.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func parseRequestLine(r *Request, line []byte) error {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return ErrMalformed
	}
	r.Method = line[:sp]
	for _, c := range r.Method {
		if !isTokenChar(c) {
			return ErrMalformed
		}
	}
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return ErrMalformed
	}
	target, proto := line[:sp], line[sp+1:]
	if len(proto) != 8 || string(proto[:7]) != "HTTP/1." || (proto[7] != '0' && proto[7] != '1') {
		return ErrMalformed
	}
	r.Minor = int(proto[7] - '0')
	if target[0] != '/' {
		return ErrMalformed
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return ErrMalformed
		}
	}
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		r.Path, r.Query = target[:q], target[q+1:]
	} else {
		r.Path = target
	}
	return nil
}

// parseConnection records the tokens of a Connection header.
func parseConnection(r *Request, v []byte) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = trimOWS(v[:i]), v[i+1:]
		} else {
			tok, v = trimOWS(v), nil
		}
		switch {
		case equalFold(tok, "close"):
			r.ConnectionClose = true
		case equalFold(tok, "keep-alive"):
			r.ConnectionKeep = true
		case equalFold(tok, "upgrade"):
			r.ConnectionUpgrade = true
		}
	}
}

func parseDecimal(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals the lower-case ASCII string s,
// ignoring ASCII case in b.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
