package server

// End-to-end tests of rooms with history over real sockets: offsets and
// epochs on /ws messages, resuming joins (replay, then "joined", then the
// live stream), "since":"last", what /room members and the admin API see,
// and GET /api/rooms/{name}/history.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// histMsg is a /ws message of a room with history; unknown fields fail
// the decode.
type histMsg struct {
	Type      string          `json:"type"`
	Room      string          `json:"room"`
	ID        json.RawMessage `json:"id"`
	Data      json.RawMessage `json:"data"`
	From      string          `json:"from"`
	Encoding  string          `json:"encoding"`
	Offset    *uint64         `json:"offset"`
	Epoch     string          `json:"epoch"`
	Recovered *bool           `json:"recovered"`
	Code      string          `json:"code"`
	Message   string          `json:"message"`
}

func (m histMsg) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s room=%s data=%s", m.Type, m.Room, m.Data)
	if m.Offset != nil {
		fmt.Fprintf(&b, " offset=%d epoch=%s", *m.Offset, m.Epoch)
	}
	if m.Recovered != nil {
		fmt.Fprintf(&b, " recovered=%v", *m.Recovered)
	}
	return b.String()
}

func readHist(tb testing.TB, c *wstest.Conn) histMsg {
	tb.Helper()
	op, p, err := c.ReadMessage()
	if err != nil {
		tb.Fatalf("reading a /ws message: %v", err)
	}
	if op != frame.OpText {
		tb.Fatalf("/ws sent a %v message: %q", op, p)
	}
	var m histMsg
	if err := decodeStrict(p, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// decodeStrict decodes one JSON object with no unknown fields.
func decodeStrict(p []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(p))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil || d.More() {
		return fmt.Errorf("/ws sent %q: not one protocol object (%v)", p, err)
	}
	return nil
}

// adminPost posts body to /api/publish from any goroutine.
func adminPost(base, body string) (int, string) {
	resp, err := adminClient.Post(base+"/api/publish", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// expectMsg reads a message of room with data and offset (0: none).
func expectMsg(tb testing.TB, c *wstest.Conn, room, data string, offset uint64, epoch string) {
	tb.Helper()
	m := readHist(tb, c)
	ok := m.Type == "message" && m.Room == room && string(m.Data) == data
	if offset == 0 {
		ok = ok && m.Offset == nil && m.Epoch == ""
	} else {
		ok = ok && m.Offset != nil && *m.Offset == offset && m.Epoch == epoch
	}
	if !ok {
		tb.Fatalf("got %v; want message room=%s data=%s offset=%d epoch=%s", m, room, data, offset, epoch)
	}
}

// expectJoined reads "joined" for room and returns its position.
func expectJoined(tb testing.TB, c *wstest.Conn, room string, recovered bool) (uint64, string) {
	tb.Helper()
	m := readHist(tb, c)
	if m.Type != "joined" || m.Room != room || m.Recovered == nil || *m.Recovered != recovered || m.Offset == nil || m.Epoch == "" {
		tb.Fatalf("got %v; want joined room=%s recovered=%v with a position", m, room, recovered)
	}
	return *m.Offset, m.Epoch
}

func historyServer(tb testing.TB, rules string, mod func(*config.Config)) *Server {
	tb.Helper()
	return startTestServer(tb, func(c *config.Config) {
		noRoomPings(c)
		c.DevMode = true
		var err error
		if c.History, err = config.ParseHistoryRules(rules); err != nil {
			tb.Fatal(err)
		}
		if mod != nil {
			mod(c)
		}
	})
}

func sinceCmd(room string, offset uint64, epoch string) string {
	return fmt.Sprintf(`{"type":"join","room":%q,"since":{"offset":%d,"epoch":%q}}`, room, offset, epoch)
}

func TestHistoryResume(t *testing.T) {
	srv := historyServer(t, "h.*=100/1h", nil)
	addr := srv.Addr().String()
	pub := wstest.Dial(t, addr, "/ws?user=pub")
	a := wstest.Dial(t, addr, "/ws")
	send(a, `{"type":"join","room":"h.r","id":1}`)
	off, epoch := expectJoined(t, a, "h.r", false)
	if off != 0 {
		t.Fatalf("a new room is at offset %d", off)
	}
	for i := 1; i <= 3; i++ {
		send(pub, fmt.Sprintf(`{"type":"publish","room":"h.r","data":%d}`, i))
		expectMsg(t, a, "h.r", strconv.Itoa(i), uint64(i), epoch)
	}
	a.Close()
	send(pub, `{"type":"publish","room":"h.r","data":4}`)
	send(pub, `{"type":"publish","room":"h.r","data":5,"id":"p5"}`)
	expectReply(t, pub, "published", "h.r", `"p5"`)

	// A new connection resumes after 3: 4 and 5, then joined, then live.
	b := wstest.Dial(t, addr, "/ws")
	send(b, sinceCmd("h.r", 3, epoch))
	expectMsg(t, b, "h.r", "4", 4, epoch)
	expectMsg(t, b, "h.r", "5", 5, epoch)
	if off, ep := expectJoined(t, b, "h.r", true); off != 5 || ep != epoch {
		t.Fatalf("joined at %d/%s, want 5/%s", off, ep, epoch)
	}
	send(pub, `{"type":"publish","room":"h.r","data":6}`)
	expectMsg(t, b, "h.r", "6", 6, epoch)

	// Another epoch, or an offset ahead of the room: nothing replayed,
	// the current position.
	for i, cmd := range []string{sinceCmd("h.r", 2, "not-"+epoch), sinceCmd("h.r", 100, epoch)} {
		c := wstest.Dial(t, addr, "/ws")
		send(c, cmd)
		if off, _ := expectJoined(t, c, "h.r", false); off != uint64(6+i) {
			t.Fatalf("%s: joined at %d, want %d", cmd, off, 6+i)
		}
		send(pub, `{"type":"publish","room":"h.r","data":"live"}`)
		m := readHist(t, c)
		if m.Type != "message" || string(m.Data) != `"live"` {
			t.Fatalf("%s: after joined got %v, want the live message", cmd, m)
		}
	}
	// "last": the latest message, then joined.
	c := wstest.Dial(t, addr, "/ws")
	send(c, `{"type":"join","room":"h.r","since":"last","id":"L"}`)
	expectMsg(t, c, "h.r", `"live"`, 8, epoch)
	m := readHist(t, c)
	if m.Type != "joined" || string(m.ID) != `"L"` || !*m.Recovered || *m.Offset != 8 {
		t.Fatalf("after the last value: %v id %s", m, m.ID)
	}

	// A room without history: no positions, since ignored.
	send(c, `{"type":"join","room":"plain","since":{"offset":1,"epoch":"x"}}`)
	if m := readHist(t, c); m.Type != "joined" || m.Recovered != nil || m.Offset != nil {
		t.Fatalf("joined a room without history: %v", m)
	}
	send(pub, `{"type":"publish","room":"plain","data":1}`)
	expectMsg(t, c, "plain", "1", 0, "")
}

// TestHistoryAcrossEndpoints: /room members and the admin API publish
// into the same history; /room members get the raw payload (no position),
// /ws members the envelope with it.
func TestHistoryAcrossEndpoints(t *testing.T) {
	srv := historyServer(t, "h.>=100", nil)
	addr := srv.Addr().String()
	w := wstest.Dial(t, addr, "/ws")
	send(w, `{"type":"join","room":"h.x.y"}`)
	_, epoch := expectJoined(t, w, "h.x.y", false)
	r := wstest.Dial(t, addr, "/room/h.x.y")
	wstest.WaitFor(t, 10*time.Second, "the /room member", func() bool { return srv.hub.Count("h.x.y") == 2 })
	r.WriteMessage(frame.OpText, []byte(`{"from":"room"}`))
	expectMsg(t, w, "h.x.y", `{"from":"room"}`, 1, epoch)
	if code, body := adminDo(t, "POST", adminBase(srv), "/api/publish", publishBody("h.x.y", []byte("admin text"), false)); code != 200 {
		t.Fatalf("publish: %d %s", code, body)
	}
	expectMsg(t, w, "h.x.y", `"admin text"`, 2, epoch)
	op, p, err := r.ReadMessage()
	if err != nil || op != frame.OpText || string(p) != "admin text" {
		t.Fatalf("/room member got %v %q %v", op, p, err)
	}
	// Both are in the history a resuming /ws client gets.
	c := wstest.Dial(t, addr, "/ws")
	send(c, sinceCmd("h.x.y", 0, epoch))
	expectMsg(t, c, "h.x.y", `{"from":"room"}`, 1, epoch)
	expectMsg(t, c, "h.x.y", `"admin text"`, 2, epoch)
	expectJoined(t, c, "h.x.y", true)
}

// TestHistoryReplayBudget: a resume that would queue more than half the
// connection's send queue is refused with recovered:false instead of
// closing the client as a slow consumer.
func TestHistoryReplayBudget(t *testing.T) {
	srv := historyServer(t, "big=1000", func(c *config.Config) { c.SendQueue = 64 << 10 })
	addr := srv.Addr().String()
	pub := wstest.Dial(t, addr, "/ws")
	a := wstest.Dial(t, addr, "/ws")
	send(a, `{"type":"join","room":"big"}`)
	_, epoch := expectJoined(t, a, "big", false)
	data := `"` + strings.Repeat("x", 4000) + `"`
	for i := range 20 { // 80 KB
		send(pub, `{"type":"publish","room":"big","data":`+data+`,"id":`+strconv.Itoa(i)+`}`)
		expectReply(t, pub, "published", "big", strconv.Itoa(i))
	}
	c := wstest.Dial(t, addr, "/ws")
	send(c, sinceCmd("big", 0, epoch))
	if off, _ := expectJoined(t, c, "big", false); off != 20 {
		t.Fatalf("joined at %d", off)
	}
	send(c, sinceCmd("big", 14, epoch)) // 6 messages, 24 KB: within 32 KiB
	for i := 15; i <= 20; i++ {
		expectMsg(t, c, "big", data, uint64(i), epoch)
	}
	expectJoined(t, c, "big", true)
}

func TestHistoryAdminAPI(t *testing.T) {
	srv := historyServer(t, "h.*=3", func(c *config.Config) { c.APIKey = "history-key" })
	base, key := adminBase(srv), "X-API-Key: history-key"
	for i := 1; i <= 5; i++ {
		body := publishBody("h.a", []byte(fmt.Sprint("m", i)), false)
		if i == 5 {
			body = publishBody("h.a", []byte{0xff, 0}, true)
		}
		if code, b := adminDo(t, "POST", base, "/api/publish", body, key); code != 200 {
			t.Fatalf("publish: %d %s", code, b)
		}
	}
	get := func(path string) (int, map[string]any) {
		t.Helper()
		code, body := adminDo(t, "GET", base, path, "", key)
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%s: %q: %v", path, body, err)
		}
		return code, v
	}
	code, page := get("/api/rooms/h.a/history?since=1&limit=2")
	msgs, _ := page["messages"].([]any)
	if code != 200 || page["first"] != 3.0 || page["last"] != 5.0 || page["complete"] != false || len(msgs) != 2 || page["epoch"] == "" {
		t.Fatalf("history page: %d %v", code, page)
	}
	if m := msgs[0].(map[string]any); m["offset"] != 3.0 || m["payload"] != "m3" || m["binary"] != nil || m["time"] == nil {
		t.Fatalf("first message: %v", m)
	}
	_, page = get("/api/rooms/h.a/history?since=4")
	msgs, _ = page["messages"].([]any)
	if len(msgs) != 1 || page["complete"] != true {
		t.Fatalf("after 4: %v", page)
	}
	if m := msgs[0].(map[string]any); m["payload"] != "/wA=" || m["binary"] != true {
		t.Fatalf("binary message: %v", m)
	}
	for path, want := range map[string]int{
		"/api/rooms/plain/history":                              404,
		"/api/rooms/h.a/history?since=-1":                       400,
		"/api/rooms/h.a/history?limit=0":                        400,
		"/api/rooms/h.a/history?limit=x":                        400,
		"/api/rooms/" + url.PathEscape("bad room") + "/history": 400,
	} {
		if code, body := adminDo(t, "GET", base, path, "", key); code != want {
			t.Errorf("%s: %d %s, want %d", path, code, body, want)
		}
	}
	if code, _ := adminDo(t, "GET", base, "/api/rooms/h.a/history", ""); code != 401 {
		t.Errorf("history without the key: %d", code)
	}
	// /api/rooms rows of rooms with history count their messages.
	w := wstest.Dial(t, srv.Addr().String(), "/ws")
	join(t, w, "plain")
	send(w, `{"type":"join","room":"h.a"}`)
	expectJoined(t, w, "h.a", false)
	_, rooms := get("/api/rooms")
	got := map[string]any{}
	for _, r := range rooms["rooms"].([]any) {
		r := r.(map[string]any)
		got[r["name"].(string)] = r["messages"]
	}
	if got["h.a"] != 5.0 || got["plain"] != nil {
		t.Fatalf("/api/rooms messages: %v", got)
	}
}

// TestHistoryResumeDeflate: a replay reaches permessage-deflate clients
// compressed as their live messages are (with the connection's own
// context in takeover mode, in order with what follows).
func TestHistoryResumeDeflate(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			srv := historyServer(t, "z=100", func(c *config.Config) {
				c.Deflate, c.DeflateContextTakeover, c.DeflateThreshold = true, takeover, 16
			})
			addr := srv.Addr().String()
			pub := wstest.Dial(t, addr, "/ws")
			first := wstest.Dial(t, addr, "/ws")
			send(first, `{"type":"join","room":"z"}`)
			_, epoch := expectJoined(t, first, "z", false)
			var datas []string
			for i := range 4 {
				data := fmt.Sprintf(`{"seq":%d,"text":"%s"}`, i, strings.Repeat("compressible ", 40))
				datas = append(datas, data)
				if i < 3 {
					send(pub, `{"type":"publish","room":"z","data":`+data+`,"id":`+strconv.Itoa(i)+`}`)
					expectReply(t, pub, "published", "z", strconv.Itoa(i))
				}
			}
			want := func(i int) []byte {
				return []byte(fmt.Sprintf(`{"type":"message","room":"z","data":%s,"offset":%d,"epoch":%q}`, datas[i], i+1, epoch))
			}
			z := wstest.Dial(t, addr, "/ws", "Sec-WebSocket-Extensions: permessage-deflate")
			inflate := deflate.NewDecompressor()
			send(z, sinceCmd("z", 0, epoch))
			for i := range 3 {
				expectDeflated(t, z, inflate, want(i))
			}
			expectJoined(t, z, "z", true)
			send(pub, `{"type":"publish","room":"z","data":`+datas[3]+`}`)
			expectDeflated(t, z, inflate, want(3))
		})
	}
}
