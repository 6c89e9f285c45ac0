package server_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
	"github.com/wsgate/wsgate/internal/stomp"
	"github.com/wsgate/wsgate/internal/wstest"
)

// adminPost posts body to the admin API and returns the status.
func adminPost(tb testing.TB, srvAdmin, path, body string) int {
	tb.Helper()
	resp, err := http.Post("http://"+srvAdmin+path, "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestStompTopicsAcrossEndpoints: a STOMP subscription of /topic/chat.a
// gets what STOMP clients, /room members, /ws members and the admin API
// publish to room chat.a, with the body mapping the README gives; /room
// and /ws members get a STOMP SEND.
func TestStompTopicsAcrossEndpoints(t *testing.T) {
	srv, addr := startServer(t, nil)
	sub, connected := connectStomp(t, addr)
	if connected.hdr["version"] != "1.2" || connected.hdr["session"] == "" || connected.hdr["server"] == "" || connected.hdr["heart-beat"] != "10000,10000" {
		t.Fatalf("CONNECTED %v", connected)
	}
	sub.subscribe("s1", "/topic/chat/a") // "/" in a topic is "." in the room
	pub, _ := connectStomp(t, addr)
	room, err := wstest.Connect(addr, "/room/chat.a")
	if err != nil {
		t.Fatal(err)
	}
	defer room.Close()
	mux, err := wstest.Connect(addr, "/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	mux.WriteMessage(frame.OpText, []byte(`{"type":"join","room":"chat.a","id":1}`))
	if _, m, err := mux.ReadMessage(); err != nil || !bytes.Contains(m, []byte("joined")) {
		t.Fatalf("join: %s %v", m, err)
	}

	check := func(what string, f stompFrame, ctype string, op frame.Opcode, body []byte) {
		t.Helper()
		if f.cmd != stomp.CmdMessage || f.hdr["destination"] != "/topic/chat/a" || f.hdr["subscription"] != "s1" ||
			f.hdr["message-id"] == "" || f.hdr["content-type"] != ctype || f.op != op || !bytes.Equal(f.body, body) {
			t.Fatalf("%s: got %v (op %v), want content-type %s op %v body %q", what, f, f.op, ctype, op, body)
		}
	}

	// STOMP SEND, text: every endpoint gets it.
	pub.send(stomp.CmdSend, []byte("hello"), "destination", "/topic/chat.a", "receipt", "p1")
	pub.expectReceipt("p1")
	check("stomp text", sub.next(), "text/plain;charset=UTF-8", frame.OpText, []byte("hello"))
	if op, m, err := room.ReadMessage(); err != nil || op != frame.OpText || string(m) != "hello" {
		t.Fatalf("/room got %v %q %v", op, m, err)
	}
	if _, m, err := mux.ReadMessage(); err != nil || !bytes.Contains(m, []byte(`"data":"hello"`)) {
		t.Fatalf("/ws got %q %v", m, err)
	}

	// STOMP SEND, JSON.
	pub.send(stomp.CmdSend, []byte(`{"x":1}`), "destination", "/topic/chat.a", "content-type", "application/json")
	check("stomp json", sub.next(), "application/json", frame.OpText, []byte(`{"x":1}`))
	room.ReadMessage()
	if _, m, err := mux.ReadMessage(); err != nil || !bytes.Contains(m, []byte(`"data":{"x":1}`)) {
		t.Fatalf("/ws got %q %v", m, err)
	}

	// STOMP SEND, binary with NULs and invalid UTF-8.
	bin := []byte{0, 1, 0xff, 0, 'a', 0}
	pub.send(stomp.CmdSend, bin, "destination", "/topic/chat.a", "content-type", "application/octet-stream")
	check("stomp binary", sub.next(), "application/octet-stream", frame.OpBinary, bin)
	if op, m, err := room.ReadMessage(); err != nil || op != frame.OpBinary || !bytes.Equal(m, bin) {
		t.Fatalf("/room got %v %q %v", op, m, err)
	}
	if _, m, err := mux.ReadMessage(); err != nil || !bytes.Contains(m, []byte(base64.StdEncoding.EncodeToString(bin))) {
		t.Fatalf("/ws got %q %v", m, err)
	}

	// A /room member, a /ws member and the admin API publish.
	room.WriteMessage(frame.OpText, []byte("from room"))
	check("room", sub.next(), "text/plain;charset=UTF-8", frame.OpText, []byte("from room"))
	mux.ReadMessage()
	mux.WriteMessage(frame.OpText, []byte(`{"type":"publish","room":"chat.a","data":[1,2]}`))
	check("ws", sub.next(), "application/json", frame.OpText, []byte(`[1,2]`))
	room.ReadMessage()
	if st := adminPost(t, srv.AdminAddr().String(), "/api/publish", `{"room":"chat.a","payload":"AAEC","binary":true}`); st != 200 {
		t.Fatalf("admin publish: %d", st)
	}
	check("admin", sub.next(), "application/octet-stream", frame.OpBinary, []byte{0, 1, 2})

	// UNSUBSCRIBE: the receipt, then nothing more from the topic.
	sub.send(stomp.CmdUnsubscribe, nil, "id", "s1", "receipt", "u1")
	sub.expectReceipt("u1")
	pub.send(stomp.CmdSend, []byte("after"), "destination", "/topic/chat.a")
	sub.subscribe("marker", "/topic/other")
	pub.send(stomp.CmdSend, []byte("marker"), "destination", "/topic/other")
	if f := sub.next(); f.hdr["subscription"] != "marker" {
		t.Fatalf("after UNSUBSCRIBE got %v", f)
	}

	// DISCONNECT with a receipt: the RECEIPT, then the close.
	pub.send(stomp.CmdDisconnect, nil, "receipt", "bye")
	pub.expectReceipt("bye")
	if code, _, err := pub.ws.ReadClose(); err != nil || code != frame.CloseNormal {
		t.Fatalf("after DISCONNECT: %d %v", code, err)
	}
}

// TestStompFramesSplitAndBatched: several frames in one WebSocket
// message, one frame over several, heart-beat EOLs between them.
func TestStompFramesSplitAndBatched(t *testing.T) {
	_, addr := startServer(t, nil)
	c := dialStomp(t, addr)
	var all []byte
	all = append(all, "\n\r\n"...)
	all = appendStompFrame(all, stomp.CmdConnect, nil, "accept-version", "1.1,1.2", "heart-beat", "0,0")
	all = append(all, '\n')
	all = appendStompFrame(all, stomp.CmdSubscribe, nil, "id", "0", "destination", "/topic/split", "receipt", "a")
	all = appendStompFrame(all, stomp.CmdSend, []byte("x\x00y"), "destination", "/topic/split", "receipt", "b")
	for i := 0; i < len(all); i += 7 {
		c.write(frame.OpText, all[i:min(i+7, len(all))])
	}
	c.expect(stomp.CmdConnected)
	seen := map[string]bool{}
	for len(seen) < 3 {
		f := c.next()
		switch {
		case f.cmd == stomp.CmdReceipt:
			seen[f.hdr["receipt-id"]] = true
		case f.cmd == stomp.CmdMessage && string(f.body) == "x\x00y":
			seen["msg"] = true
		default:
			t.Fatalf("unexpected %v", f)
		}
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("saw %v", seen)
	}
}

// TestStompErrors: malformed and refused frames get an ERROR naming the
// problem, then the connection closes.
func TestStompErrors(t *testing.T) {
	_, addr := startServer(t, func(c *config.Config) { c.Stomp.MaxSubscriptions = 2 })
	cases := []struct {
		name  string
		frame []byte
		want  string
		code  frame.CloseCode
	}{
		{"bad command", []byte("FOO\n\n\x00"), "unknown command", frame.CloseProtocolError},
		{"body on SUBSCRIBE", []byte("SUBSCRIBE\nid:1\ndestination:/topic/a\n\nbody\x00"), "must not have a body", frame.CloseProtocolError},
		{"bad escape", []byte("SEND\ndestination:/topic/\\x\n\n\x00"), "escape", frame.CloseProtocolError},
		{"unknown destination", []byte("SEND\ndestination:/nowhere\n\n\x00"), "/nowhere", frame.CloseProtocolError},
		{"subscribe without id", []byte("SUBSCRIBE\ndestination:/topic/a\n\n\x00"), "id header", frame.CloseProtocolError},
		{"app without backend", []byte("SEND\ndestination:/app/x\n\n\x00"), "no application backend", frame.CloseProtocolError},
		{"unknown transaction", []byte("COMMIT\ntransaction:t9\n\n\x00"), "no transaction t9", frame.CloseProtocolError},
		{"too many subscriptions", []byte("SUBSCRIBE\nid:1\ndestination:/topic/a\n\n\x00SUBSCRIBE\nid:2\ndestination:/topic/b\n\n\x00SUBSCRIBE\nid:3\ndestination:/topic/c\n\n\x00"), "too many subscriptions", frame.ClosePolicyViolation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := connectStomp(t, addr)
			c.write(frame.OpText, tc.frame)
			var f stompFrame
			for {
				f = c.next()
				if f.cmd != stomp.CmdReceipt {
					break
				}
			}
			if f.cmd != stomp.CmdError || !strings.Contains(f.hdr["message"], tc.want) {
				t.Fatalf("got %v, want ERROR with %q", f, tc.want)
			}
			if code, _, err := c.ws.ReadClose(); err != nil || code != tc.code {
				t.Fatalf("close %d %v, want %d", code, err, tc.code)
			}
		})
	}
	t.Run("frame before CONNECT", func(t *testing.T) {
		c := dialStomp(t, addr)
		c.send(stomp.CmdSend, []byte("x"), "destination", "/topic/a")
		c.expectError("expected CONNECT", frame.CloseProtocolError)
	})
	t.Run("no common version", func(t *testing.T) {
		c := dialStomp(t, addr)
		c.send(stomp.CmdConnect, nil, "accept-version", "2.0")
		f := c.expectError("no supported version", frame.CloseProtocolError)
		if f.hdr["version"] != "1.0,1.1,1.2" {
			t.Fatalf("ERROR %v", f)
		}
	})
}

// TestStompHeartBeatTimeout: a client that promised heart-beats and went
// silent gets an ERROR and a close, counted.
func TestStompHeartBeatTimeout(t *testing.T) {
	srv, addr := startServer(t, func(c *config.Config) {
		c.Stomp.HeartBeatSend, c.Stomp.HeartBeatReceive = 0, 200*time.Millisecond
	})
	c, connected := connectStomp(t, addr, "heart-beat", "200,0")
	if connected.hdr["heart-beat"] != "0,200" {
		t.Fatalf("CONNECTED %v", connected)
	}
	c.expectError("no heart-beat", frame.CloseGoingAway)
	if v := scrapeMetric(t, srv.AdminAddr().String(), "wsgate_stomp_heartbeat_timeouts_total"); v != "1" {
		t.Fatalf("heart-beat timeouts = %s, want 1", v)
	}
	// A client that keeps sending EOLs stays.
	k, _ := connectStomp(t, addr, "heart-beat", "200,0")
	k.subscribe("m", "/topic/hb")
	for range 10 {
		time.Sleep(100 * time.Millisecond) // the client's own heart-beat pace, not an assertion
		k.write(frame.OpText, []byte("\n"))
	}
	k.send(stomp.CmdSend, []byte("alive"), "destination", "/topic/hb")
	if f := k.next(); string(f.body) != "alive" {
		t.Fatalf("got %v", f)
	}
}

// TestStompConnectDeadline: a connection that never sends CONNECT is
// closed after the handshake timeout, with an ERROR.
func TestStompConnectDeadline(t *testing.T) {
	_, addr := startServer(t, func(c *config.Config) { c.HandshakeTimeout = time.Second })
	c := dialStomp(t, addr)
	c.expectError("no CONNECT frame", frame.ClosePolicyViolation)
}

// TestStompTokens: where tokens are required the STOMP upgrade goes
// through without one (the token may come in CONNECT), other endpoints
// still refuse it; CONNECT without a token gets an ERROR; a token in
// CONNECT governs subscriptions, and its expiry closes the connection
// with 4001 as on other endpoints.
func TestStompTokens(t *testing.T) {
	_, addr, _ := secServer(t, func(c *config.Config) { c.AuthLeeway = 0 })
	if res := dialToken(t, addr, "/room/chat.a", "", viaHeader); res.Status != http.StatusUnauthorized {
		t.Fatalf("/room without a token: %d", res.Status)
	}
	c := dialStomp(t, addr)
	c.send(stomp.CmdConnect, nil, "accept-version", "1.2")
	c.expectError("token is required", frame.ClosePolicyViolation)

	short := mint(t, jwt.SigningMethodHS256, testSecKeys(t).secret, "", claims("ann", []string{"chat.*"}, "exp", time.Now().Add(2*time.Second).Unix()))
	a, connected := connectStomp(t, addr, "passcode", short)
	if connected.hdr["user-name"] != "ann" {
		t.Fatalf("CONNECTED %v", connected)
	}
	a.subscribe("ok", "/topic/chat.a")
	a.send(stomp.CmdSubscribe, nil, "id", "no", "destination", "/topic/news.a")
	a.expectError("/topic/news.a", frame.ClosePolicyViolation)

	b, _ := connectStomp(t, addr, "Authorization", "Bearer "+short)
	code, _, err := b.ws.ReadClose() // waits for the expiry
	if err != nil || code != server.CloseTokenExpired {
		t.Fatalf("after expiry: close %d %v, want %d", code, err, server.CloseTokenExpired)
	}
}

// scrapeMetric returns a series' value from /metrics.
func scrapeMetric(tb testing.TB, adminAddr, series string) string {
	tb.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}
