package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gobwas/ws"

	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/limits"
)

// Handshake rejections of our own, beside gobwas/ws's. Each carries the
// HTTP status the client gets.
var (
	errNotFound = ws.RejectConnectionError(ws.RejectionStatus(http.StatusNotFound),
		ws.RejectionReason("no WebSocket endpoint at this path"))
	errOriginForbidden = ws.RejectConnectionError(ws.RejectionStatus(http.StatusForbidden),
		ws.RejectionReason("origin not allowed"))
	errBadKey = ws.RejectConnectionError(ws.RejectionStatus(http.StatusBadRequest),
		ws.RejectionReason(`"Sec-WebSocket-Key" must be base64 of 16 bytes`))
	errHeaderTooLarge = ws.RejectConnectionError(ws.RejectionStatus(http.StatusRequestHeaderFieldsTooLarge),
		ws.RejectionReason("request headers too large"))
	errDraining = ws.RejectConnectionError(ws.RejectionStatus(http.StatusServiceUnavailable),
		ws.RejectionReason("shutting down"))
	errRoomForbidden = ws.RejectConnectionError(ws.RejectionStatus(http.StatusForbidden),
		ws.RejectionReason("token does not allow joining this room"))
)

var errBadRoom = ws.RejectConnectionError(ws.RejectionStatus(http.StatusBadRequest),
	ws.RejectionReason("room name must be 1-128 characters of A-Z a-z 0-9 . _ - : @ ~"))

// handshake parses one upgrade request with gobwas/ws's Upgrader. Objects
// are pooled and reused, so their hooks (closures over the object) are
// built once, and parsing allocates nothing in steady state.
type handshake struct {
	srv  *Server
	up   ws.Upgrader
	rd   bytes.Reader
	out  []byte // the response gobwas writes, captured
	req  []byte // the raw request being parsed
	kind endpointKind
	neg  deflate.Negotiator
	// room and user are copied out of gobwas/ws's read buffer, which goes
	// back to its pool when Upgrade returns; the arrays are reused.
	room []byte // room name from the path
	user []byte // user id from ?user= in dev mode, or the token's subject
	// Security: the token found in the request, the Origin and Host
	// headers (checked once all headers are in), the verified identity,
	// the source address, and whether admit counted the connection.
	tok     auth.TokenCollector
	origin  []byte
	host    []byte
	id      *auth.Identity
	ip      netip.Addr
	counted bool
	userID  string // h.user as a string, made once by admit
	bearer  bool   // the client offered the "bearer" subprotocol marker
}

func newHandshake(s *Server) *handshake {
	h := &handshake{srv: s, out: make([]byte, 0, 256)}
	h.up = ws.Upgrader{
		ReadBufferSize:  s.cfg.MaxHeader + 64,
		WriteBufferSize: 512,
		OnRequest:       h.onRequest,
		OnHeader:        h.onHeader,
		OnHost:          h.onHost,
		OnBeforeUpgrade: h.onBeforeUpgrade,
	}
	h.up.ProtocolCustom = h.selectProtocol
	if s.cfg.Deflate {
		h.up.ExtensionCustom = h.onExtensions
	}
	return h
}

// Read and Write make handshake the io.ReadWriter gobwas/ws works on.
func (h *handshake) Read(p []byte) (int, error) { return h.rd.Read(p) }

func (h *handshake) Write(p []byte) (int, error) {
	h.out = append(h.out, p...)
	return len(p), nil
}

func (h *handshake) onRequest(uri []byte) error {
	path, query := uri, []byte(nil)
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	if h.srv.cfg.DevMode {
		h.user = append(h.user[:0], queryValue(query, "user")...)
	}
	h.tok.Query(query)
	if sj := h.srv.sj; sj != nil {
		if k, room, ok := sj.wsRoute(path); ok {
			h.kind, h.room = k, append(h.room[:0], room...)
			return nil
		}
	}
	for i := range h.srv.endpoints {
		e := &h.srv.endpoints[i]
		if e.prefix {
			if name, ok := bytes.CutPrefix(path, []byte(e.path)); ok {
				if !hub.ValidName(string(name)) {
					return errBadRoom
				}
				h.kind, h.room = endpointKind(i+1), append(h.room[:0], name...)
				return nil
			}
			continue
		}
		if string(path) == e.path {
			h.kind = endpointKind(i + 1)
			return nil
		}
	}
	return errNotFound
}

// queryValue returns the raw value of the first key=value pair named key.
// Values are used as identifiers only, so they are not unescaped; a value
// that is not a valid name is ignored.
func queryValue(query []byte, key string) []byte {
	for len(query) > 0 {
		var pair []byte
		pair, query, _ = bytes.Cut(query, []byte("&"))
		if k, v, ok := bytes.Cut(pair, []byte("=")); ok && string(k) == key && hub.ValidName(string(v)) {
			return v
		}
	}
	return nil
}

