package upgrade

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/limits"
)

// TestAppendRefusal renders each kind of refusal and compares the whole
// response, byte for byte.
func TestAppendRefusal(t *testing.T) {
	const head = "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
	for _, tc := range []struct {
		err    error
		status string
		extra  string // header lines between Connection and Content-Length
		text   string
	}{
		{ErrNotFound, "404 Not Found", "", "no WebSocket endpoint at this path"},
		{ErrHeaderTooLarge, "431 Request Header Fields Too Large", "", "request headers too large"},
		{ErrDraining, "503 Service Unavailable", "Retry-After: 5\r\n", "shutting down"},
		{ErrRoomForbidden, "403 Forbidden", "", "token does not allow joining this room"},
		{ws.ErrHandshakeBadMethod, "405 Method Not Allowed", "Allow: GET\r\n", "method must be GET"},
		{ws.ErrHandshakeUpgradeRequired, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version must be 13"},
		{ws.ErrHandshakeBadProtocol, "400 Bad Request", "", "HTTP/1.1 or later is required"},
		{ws.ErrHandshakeBadSecVersion, "400 Bad Request", "", "Sec-WebSocket-Version header missing"},
		{ws.ErrHandshakeBadSecKey, "400 Bad Request", "", "Sec-WebSocket-Key missing or malformed"},
		{ws.ErrHandshakeBadHost, "400 Bad Request", "", "Host header missing"},
		{ws.ErrMalformedRequest, "400 Bad Request", "", "malformed request"},
		{io.ErrUnexpectedEOF, "400 Bad Request", "", "malformed request"},
		{auth.ErrNoToken, "401 Unauthorized", "WWW-Authenticate: Bearer\r\n", "no token"},
		{fmt.Errorf("verify: %w", auth.ErrSignature), "401 Unauthorized", "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n", "bad signature"},
		{limits.NewRejection(limits.ErrTooManyIPConns, http.StatusTooManyRequests, 7), "429 Too Many Requests", "Retry-After: 7\r\n",
			"too many connections from this address"},
		{limits.NewRejection(limits.ErrTooManyConns, http.StatusServiceUnavailable, 2), "503 Service Unavailable", "Retry-After: 2\r\n",
			"too many connections"},
		{errors.New("something: went wrong"), "400 Bad Request", "", "went wrong"},
	} {
		want := "HTTP/1.1 " + tc.status + "\r\n" + head + tc.extra +
			"Content-Length: " + strconv.Itoa(len(tc.text)+1) + "\r\n\r\n" + tc.text + "\n"
		if got := string(AppendRefusal([]byte("prefix|"), tc.err)); got != "prefix|"+want {
			t.Errorf("%v:\n%q\nwant\n%q", tc.err, got, "prefix|"+want)
		}
		if got := RefusalText(tc.err); got != tc.text {
			t.Errorf("RefusalText(%v) = %q, want %q", tc.err, got, tc.text)
		}
		if got := strconv.Itoa(RefusalStatus(tc.err)); got != tc.status[:3] {
			t.Errorf("RefusalStatus(%v) = %s, want %s", tc.err, got, tc.status[:3])
		}
	}
}

func TestClientText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"limits: too many connections", "too many connections"},
		{"frame: invalid UTF-8", "invalid UTF-8"},
		{"no prefix here", "no prefix here"},
		{"Upper: not a package", "Upper: not a package"},
		{": empty prefix", ": empty prefix"},
		{`"Sec-WebSocket-Key" must be base64: x`, `"Sec-WebSocket-Key" must be base64: x`},
		{"", ""},
	} {
		if got := ClientText(tc.in); got != tc.want {
			t.Errorf("ClientText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
