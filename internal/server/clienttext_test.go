package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// goPrefix matches a Go package prefix at the start of a text ("server: ",
// "frame: "), which a client has no use for.
var goPrefix = regexp.MustCompile(`^[a-z]+: `)

// TestClientTextsHaveNoPackagePrefix sends requests the server refuses and
// frames it fails, over real sockets, and checks that neither the HTTP
// bodies nor the close reasons start with a Go package name.
func TestClientTextsHaveNoPackagePrefix(t *testing.T) {
	srv, addr := startServer(t, func(c *config.Config) {
		c.Origins = []string{"https://app.example.com"}
		c.MaxMessage = 16
	})
	key := wstest.NewKey()
	for _, tc := range []struct {
		name   string
		req    []byte
		status int
	}{
		{"unknown path", wstest.Request(addr, "/nowhere", key), http.StatusNotFound},
		{"origin", wstest.Request(addr, "/echo", key, "Origin: https://evil.example"), http.StatusForbidden},
		{"bad key", wstest.Request(addr, "/echo", "c2hvcnQ="), http.StatusBadRequest},
		{"bad room", wstest.Request(addr, "/room/a%20b", key), http.StatusBadRequest},
		{"method", []byte("POST /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"), http.StatusMethodNotAllowed},
		{"version", []byte("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 8\r\n\r\n"), http.StatusUpgradeRequired},
	} {
		resp, body := rawRoundTrip(t, addr, tc.req)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d (body %q)", tc.name, resp.StatusCode, tc.status, body)
		}
		if body == "" || goPrefix.MatchString(body) {
			t.Errorf("%s: body %q is empty or starts with a Go package name", tc.name, body)
		}
	}

	for _, tc := range []struct {
		name    string
		payload []byte
		op      frame.Opcode
		code    frame.CloseCode
	}{
		{"invalid UTF-8", []byte{0xff, 0xfe}, frame.OpText, frame.CloseInvalidPayload},
		{"too big", make([]byte, 17), frame.OpBinary, frame.CloseMessageTooBig},
	} {
		c, err := wstest.Connect(addr, "/echo")
		if err != nil {
			t.Fatalf("%s: connect: %v", tc.name, err)
		}
		c.Bind(t)
		if err := c.WriteMessage(tc.op, tc.payload); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		code, reason, err := c.ReadClose()
		if err != nil {
			t.Fatalf("%s: reading the close frame: %v", tc.name, err)
		}
		if code != tc.code || reason == "" || goPrefix.MatchString(reason) {
			t.Errorf("%s: close %d %q; want %d with a reason that does not start with a Go package name", tc.name, code, reason, tc.code)
		}
		c.Close()
	}

	// The admin API's JSON errors: a body that is not the expected JSON.
	resp, err := http.Post("http://"+srv.AdminAddr().String()+"/api/publish", "application/json", strings.NewReader(`{"room": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("publish with a bad body: status %d, decode %v", resp.StatusCode, err)
	}
	if strings.Contains(e.Error, "json: ") || strings.Contains(e.Error, "Go ") || !strings.Contains(e.Error, "room") {
		t.Errorf("publish error %q quotes Go names or does not name the field", e.Error)
	}
}