func (h *handshake) onHeader(key, value []byte) error {
	switch {
	case bytes.EqualFold(key, []byte("Origin")):
		h.origin = append(h.origin[:0], value...)
	case bytes.EqualFold(key, []byte("Authorization")):
		h.tok.Header(value)
	}
	return nil
}

func (h *handshake) onHost(host []byte) error {
	h.host = append(h.host[:0], host...)
	return nil
}

// selectProtocol reads a Sec-WebSocket-Protocol header: a "bearer, TOKEN"
// pair carries the token (never selected); of the rest, the first the
// server speaks is selected. A client that sent only the bearer pair gets
// "bearer" back, since browsers fail a connection whose offered
// subprotocols all go unanswered.
func (h *handshake) selectProtocol(v []byte) (string, bool) {
	if h.tok.Protocol(v) {
		h.bearer = true
	}
	if h.kind != 0 {
		if own := h.srv.endpoints[h.kind-1].subprotos; own != nil {
			return chooseOwn(v, own), true
		}
	}
	ps := auth.ProtocolsOf(v)
	for {
		p, ok := ps.Next()
		if !ok {
			break
		}
		for _, sp := range h.srv.cfg.Subprotocols {
			if string(p) == sp {
				return sp, true
			}
		}
	}
	return "", true
}

// onBeforeUpgrade checks what gobwas/ws leaves unchecked: the key must be
// base64 of exactly 16 bytes (gobwas/ws checks only its length).
func (h *handshake) onBeforeUpgrade() (ws.HandshakeHeader, error) {
	key := headerValue(h.req, "sec-websocket-key")
	var dec [18]byte
	n, err := base64.StdEncoding.Decode(dec[:], key)
	if err != nil || n != 16 {
		return nil, errBadKey
	}
	if !h.srv.originAllowed(h.origin, h.host) {
		return nil, errOriginForbidden
	}
	return nil, h.admit()
}

// upgraded is what a successful handshake decided about the connection.
type upgraded struct {
	// resp is the 101 response; it aliases the handshake object, so it
	// must be written before the object goes back to its pool.
	resp    []byte
	kind    endpointKind
	room    string         // from a prefix endpoint's path
	user    string         // the token's subject, or ?user= in dev mode
	id      *auth.Identity // nil for anonymous clients
	counted bool           // admitted by the connection counter: release it at close
	deflate deflate.Params
	dflOK   bool // permessage-deflate was negotiated
	// subproto is the subprotocol selected from the endpoint's own list.
	subproto string
}

// upgrade parses req (a complete request ending in CRLFCRLF). On success
// it returns what the handshake decided, the 101 response included;
// otherwise the error response (aliasing h) and the rejection.
func (h *handshake) upgrade(req []byte) (upgraded, []byte, error) {
	h.req = req
	h.out = h.out[:0]
	if err := checkRequestHead(req); err != nil {
		return upgraded{}, appendRejection(h.out, err), err
	}
	h.kind = 0
	h.room, h.user = h.room[:0], h.user[:0]
	h.origin, h.host = h.origin[:0], h.host[:0]
	h.tok.Reset()
	h.id, h.counted, h.bearer, h.userID = nil, false, false, ""
	h.neg.Reset(&h.srv.dflOpts)
	h.rd.Reset(req)
	hs, err := h.up.Upgrade(h)
	if err != nil {
		if h.counted { // a hook after admit failed: undo the count
			h.srv.guard.counter.Release(h.userID, h.ip)
			h.counted = false
		}
		return upgraded{}, appendRejection(h.out[:0], err), err
	}
	if hs.Protocol == "" && h.bearer {
		h.out = appendProtocolHeader(h.out, auth.ProtocolMarker)
	}
	u := upgraded{kind: h.kind, id: h.id, counted: h.counted, user: h.userID, subproto: hs.Protocol}
	if h.srv.endpoints[h.kind-1].subprotos == nil {
		u.subproto = "" // the server-wide list: nothing for the protocol to know
	}
	if len(h.room) > 0 {
		u.room = string(h.room)
	}
	if p, ok := h.neg.Accepted(); ok && h.srv.cfg.Deflate {
		h.out = appendExtensionHeader(h.out, p)
		u.deflate, u.dflOK = p, true
	}
	u.resp = h.out
	return u, nil, nil
}

