package server

// End-to-end tests of the multi-room endpoint (/ws, mux.go) over real
// sockets: join/publish/leave, several rooms on one connection, delivery
// across the /ws, /room and admin API endpoints, bad commands, ordering to
// 200 members, token permissions, cleanup at close, and npm ws as a
// client. Parser and envelope unit tests are in mux_json_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// muxMsg is any message the /ws endpoint sends; unknown fields fail the
// decode.
type muxMsg struct {
	Type     string          `json:"type"`
	Room     string          `json:"room"`
	ID       json.RawMessage `json:"id"`
	Data     json.RawMessage `json:"data"`
	From     string          `json:"from"`
	Encoding string          `json:"encoding"`
	Code     string          `json:"code"`
	Message  string          `json:"message"`
}

// readMux reads one message from c: it must be a text message holding
// one JSON object of the /ws protocol.
func readMux(tb testing.TB, c *wstest.Conn) muxMsg {
	tb.Helper()
	op, p, err := c.ReadMessage()
	if err != nil {
		tb.Fatalf("reading a /ws message: %v", err)
	}
	if op != frame.OpText {
		tb.Fatalf("/ws sent a %v message: %q", op, p)
	}
	var m muxMsg
	d := json.NewDecoder(bytes.NewReader(p))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil || d.More() {
		tb.Fatalf("/ws sent %q: not one protocol object (%v)", p, err)
	}
	return m
}

// send writes one command.
func send(c *wstest.Conn, cmd string) { c.Send(true, 0, frame.OpText, []byte(cmd)) }

// expectReply reads the next message and checks its type, room and id
// (id as JSON text, "" for none).
func expectReply(tb testing.TB, c *wstest.Conn, typ, room, id string) muxMsg {
	tb.Helper()
	m := readMux(tb, c)
	if m.Type != typ || m.Room != room || string(m.ID) != id {
		tb.Fatalf("got %+v (data %s, id %s), want type %q room %q id %q", m, m.Data, m.ID, typ, room, id)
	}
	return m
}

// expectData reads the next message: a "message" of room with data
// exactly as given (JSON text).
func expectData(tb testing.TB, c *wstest.Conn, room, data string) muxMsg {
	tb.Helper()
	m := expectReply(tb, c, "message", room, "")
	if string(m.Data) != data {
		tb.Fatalf("room %q: data %s, want %s", room, m.Data, data)
	}
	return m
}

// join joins room and waits for the reply.
func join(tb testing.TB, c *wstest.Conn, room string) {
	tb.Helper()
	send(c, `{"type":"join","room":"`+room+`"}`)
	expectReply(tb, c, "joined", room, "")
}

func TestMuxJoinPublishLeave(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.DevMode = true })
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/ws?user=alice")
	b := wstest.Dial(t, addr, "/ws")

	send(a, `{"type":"join","room":"chat.a","id":"j1"}`)
	expectReply(t, a, "joined", "chat.a", `"j1"`)
	send(b, ` { "id" : 42 , "room" : "chat.a" , "type" : "join" } `)
	expectReply(t, b, "joined", "chat.a", `42`)

	values := []string{`{"n":1}`, `"two"`, `[3, {"x": null}]`, `4.5e-1`, `true`, `null`, `"\u00e9\ud83d\ude00"`}
	for i, v := range values {
		send(a, `{"type":"publish","room":"chat.a","data":`+v+`,"id":`+strconv.Itoa(i)+`}`)
		// A publish with an id is acknowledged once it is queued.
		expectReply(t, a, "published", "chat.a", strconv.Itoa(i))
	}
	for _, v := range values {
		if m := expectData(t, b, "chat.a", v); m.From != "alice" {
			t.Errorf("from = %q, want alice", m.From)
		}
	}
	// b publishes: a gets it (and b, without EchoSelf, not its own), with
	// no "from" for a connection without a user id.
	send(b, `{"type":"publish","room":"chat.a","data":"from b"}`)
	if m := expectData(t, a, "chat.a", `"from b"`); m.From != "" {
		t.Errorf("from = %q for an anonymous publisher, want none", m.From)
	}

	send(a, `{"type":"leave","room":"chat.a","id":"l1"}`)
	expectReply(t, a, "left", "chat.a", `"l1"`)
	send(b, `{"type":"publish","room":"chat.a","data":"after leave"}`)
	// a's next message is about chat.b, not the message a left behind.
	join(t, a, "chat.b")
	send(b, `{"type":"publish","room":"chat.b","data":"marker"}`)
	expectData(t, a, "chat.b", `"marker"`)
	// b got nothing of its own: its next message is a's.
	send(a, `{"type":"publish","room":"chat.a","data":"to b"}`)
	expectData(t, b, "chat.a", `"to b"`)
	wstest.WaitFor(t, 10*time.Second, "rooms", func() bool { return srv.hub.Count("chat.a") == 1 && srv.hub.Count("chat.b") == 1 })
}

