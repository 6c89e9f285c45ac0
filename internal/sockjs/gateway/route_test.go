package gateway

import (
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/protocol"
)

func testGateway() *Gateway {
	var echo protocol.Protocol = closeProtocol{}
	eps := append([]Endpoint{
		{Path: "/echo", Proto: echo, MaxMessage: 1 << 10},
		{Path: "/room/", Prefix: true, Proto: echo, MaxMessage: 1 << 10},
	}, SuiteEndpoints(echo)...)
	return New(Config{Tick: 10 * time.Millisecond, Loops: 1}, nil, eps)
}

func head(method, target string, upgrade bool) []byte {
	h := method + " " + target + " HTTP/1.1\r\nHost: a\r\n"
	if upgrade {
		h += "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	}
	return []byte(h + "\r\n")
}

// TestDiverts: requests under SockJS paths are the gateway's, but for
// the upgrades the server's handshake takes (the endpoint's own
// WebSocket, the websocket transports that are on).
func TestDiverts(t *testing.T) {
	g := testGateway()
	cases := []struct {
		req  []byte
		want bool
	}{
		{head("GET", "/echo/info?t=1", false), true},
		{head("POST", "/echo/000/abc/xhr_streaming", false), true},
		{head("GET", "/echo", false), true}, // the greeting
		{head("GET", "/echo", true), false}, // the endpoint's own WebSocket
		{head("GET", "/echo/websocket", true), false},
		{head("GET", "/echo/000/abc/websocket", true), false},
		{head("GET", "/echo/000/abc/websocket", false), true}, // not an upgrade: SockJS answers 400
		{head("GET", "/disabled_websocket_echo/000/abc/websocket", true), true},
		{head("GET", "/room/chat/info", false), true},
		{head("GET", "/room/b%20d/info", false), false},
		{head("GET", "/other/info", false), false},
		{[]byte("garbage\r\n\r\n"), false},
	}
	for _, c := range cases {
		if got := g.Diverts(c.req); got != c.want {
			t.Errorf("Diverts(%q) = %v, want %v", c.req, got, c.want)
		}
	}
}

func TestWebSocketRoute(t *testing.T) {
	g := testGateway()
	cases := []struct {
		path string
		i    int
		twin bool
		room string
		ok   bool
	}{
		{"/echo/websocket", 0, false, "", true},
		{"/echo/000/abc/websocket", 0, true, "", true},
		{"/room/chat/000/abc/websocket", 1, true, "chat", true},
		{"/room/chat/websocket", 1, false, "chat", true},
		{"/close/000/abc/websocket", 2, true, "", true},
		{"/disabled_websocket_echo/000/abc/websocket", 0, false, "", false},
		{"/echo/000/abc/xhr", 0, false, "", false},
		{"/echo", 0, false, "", false},
	}
	for _, c := range cases {
		i, twin, room, ok := g.WebSocketRoute([]byte(c.path))
		if i != c.i || twin != c.twin || string(room) != c.room || ok != c.ok {
			t.Errorf("WebSocketRoute(%q) = %d %v %q %v, want %d %v %q %v", c.path, i, twin, room, ok, c.i, c.twin, c.room, c.ok)
		}
	}
	if g.WebSocket(0) == nil || g.WebSocket(3) != nil {
		t.Error("WebSocket: a twin for /echo, none for disabled_websocket_echo")
	}
}