// appendRejection writes our own HTTP error response for err. gobwas/ws
// answers a bad HTTP version with 505; RFC 6455 section 4.2.1 asks for
// 400-class answers to malformed handshakes, so the mapping is ours.
func appendRejection(dst []byte, err error) []byte {
	status := rejectionStatus(err)
	reason := rejectionText(err)
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(status)...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"...)
	var rej *limits.Rejection
	switch {
	case status == http.StatusMethodNotAllowed:
		dst = append(dst, "Allow: GET\r\n"...)
	case status == http.StatusUpgradeRequired:
		dst = append(dst, "Sec-WebSocket-Version: 13\r\n"...)
	case errors.As(err, &rej):
		dst = append(dst, "Retry-After: "...)
		dst = append(dst, rej.RetryAfterText()...)
		dst = append(dst, "\r\n"...)
	case status == http.StatusServiceUnavailable:
		dst = append(dst, "Retry-After: 5\r\n"...)
	case status == http.StatusUnauthorized:
		dst = append(dst, "WWW-Authenticate: "...)
		dst = append(dst, auth.Challenge(err)...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(reason)+1), 10)
	dst = append(dst, "\r\n\r\n"...)
	dst = append(dst, reason...)
	return append(dst, '\n')
}

// rejectionStatus maps a handshake error to the HTTP status we answer.
func rejectionStatus(err error) int {
	var rej *ws.ConnectionRejectedError
	var lim *limits.Rejection
	switch {
	case errors.As(err, &lim):
		return lim.Status
	case auth.IsRejection(err):
		return http.StatusUnauthorized
	case err == ws.ErrHandshakeBadMethod:
		return http.StatusMethodNotAllowed
	case err == ws.ErrHandshakeUpgradeRequired:
		return http.StatusUpgradeRequired
	case err == ws.ErrHandshakeBadProtocol:
		return http.StatusBadRequest
	case errors.As(err, &rej):
		return rej.StatusCode()
	}
	return http.StatusBadRequest
}

func rejectionText(err error) string {
	switch err {
	case ws.ErrHandshakeBadProtocol:
		return "HTTP/1.1 or later is required"
	case ws.ErrHandshakeBadMethod:
		return "method must be GET"
	case ws.ErrHandshakeUpgradeRequired:
		return "Sec-WebSocket-Version must be 13"
	case ws.ErrHandshakeBadSecVersion:
		return "Sec-WebSocket-Version header missing"
	case ws.ErrHandshakeBadUpgrade:
		return "Upgrade header must be websocket"
	case ws.ErrHandshakeBadConnection:
		return "Connection header must include upgrade"
	case ws.ErrHandshakeBadSecKey:
		return "Sec-WebSocket-Key missing or malformed"
	case ws.ErrHandshakeBadHost:
		return "Host header missing"
	case ws.ErrMalformedRequest:
		return "malformed request"
	case io.EOF, io.ErrUnexpectedEOF:
		return "malformed request"
	}
	if auth.IsRejection(err) {
		return auth.Reason(err) // "token expired", "bad signature", ...
	}
	return clientText(err.Error())
}

// clientText drops a Go package prefix ("limits: ", "frame: ") from an
// error's text before a client sees it: a client is told what happened,
// not where in our code. It slices and does not allocate.
func clientText(s string) string {
	i := strings.Index(s, ": ")
	if i <= 0 {
		return s
	}
	for j := 0; j < i; j++ {
		if c := s[j]; c < 'a' || c > 'z' {
			return s
		}
	}
	return s[i+2:]
}

// headerValue returns the trimmed value of the first header named name
// (lower case) in a raw request, or nil.
func headerValue(req []byte, name string) []byte {
	for len(req) > 0 {
		i := bytes.Index(req, []byte("\r\n"))
		if i < 0 {
			return nil
		}
		line := req[:i]
		req = req[i+2:]
		colon := bytes.IndexByte(line, ':')
		if colon != len(name) || !bytes.EqualFold(line[:colon], []byte(name)) {
			continue
		}
		return bytes.TrimSpace(line[colon+1:])
	}
	return nil
}

// appendProtocolHeader adds a Sec-WebSocket-Protocol header to a 101
// response (which ends in CRLFCRLF).
func appendProtocolHeader(resp []byte, proto string) []byte {
	if len(resp) < 2 {
		return resp
	}
	resp = resp[:len(resp)-2]
	resp = append(resp, "Sec-WebSocket-Protocol: "...)
	resp = append(resp, proto...)
	return append(resp, "\r\n\r\n"...)
}

// originAllowed checks the request's Origin: requests without one (not
// from a browser) pass; with an allow-list configured the origin must
// match it; without one (and outside dev mode) only a page from the same
// host may connect.
func (s *Server) originAllowed(origin, host []byte) bool {
	if len(origin) == 0 || s.cfg.DevMode {
		return true
	}
	if len(s.cfg.Origins) > 0 {
		return s.origins.Allowed(origin)
	}
	_, rest, ok := bytes.Cut(origin, []byte("://"))
	return ok && len(host) > 0 && bytes.EqualFold(rest, host)
}