func TestMuxEchoSelfAndRejoin(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.EchoSelf = true })
	a := wstest.Dial(t, srv.Addr().String(), "/ws")
	join(t, a, "self")
	send(a, `{"type":"join","room":"self","id":2}`) // joining twice is harmless
	expectReply(t, a, "joined", "self", "2")
	send(a, `{"type":"publish","room":"self","data":1}`)
	expectData(t, a, "self", "1")
	// join, leave, join in one write: replies in order, one membership.
	a.SendRaw(bytes.Join([][]byte{
		wstest.AppendFrame(nil, true, 0, frame.OpText, []byte(`{"type":"leave","room":"self"}`), true),
		wstest.AppendFrame(nil, true, 0, frame.OpText, []byte(`{"type":"join","room":"self"}`), true),
		wstest.AppendFrame(nil, true, 0, frame.OpText, []byte(`{"type":"publish","room":"self","data":2}`), true),
	}, nil))
	expectReply(t, a, "left", "self", "")
	expectReply(t, a, "joined", "self", "")
	expectData(t, a, "self", "2")
	if n := srv.hub.Count("self"); n != 1 {
		t.Errorf("members = %d, want 1", n)
	}
}

func TestMuxSeveralRooms(t *testing.T) {
	srv := startTestServer(t, noRoomPings)
	addr := srv.Addr().String()
	sub := wstest.Dial(t, addr, "/ws")
	pub := wstest.Dial(t, addr, "/ws")
	rooms := []string{"r1", "r2", "r3", "r.4"}
	for _, r := range rooms {
		join(t, sub, r)
	}
	// Publishing needs no membership; the subscriber gets each room's
	// messages in order, and messages of a room it is not in never.
	for i := range 20 {
		r := rooms[i%len(rooms)]
		send(pub, fmt.Sprintf(`{"type":"publish","room":"nobody","data":%d}`, i))
		send(pub, fmt.Sprintf(`{"type":"publish","room":%q,"data":%d}`, r, i))
	}
	next := map[string]int{}
	for range 20 {
		m := readMux(t, sub)
		n, err := strconv.Atoi(string(m.Data))
		if m.Type != "message" || err != nil {
			t.Fatalf("unexpected %+v", m)
		}
		if rooms[n%len(rooms)] != m.Room || n < next[m.Room] {
			t.Fatalf("message %d in room %q out of place (next due %d)", n, m.Room, next[m.Room])
		}
		next[m.Room] = n + 1
	}
	for _, r := range rooms[:2] {
		send(sub, `{"type":"leave","room":"`+r+`"}`)
		expectReply(t, sub, "left", r, "")
	}
	for _, r := range rooms {
		send(pub, `{"type":"publish","room":"`+r+`","data":"last"}`)
	}
	// r3 and r.4 may be on different workers: either order.
	got := []string{readMux(t, sub).Room, readMux(t, sub).Room}
	if !(got[0] == "r3" && got[1] == "r.4") && !(got[0] == "r.4" && got[1] == "r3") {
		t.Fatalf("got messages of %q, want r3 and r.4", got)
	}
}

