package server

import (
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

func withSockJS(c *config.Config) {
	c.SockJS.Enabled = true
	c.PingInterval, c.IdleTimeout = 0, 0
}

// TestSockJSWebSocketRoomMember: a session carried by the SockJS
// websocket transport is a room member like a plain connection.
func TestSockJSWebSocketRoomMember(t *testing.T) {
	srv := startTestServer(t, withSockJS)
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/room/r/000/abc/websocket")
	a.ExpectMessage(frame.OpText, []byte("o"))
	b := wstest.Dial(t, addr, "/room/r")
	wstest.WaitFor(t, 10*time.Second, "2 members", func() bool { return srv.hub.Count("r") == 2 })
	b.Send(true, 0, frame.OpText, []byte("hi"))
	a.ExpectMessage(frame.OpText, []byte(`a["hi"]`))
	a.Send(true, 0, frame.OpText, []byte(`["back"]`))
	b.ExpectMessage(frame.OpText, []byte("back"))
}

// TestSockJSHTTPToWebSocket: a message sent by an HTTP session reaches
// a websocket-transport session and a plain member of the room.
func TestSockJSHTTPToWebSocket(t *testing.T) {
	srv := startTestServer(t, withSockJS)
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/room/r/000/abc/websocket")
	a.ExpectMessage(frame.OpText, []byte("o"))
	b := wstest.Dial(t, addr, "/room/r")
	base := "http://" + addr + "/room/r/000/xyz"
	if got := httpDo(t, "POST", base+"/xhr", ""); got != "o\n" {
		t.Fatalf("open: %q", got)
	}
	wstest.WaitFor(t, 10*time.Second, "3 members", func() bool { return srv.hub.Count("r") == 3 })
	httpDo(t, "POST", base+"/xhr_send", `["from http"]`)
	b.ExpectMessage(frame.OpText, []byte("from http"))
	a.ExpectMessage(frame.OpText, []byte(`a["from http"]`))
}

// TestSockJSWebSocketSendThenReceive: a websocket-transport session that
// has published still receives.
func TestSockJSWebSocketSendThenReceive(t *testing.T) {
	srv := startTestServer(t, withSockJS)
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/room/r/000/abc/websocket")
	a.ExpectMessage(frame.OpText, []byte("o"))
	b := wstest.Dial(t, addr, "/room/r")
	wstest.WaitFor(t, 10*time.Second, "2 members", func() bool { return srv.hub.Count("r") == 2 })
	a.Send(true, 0, frame.OpText, []byte(`["first"]`))
	b.ExpectMessage(frame.OpText, []byte("first"))
	b.Send(true, 0, frame.OpText, []byte("reply"))
	a.ExpectMessage(frame.OpText, []byte(`a["reply"]`))
}
