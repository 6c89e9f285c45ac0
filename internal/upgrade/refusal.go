package upgrade

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gobwas/ws"

	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/limits"
)

// Refusals of our own, beside gobwas/ws's, the token's (auth) and the
// connection maxima's (*limits.Rejection). Each carries the HTTP status
// the client gets and the reason in the response's body.
var (
	// ErrNotFound refuses a path with no endpoint: 404.
	ErrNotFound = ws.RejectConnectionError(ws.RejectionStatus(http.StatusNotFound),
		ws.RejectionReason("no WebSocket endpoint at this path"))
	// ErrBadRoom refuses a room name that is not a valid one: 400.
	ErrBadRoom = ws.RejectConnectionError(ws.RejectionStatus(http.StatusBadRequest),
		ws.RejectionReason("room name must be 1-128 characters of A-Z a-z 0-9 . _ - : @ ~"))
	// ErrOriginForbidden refuses a web page the origin policy does not
	// admit: 403.
	ErrOriginForbidden = ws.RejectConnectionError(ws.RejectionStatus(http.StatusForbidden),
		ws.RejectionReason("origin not allowed"))
	// ErrBadKey refuses a Sec-WebSocket-Key that is not base64 of 16
	// bytes: 400.
	ErrBadKey = ws.RejectConnectionError(ws.RejectionStatus(http.StatusBadRequest),
		ws.RejectionReason(`"Sec-WebSocket-Key" must be base64 of 16 bytes`))
	// ErrHeaderTooLarge refuses a request head over the limit: 431.
	ErrHeaderTooLarge = ws.RejectConnectionError(ws.RejectionStatus(http.StatusRequestHeaderFieldsTooLarge),
		ws.RejectionReason("request headers too large"))
	// ErrDraining refuses every request while the server shuts down: 503.
	ErrDraining = ws.RejectConnectionError(ws.RejectionStatus(http.StatusServiceUnavailable),
		ws.RejectionReason("shutting down"))
	// ErrRoomForbidden refuses a token that does not allow joining the
	// room the path names: 403.
	ErrRoomForbidden = ws.RejectConnectionError(ws.RejectionStatus(http.StatusForbidden),
		ws.RejectionReason("token does not allow joining this room"))
)

// AppendRefusal appends to dst the HTTP response that refuses an upgrade
// for err: its status (RefusalStatus), the headers the status calls for
// (Allow, Sec-WebSocket-Version, Retry-After, WWW-Authenticate),
// Connection: close, and RefusalText as a plain-text body. gobwas/ws
// answers a bad HTTP version with 505; RFC 6455 section 4.2.1 asks for
// 400-class answers to malformed handshakes, so the mapping is ours. It
// does not allocate.
func AppendRefusal(dst []byte, err error) []byte {
	status := RefusalStatus(err)
	reason := RefusalText(err)
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(status)...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"...)
	rej, isRej := errors.AsType[*limits.Rejection](err)
	switch {
	case status == http.StatusMethodNotAllowed:
		dst = append(dst, "Allow: GET\r\n"...)
	case status == http.StatusUpgradeRequired:
		dst = append(dst, "Sec-WebSocket-Version: 13\r\n"...)
	case isRej:
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

// RefusalStatus returns the HTTP status that refuses an upgrade for err:
// a rejection's own (ours, gobwas/ws's, the connection maxima's), 401 for
// a token, and 400 for anything else.
func RefusalStatus(err error) int {
	if lim, ok := errors.AsType[*limits.Rejection](err); ok {
		return lim.Status
	}
	switch {
	case auth.IsRejection(err):
		return http.StatusUnauthorized
	case err == ws.ErrHandshakeBadMethod:
		return http.StatusMethodNotAllowed
	case err == ws.ErrHandshakeUpgradeRequired:
		return http.StatusUpgradeRequired
	case err == ws.ErrHandshakeBadProtocol:
		return http.StatusBadRequest
	}
	if rej, ok := errors.AsType[*ws.ConnectionRejectedError](err); ok {
		return rej.StatusCode()
	}
	return http.StatusBadRequest
}

// RefusalText returns what a client refused for err is told (the
// response's body, without its final newline): a sentence of our own for
// gobwas/ws's errors, the token's reason, or err's text without its
// package prefix (ClientText).
func RefusalText(err error) string {
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
	return ClientText(err.Error())
}

// ClientText drops a Go package prefix ("limits: ", "frame: ") from an
// error's text before a client sees it, in a refusal's body or a close
// frame's reason: a client is told what happened, not where in our code.
// It slices and does not allocate.
func ClientText(s string) string {
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