// TestMuxCrossEndpoint: a /room member and a /ws member of one room get
// what either endpoint and the admin API publish, each in its own form.
func TestMuxCrossEndpoint(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.DevMode = true })
	addr := srv.Addr().String()
	rm := wstest.Dial(t, addr, "/room/x?user=rita")
	ws := wstest.Dial(t, addr, "/ws?user=wes")
	join(t, ws, "x")
	wstest.WaitFor(t, 10*time.Second, "two members", func() bool { return srv.hub.Count("x") == 2 })

	// /ws publishes: the /room member gets the data's JSON text.
	send(ws, `{"type":"publish","room":"x","data":{"a": [1, 2]}}`)
	rm.ExpectMessage(frame.OpText, []byte(`{"a": [1, 2]}`))

	// /room publishes JSON text, other text, binary.
	// JSON text goes in as it is, blanks included.
	rm.Send(true, 0, frame.OpText, []byte(` {"k":"v"} `))
	ws.ExpectMessage(frame.OpText, []byte(`{"type":"message","room":"x","data": {"k":"v"} ,"from":"rita"}`))
	rm.Send(true, 0, frame.OpText, []byte("plain \"text\"\n\x01 é"))
	expectData(t, ws, "x", `"plain \"text\"\u000a\u0001 é"`)
	rm.Send(true, 0, frame.OpBinary, []byte{0, 1, 0xfe, 0xff})
	if m := expectData(t, ws, "x", `"AAH+/w=="`); m.Encoding != "base64" {
		t.Errorf("binary: encoding %q, want base64", m.Encoding)
	}

	// The admin API: both get it; no "from".
	base := adminBase(srv)
	for _, tc := range []struct {
		payload []byte
		binary  bool
		data    string
	}{
		{[]byte(`[true,false]`), false, `[true,false]`},
		{[]byte(`not json`), false, `"not json"`},
		{[]byte(``), false, `""`},
		{[]byte{1, 2, 3}, true, `"AQID"`},
	} {
		if st, body := adminDo(t, "POST", base, "/api/publish", publishBody("x", tc.payload, tc.binary)); st != 200 {
			t.Fatalf("admin publish: %d %s", st, body)
		}
		op := frame.OpText
		if tc.binary {
			op = frame.OpBinary
		}
		rm.ExpectMessage(op, tc.payload)
		if m := expectData(t, ws, "x", tc.data); m.From != "" {
			t.Errorf("admin message has from %q", m.From)
		}
	}
	// A message to a user reaches its /ws connections without a room.
	if st, body := adminDo(t, "POST", base, "/api/users/wes/send", publishBody("", []byte(`{"dm":1}`), false)); st != 200 {
		t.Fatalf("user send: %d %s", st, body)
	}
	expectData(t, ws, "", `{"dm":1}`)
}

// TestMuxDeflate: /ws members with and without permessage-deflate (and
// different windows) get the same envelope.
func TestMuxDeflate(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			srv := startTestServer(t, func(c *config.Config) {
				noRoomPings(c)
				c.Deflate, c.DeflateContextTakeover, c.DeflateThreshold = true, takeover, 16
			})
			addr := srv.Addr().String()
			plain := wstest.Dial(t, addr, "/ws")
			z15 := wstest.Dial(t, addr, "/ws", "Sec-WebSocket-Extensions: permessage-deflate")
			z9 := wstest.Dial(t, addr, "/ws", "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9")
			pub := wstest.Dial(t, addr, "/ws")
			for _, c := range []*wstest.Conn{plain, z15, z9} {
				join(t, c, "z")
			}
			inflaters := []*deflate.Decompressor{deflate.NewDecompressor(), deflate.NewDecompressor()}
			for i := range 3 {
				data := fmt.Sprintf(`{"seq":%d,"text":"%s"}`, i, strings.Repeat("compressible ", 40))
				send(pub, `{"type":"publish","room":"z","data":`+data+`}`)
				want := []byte(`{"type":"message","room":"z","data":` + data + `}`)
				plain.ExpectMessage(frame.OpText, want)
				for k, c := range []*wstest.Conn{z15, z9} {
					expectDeflated(t, c, inflaters[k], want)
				}
			}
		})
	}
}

