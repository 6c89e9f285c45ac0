package wsclient

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wsgate/wsgate/frame/deflate"
)

// Handshake errors. A rejected upgrade is a *StatusError.
var (
	ErrBadResponse  = errors.New("loadtest: malformed handshake response")
	ErrBadAccept    = errors.New("loadtest: wrong Sec-WebSocket-Accept")
	ErrHeaderTooBig = errors.New("loadtest: handshake response header too large")
	ErrBadExtension = errors.New("loadtest: server answered an extension that was not offered")
)

// maxResponseHeader bounds the bytes read before the handshake response ends.
const maxResponseHeader = 8 << 10

// StatusError is an upgrade (or a publish request) answered with a status
// other than the one wanted.
type StatusError struct {
	Code       int
	RetryAfter string // the Retry-After header, when the server sent one
	Body       string // the start of the response body: often the server's reason
}

// Error says what the server answered, with its Retry-After and reason.
func (e *StatusError) Error() string {
	s := "loadtest: server answered HTTP " + strconv.Itoa(e.Code)
	if t := http.StatusText(e.Code); t != "" {
		s += " " + t
	}
	if e.RetryAfter != "" {
		s += " (Retry-After: " + e.RetryAfter + ")"
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Kind names the status as a failure kind: http_429_too_many_requests,
// http_503_service_unavailable, or http_NNN for a status without a name.
func (e *StatusError) Kind() string {
	k := "http_" + strconv.Itoa(e.Code)
	if t := http.StatusText(e.Code); t != "" {
		k += "_" + strings.Map(func(r rune) rune {
			switch {
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				return r
			case r == ' ' || r == '-':
				return '_'
			}
			return -1
		}, t)
	}
	return k
}

// maxBodyExample bounds the response body kept in a StatusError.
const maxBodyExample = 160

// rejected builds the StatusError of a non-101 response whose head ends at
// end in b (the rest of b is whatever body bytes arrived with it).
func rejected(code int, headers, body []byte) *StatusError {
	e := &StatusError{Code: code}
	for len(headers) > 0 {
		line := headers
		if i := bytes.Index(headers, []byte("\r\n")); i >= 0 {
			line, headers = headers[:i], headers[i+2:]
		} else {
			headers = nil
		}
		if name, val, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(name), "Retry-After") {
			e.RetryAfter = string(bytes.TrimSpace(val))
		}
	}
	if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
		body = body[:i]
	}
	body = bytes.TrimSpace(body[:min(len(body), maxBodyExample)])
	e.Body = strings.ToValidUTF8(string(body), "?")
	return e
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Target is one parsed ws:// or wss:// URL.
type Target struct {
	URL  string
	Addr string // host:port to dial
	Host string // Host header value
	Path string // request target with query
	TLS  bool
	// SockJS, when set, is the SockJS transport to use instead of a
	// WebSocket upgrade (Path is then the SockJS endpoint's base path).
	SockJS string
}

// ParseTarget parses a ws:// or wss:// URL. path, when not empty, replaces
// the URL's path.
func ParseTarget(raw, path string) (*Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	t := &Target{URL: raw, Host: u.Host, Path: u.RequestURI()}
	switch u.Scheme {
	case "ws", "http":
	case "wss", "https":
		t.TLS = true
	default:
		return nil, errors.New("loadtest: target must be ws:// or wss://: " + raw)
	}
	if path != "" {
		t.Path = path
	}
	t.Addr = u.Host
	if u.Port() == "" {
		if t.TLS {
			t.Addr += ":443"
		} else {
			t.Addr += ":80"
		}
	}
	return t, nil
}

// appendRequest appends the upgrade request with key (24 base64 chars) and,
// when offerDeflate is set, a permessage-deflate offer without context
// takeover both ways.
func (t *Target) appendRequest(dst []byte, key []byte, offerDeflate bool) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, t.Path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, t.Host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nUser-Agent: wsload\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	if offerDeflate {
		dst = append(dst, "\r\nSec-WebSocket-Extensions: "...)
		dst = deflate.AppendOffer(dst, offerParams)
	}
	return append(dst, "\r\n\r\n"...)
}

// offerParams is the permessage-deflate offer: stateless both ways, so that
// nothing is held per connection and Compress/Decompress apply per message.
var offerParams = deflate.Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true}

// makeKey fills key (24 bytes) with a random base64 key from r and accept
// (28 bytes) with the expected Sec-WebSocket-Accept.
func makeKey(r *Rand, key *[24]byte, accept *[28]byte) {
	var raw [16]byte
	a, b := r.Next(), r.Next()
	for i := 0; i < 8; i++ {
		raw[i] = byte(a >> (8 * i))
		raw[8+i] = byte(b >> (8 * i))
	}
	base64.StdEncoding.Encode(key[:], raw[:])
	computeAccept(key[:], accept)
}

func computeAccept(key []byte, accept *[28]byte) {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(wsGUID))
	var sum [20]byte
	base64.StdEncoding.Encode(accept[:], h.Sum(sum[:0]))
}

// response is what parseResponse extracted.
type response struct {
	deflate    bool
	clientBits int // client_max_window_bits the server asked for; 0 = 15
	header     int // bytes of the header block including the blank line
}

// parseResponse parses a complete response head in b (which contains
// "\r\n\r\n"). It checks the status, Upgrade, and Sec-WebSocket-Accept.
func parseResponse(b []byte, accept *[28]byte, offered bool) (response, error) {
	var r response
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return r, ErrBadResponse
	}
	r.header = end + 4
	lines := b[:end]
	nl := bytes.Index(lines, []byte("\r\n"))
	status := lines
	if nl >= 0 {
		status, lines = lines[:nl], lines[nl+2:]
	} else {
		lines = nil
	}
	// "HTTP/1.1 101 Switching Protocols"
	if len(status) < 12 || !bytes.HasPrefix(status, []byte("HTTP/1.")) || status[8] != ' ' {
		return r, ErrBadResponse
	}
	code, err := strconv.Atoi(string(status[9:12]))
	if err != nil {
		return r, ErrBadResponse
	}
	if code != 101 {
		return r, rejected(code, lines, b[r.header:])
	}
	gotAccept := false
	for len(lines) > 0 {
		var line []byte
		if i := bytes.Index(lines, []byte("\r\n")); i >= 0 {
			line, lines = lines[:i], lines[i+2:]
		} else {
			line, lines = lines, nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return r, ErrBadResponse
		}
		name := string(line[:colon])
		val := bytes.TrimSpace(line[colon+1:])
		switch {
		case strings.EqualFold(name, "Sec-WebSocket-Accept"):
			if !bytes.Equal(val, accept[:]) {
				return r, ErrBadAccept
			}
			gotAccept = true
		case strings.EqualFold(name, "Sec-WebSocket-Extensions"):
			if !offered {
				return r, ErrBadExtension
			}
			p, err := deflate.ParseResponse(val)
			if err == nil {
				err = deflate.ValidateResponse(offerParams, p)
			}
			if err != nil {
				return r, err
			}
			r.deflate, r.clientBits = true, p.ClientMaxWindowBits
		}
	}
	if !gotAccept {
		return r, ErrBadAccept
	}
	return r, nil
}