// expectDeflated reads one compressed text message and checks that it
// inflates to want; d keeps the connection's context (messages
// compressed without context inflate the same way).
func expectDeflated(t *testing.T, c *wstest.Conn, d *deflate.Decompressor, want []byte) {
	t.Helper()
	f, err := c.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if f.Op != frame.OpText || f.Rsv&frame.RSV1 == 0 || !f.Fin {
		t.Fatalf("want a compressed text frame, got %v", f)
	}
	got, err := d.Decompress(nil, f.Payload, 1<<20)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("inflated %q (%v), want %q", got, err, want)
	}
}

func TestMuxBadCommands(t *testing.T) {
	srv := startTestServer(t, noRoomPings)
	addr := srv.Addr().String()
	c := wstest.Dial(t, addr, "/ws")
	for _, tc := range []struct {
		cmd, code, room, id string
	}{
		{`not json`, "bad_request", "", ""},
		{``, "bad_request", "", ""},
		{`[]`, "bad_request", "", ""},
		{`{"type":"join","room":"a"`, "bad_request", "", ""},
		{`{"type":"join","room":"a"} x`, "bad_request", "", ""},
		{`{"type":"join","room":"a",}`, "bad_request", "", ""},
		{`{"type":"join","room":"a","x":01}`, "bad_request", "", ""},
		{`{"type":"dance","room":"a","id":"d"}`, "bad_request", "a", `"d"`},
		{`{"room":"a","id":1}`, "bad_request", "a", "1"},
		{`{"type":7,"room":"a"}`, "bad_request", "a", ""},
		{`{"type":"join","id":"no-room"}`, "bad_request", "", `"no-room"`},
		{`{"type":"join","room":"","id":2}`, "bad_request", "", "2"},
		{`{"type":"join","room":"bad name!","id":3}`, "bad_request", "bad name!", "3"},
		{`{"type":"join","room":"` + strings.Repeat("r", 129) + `"}`, "bad_request", strings.Repeat("r", 128), ""},
		{`{"type":"join","room":["a"]}`, "bad_request", "", ""},
		{`{"type":"publish","room":"a","id":"p"}`, "bad_request", "a", `"p"`},
		{`{"type":"publish","room":"a","data":undefined}`, "bad_request", "", ""},
		{`{"type":"join","room":"a","id":{"x":1}}`, "bad_request", "", ""},
		{`{"type":"leave","room":"never","id":"n"}`, "not_joined", "never", `"n"`},
		{`{"type":"leave","room":"b@d/","id":"n"}`, "bad_request", "b@d/", `"n"`},
	} {
		send(c, tc.cmd)
		m := expectReply(t, c, "error", tc.room, tc.id)
		if m.Code != tc.code || m.Message == "" {
			t.Errorf("%s: code %q message %q, want code %q", tc.cmd, m.Code, m.Message, tc.code)
		}
	}
	// Escapes are decoded, the id echoed as written.
	send(c, `{"t\u0079pe":"j\u006fin","room":"ok\u002eroom","id":"\u00e9"}`)
	expectReply(t, c, "joined", "ok.room", `"\u00e9"`)
	if n := srv.hub.Count("ok.room"); n != 1 {
		t.Errorf("ok.room members = %d, want 1", n)
	}
	// A binary message closes the connection with 1003.
	c.Send(true, 0, frame.OpBinary, []byte{1})
	c.ExpectCloseFrame(frame.CloseUnsupportedData)
	if err := c.WriteClose(uint16(frame.CloseUnsupportedData), ""); err != nil {
		t.Fatal(err)
	}
	c.ExpectEOF()
	wstest.WaitFor(t, 10*time.Second, "the room to empty", func() bool { return srv.hub.Len() == 0 })
}

func TestMuxTooManyRooms(t *testing.T) {
	srv := startTestServer(t, noRoomPings)
	c := wstest.Dial(t, srv.Addr().String(), "/ws")
	var batch []byte
	for i := range 256 {
		batch = wstest.AppendFrame(batch, true, 0, frame.OpText, fmt.Appendf(nil, `{"type":"join","room":"r%d"}`, i), true)
	}
	c.SendRaw(batch)
	for range 256 {
		if m := readMux(t, c); m.Type != "joined" {
			t.Fatalf("got %+v", m)
		}
	}
	send(c, `{"type":"join","room":"one-more","id":1}`)
	if m := expectReply(t, c, "error", "one-more", "1"); m.Code != "too_many_rooms" {
		t.Fatalf("code %q", m.Code)
	}
	send(c, `{"type":"leave","room":"r7"}`)
	expectReply(t, c, "left", "r7", "")
	join(t, c, "one-more")
	if n := srv.hub.Len(); n != 256 {
		t.Errorf("rooms = %d, want %d", n, 256)
	}
	c.Close()
	wstest.WaitFor(t, 10*time.Second, "every room to empty", func() bool { return srv.hub.Len() == 0 })
}

// TestMuxCloseLeavesRooms: however a /ws connection ends (TCP gone, close
// handshake, protocol error, joins still pending at the worker), it is
// removed from every room.
func TestMuxCloseLeavesRooms(t *testing.T) {
	srv := startTestServer(t, noRoomPings)
	addr := srv.Addr().String()
	var joins []byte
	for i := range 50 {
		joins = wstest.AppendFrame(joins, true, 0, frame.OpText, fmt.Appendf(nil, `{"type":"join","room":"c%d"}`, i%7), true)
	}
	for i := range 30 {
		c := wstest.Dial(t, addr, "/ws")
		c.SendRaw(joins)
		switch i % 3 {
		case 0: // gone at once, joins possibly pending
			c.Close()
		case 1: // close handshake
			c.SendRaw(wstest.AppendFrame(nil, true, 0, frame.OpClose, []byte{3, 232}, true))
		case 2: // protocol error: a reserved opcode fails the connection
			c.SendRaw(wstest.AppendFrame(nil, true, 0, frame.Opcode(3), nil, true))
			c.Timeout = 20 * time.Second
			for { // skip replies up to the close frame
				if f, err := c.ReadFrame(); err != nil || f.Op == frame.OpClose {
					break
				}
			}
			c.Close()
		}
	}
	wstest.WaitFor(t, 20*time.Second, "all connections to close and rooms to empty", func() bool {
		return srv.open.Load() == 0 && srv.hub.Len() == 0
	})
}

// dialMembers dials n /ws connections (16 at a time) with the extra header
// lines and joins each to room.
func dialMembers(t *testing.T, addr, path, room string, n int, extra ...string) []*wstest.Conn {
	t.Helper()
	conns := make([]*wstest.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := wstest.Connect(addr, path, extra...)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			if err := c.WriteMessage(frame.OpText, []byte(`{"type":"join","room":"`+room+`"}`)); err != nil {
				errs <- err
				return
			}
			if _, p, err := c.ReadMessage(); err != nil || !bytes.Contains(p, []byte(`"joined"`)) {
				errs <- fmt.Errorf("join: %q %v", p, err)
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return conns
}

// receiveAll reads messages of room on every connection, in parallel:
// n numbered ones, whose i-th must be {"type":"message","room":room,
// "data":i}+tail, and nOther equal to other, in any place. It returns a
// description of every connection that did not get exactly that.
func receiveAll(conns []*wstest.Conn, room, tail string, n int, other string, nOther int) []string {
	var mu sync.Mutex
	var bad []string
	var wg sync.WaitGroup
	prefix := []byte(`{"type":"message","room":"` + room + `","data":`)
	for k, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Timeout = 30 * time.Second
			var want []byte
			i, others := 0, 0
			for i < n || others < nOther {
				_, p, err := c.ReadMessage()
				if err == nil && string(p) == other && others < nOther {
					others++
					continue
				}
				want = append(strconv.AppendInt(append(want[:0], prefix...), int64(i), 10), tail...)
				if err != nil || i == n || !bytes.Equal(p, want) {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("member %d, message %d (%d others): got %q (%v), want %q", k, i, others, p, err, want))
					mu.Unlock()
					return
				}
				i++
			}
		}()
	}
	wg.Wait()
	return bad
}

// TestMuxOrder200: 1,000 messages from one publisher reach 200 /ws
// members of the room, all of them, in order, and nothing else.
func TestMuxOrder200(t *testing.T) {
	srv := startTestServer(t, noRoomPings)
	addr := srv.Addr().String()
	members := dialMembers(t, addr, "/ws", "order", 200)
	pub := wstest.Dial(t, addr, "/ws")
	const n = 1000
	done := make(chan []string)
	go func() { done <- receiveAll(members, "order", "}", n, "", 0) }()
	var out []byte
	for i := range n {
		out = wstest.AppendFrame(out, true, 0, frame.OpText, fmt.Appendf(nil, `{"type":"publish","room":"order","data":%d}`, i), true)
		if len(out) > 32<<10 || i == n-1 {
			pub.SendRaw(out)
			out = out[:0]
		}
	}
	if bad := <-done; len(bad) > 0 {
		t.Fatalf("%d members missed or misordered messages; first: %s", len(bad), bad[0])
	}
	// Nothing more is queued for anyone: a final marker is the next message.
	send(pub, `{"type":"publish","room":"order","data":"end"}`)
	for _, m := range members[:10] {
		expectData(t, m.Bind(t), "order", `"end"`)
	}
	if st := srv.Stats(); st.SlowClosed != 0 || st.Dropped != 0 {
		t.Errorf("slow consumers: %+v", st)
	}
}

// mintToken signs an HS256 token for sub with the rooms and (when not
// nil) publish claims.
func mintToken(t *testing.T, secret []byte, sub string, rooms, publish []string) string {
	t.Helper()
	claims := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(time.Hour).Unix(), "rooms": rooms}
	if publish != nil {
		claims["publish"] = publish
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// authServer starts a server that requires HS256 tokens signed with the
// returned secret.
func authServer(t *testing.T) (*Server, []byte) {
	secret := []byte("mux-test-secret-0123456789abcdef-0123456789")
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startTestServer(t, func(c *config.Config) {
		noRoomPings(c)
		c.Anonymous = false
		c.AuthSecretFiles = []string{path}
	})
	return srv, secret
}

// TestMuxPermissions: a token's rooms and publish patterns decide what a
// /ws connection may do; a refusal is an error message, the connection
// stays up, and 200 well-behaved members meanwhile miss nothing.
func TestMuxPermissions(t *testing.T) {
	srv, secret := authServer(t)
	addr := srv.Addr().String()
	if _, err := wstest.Connect(addr, "/ws"); err == nil {
		t.Fatal("a /ws connection without a token was admitted")
	}
	good := mintToken(t, secret, "member", []string{"chat.*"}, nil)
	members := dialMembers(t, addr, "/ws?access_token="+good, "chat.public", 200)
	done := make(chan []string)
	const n = 200
	ok := `{"type":"message","room":"chat.public","data":"ok","from":"mallory"}`
	go func() { done <- receiveAll(members, "chat.public", `,"from":"member"}`, n, ok, n/40) }()

	tok := mintToken(t, secret, "mallory", []string{"chat.*"}, []string{"chat.public"})
	c := wstest.Dial(t, addr, "/ws", "Authorization: Bearer "+tok)
	pub := wstest.Dial(t, addr, "/ws", "Authorization: Bearer "+good)
	forbidden := func(cmd, room, id string) {
		t.Helper()
		send(c, cmd)
		if m := expectReply(t, c, "error", room, id); m.Code != "forbidden" {
			t.Fatalf("%s: code %q, want forbidden", cmd, m.Code)
		}
	}
	j0, p0 := srv.m.ForbiddenJoin.Get(), srv.m.ForbiddenPublish.Get()
	for i := range n {
		send(pub, fmt.Sprintf(`{"type":"publish","room":"chat.public","data":%d}`, i))
		if i%40 == 0 {
			join(t, c, "chat.a")
			forbidden(`{"type":"join","room":"news.x","id":"nx"}`, "news.x", `"nx"`)
			forbidden(`{"type":"join","room":"chat.a.b"}`, "chat.a.b", "")
			forbidden(`{"type":"publish","room":"chat.a","data":"no","id":9}`, "chat.a", "9")
			forbidden(`{"type":"publish","room":"news.x","data":"no"}`, "news.x", "")
			// Still up: a permitted publish and leave work.
			send(c, `{"type":"publish","room":"chat.public","data":"ok"}`)
			send(c, `{"type":"leave","room":"chat.a"}`)
			expectReply(t, c, "left", "chat.a", "")
		}
	}
	if bad := <-done; len(bad) > 0 {
		t.Fatalf("%d members missed or misordered messages; first: %s", len(bad), bad[0])
	}
	if j, p := srv.m.ForbiddenJoin.Get()-j0, srv.m.ForbiddenPublish.Get()-p0; j != 2*n/40 || p != 2*n/40 {
		t.Errorf("forbidden counters grew by join %d publish %d, want %d each", j, p, 2*n/40)
	}
}

// runNodeMux runs test/node/mux_client.js against url and returns its
// exit code, its JSON summary and its output. Without node or npm's ws it
// skips, or fails when WSGATE_REQUIRE_INTEROP is set (as `make test`
// does).
func runNodeMux(t *testing.T, url string) (int, nodeMuxSummary, string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "test", "node", "node_modules", "ws", "package.json"))
	}
	if err != nil {
		if os.Getenv("WSGATE_REQUIRE_INTEROP") != "" {
			t.Fatalf("node or npm ws missing and WSGATE_REQUIRE_INTEROP is set: run scripts/setup-test-deps.sh (%v)", err)
		}
		t.Skipf("node or npm ws missing: run scripts/setup-test-deps.sh (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "test", "node", "mux_client.js"), url, "--timeout-ms", "10000")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var sum nodeMuxSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatalf("mux_client.js printed no JSON summary (exit %d): %v\n%s", code, err, out)
	}
	return code, sum, string(out)
}

type nodeMuxSummary struct {
	OK     bool `json:"ok"`
	Passed int  `json:"passed"`
	Failed int  `json:"failed"`
}

// TestMuxNodeClient runs npm ws against /ws: join, publish, order, errors,
// leave, close codes; and, as the control that the client can fail,
// against a server that echoes a publisher's own messages, which the
// client does not expect.
func TestMuxNodeClient(t *testing.T) {
	srv := startTestServer(t, noRoomPings)
	code, sum, out := runNodeMux(t, "ws://"+srv.Addr().String()+"/ws")
	if code != 0 || !sum.OK || sum.Passed != 8 {
		t.Fatalf("node mux client: exit %d, %+v, want exit 0 and 8 checks passed\n%s", code, sum, out)
	}
	wstest.WaitFor(t, 10*time.Second, "the rooms to empty", func() bool { return srv.hub.Len() == 0 })

	echo := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.EchoSelf = true })
	code, sum, out = runNodeMux(t, "ws://"+echo.Addr().String()+"/ws")
	if code != 1 || sum.OK || sum.Failed == 0 {
		t.Fatalf("node mux client against an echoing server: exit %d, %+v, want exit 1\n%s", code, sum, out)
	}
	t.Logf("against an echoing server, as it should, the client failed:\n%s", out)
}
