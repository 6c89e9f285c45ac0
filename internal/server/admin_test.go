package server

// Tests of the admin HTTP API: the key check, publish and user send with
// their validation, the rooms and stats listings, and a broadcast through
// the publish API to 10,000 members of a wsgate child process.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admin"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

var adminClient = &http.Client{Timeout: 20 * time.Second}

// adminDo sends one request to the admin API at base (http://host:port)
// with the header lines given ("Authorization: Bearer k") and returns the
// status and body.
func adminDo(tb testing.TB, method, base, path, body string, header ...string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

func adminBase(srv *Server) string { return "http://" + srv.AdminAddr().String() }

// The admin API's JSON bodies, as a client writes and reads them.
type (
	publishRequest struct {
		Room    string `json:"room,omitempty"`
		Payload string `json:"payload"`
		Binary  bool   `json:"binary,omitempty"`
	}
	publishResponse struct {
		Room       string `json:"room"`
		User       string `json:"user"`
		Recipients int    `json:"recipients"`
	}
	roomInfo struct {
		Name    string `json:"name"`
		Members int    `json:"members"`
	}
	memStats struct {
		Conns      int64  `json:"conns"`
		HeapInuse  uint64 `json:"heap_inuse"`
		Sys        uint64 `json:"sys"`
		NumGC      uint32 `json:"num_gc"`
		Goroutines int    `json:"goroutines"`
	}
)

// publishBody returns a JSON publish request.
func publishBody(room string, payload []byte, binary bool) string {
	req := publishRequest{Room: room, Payload: string(payload), Binary: binary}
	if binary {
		req.Payload = base64.StdEncoding.EncodeToString(payload)
	}
	b, _ := json.Marshal(req)
	return string(b)
}

func TestAdminAPIKey(t *testing.T) {
	const key = "s3cret-key"
	srv := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.APIKey = key })
	base := adminBase(srv)
	m := wstest.Dial(t, srv.Addr().String(), "/room/keyed")
	wstest.WaitFor(t, 10*time.Second, "the member to join", func() bool { return srv.hub.Count("keyed") == 1 })
	body := publishBody("keyed", []byte("hello"), false)
	for _, tc := range []struct {
		name   string
		header []string
		want   int
	}{
		{"no key", nil, 401},
		{"wrong bearer", []string{"Authorization: Bearer nope"}, 401},
		{"wrong X-API-Key", []string{"X-API-Key: nope"}, 401},
		{"key as a prefix", []string{"Authorization: Bearer " + key + "x"}, 401},
		{"key without Bearer", []string{"Authorization: " + key}, 401},
		{"empty bearer", []string{"Authorization: Bearer "}, 401},
		{"bearer", []string{"Authorization: Bearer " + key}, 200},
		{"X-API-Key", []string{"X-API-Key: " + key}, 200},
	} {
		status, resp := adminDo(t, "POST", base, "/api/publish", body, tc.header...)
		if status != tc.want {
			t.Errorf("%s: status %d (%s), want %d", tc.name, status, resp, tc.want)
		}
	}
	// Exactly the two accepted publishes arrived.
	m.ExpectMessage(frame.OpText, []byte("hello"))
	m.ExpectMessage(frame.OpText, []byte("hello"))
	for _, path := range []string{"/api/rooms", "/api/stats"} {
		if status, _ := adminDo(t, "GET", base, path, ""); status != 401 {
			t.Errorf("GET %s without the key: %d, want 401", path, status)
		}
		if status, _ := adminDo(t, "GET", base, path, "", "X-API-Key: "+key); status != 200 {
			t.Errorf("GET %s with the key: %d, want 200", path, status)
		}
	}
	if status, _ := adminDo(t, "POST", base, "/api/users/u/send", body); status != 401 {
		t.Errorf("user send without the key: %d, want 401", status)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, _ := adminDo(t, "GET", base, path, ""); status != 200 {
			t.Errorf("GET %s: %d, want 200 without a key", path, status)
		}
	}
	m.Send(true, 0, frame.OpPing, nil) // still in sync: nothing else was queued
	if f, err := m.ReadFrame(); err != nil || f.Op != frame.OpPong {
		t.Errorf("after the rejected requests: %v %v, want the pong", f, err)
	}
}

func TestAdminPublish(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.DevMode = true })
	base := adminBase(srv)
	addr := srv.Addr().String()
	a := wstest.Dial(t, addr, "/room/pub")
	b := wstest.Dial(t, addr, "/room/pub")
	wstest.WaitFor(t, 10*time.Second, "2 members", func() bool { return srv.hub.Count("pub") == 2 })

	status, resp := adminDo(t, "POST", base, "/api/publish", publishBody("pub", []byte("text é"), false))
	if status != 200 || !strings.Contains(resp, `"recipients":2`) {
		t.Errorf("publish: %d %s, want 200 with 2 recipients", status, resp)
	}
	bin := []byte{0, 0xff, 0x80, 'x'}
	if status, resp = adminDo(t, "POST", base, "/api/publish", publishBody("pub", bin, true)); status != 200 {
		t.Errorf("binary publish: %d %s", status, resp)
	}
	for _, c := range []*wstest.Conn{a, b} {
		c.ExpectMessage(frame.OpText, []byte("text é"))
		c.ExpectMessage(frame.OpBinary, bin)
	}
	for _, tc := range []struct{ name, body string }{
		{"not JSON", `{"room":"pub","payload":`},
		{"JSON of the wrong shape", `["pub","x"]`},
		{"bad base64", `{"room":"pub","payload":"***","binary":true}`},
		{"bad room name", `{"room":"a b","payload":"x"}`},
		{"no room", `{"payload":"x"}`},
		{"no payload", `{"room":"pub"}`},
		{"null payload", `{"room":"pub","payload":null}`},
		// Raw bytes that are not UTF-8 inside a JSON string: the body is
		// not valid JSON (RFC 8259 section 8.1) and the text not UTF-8.
		{"text not UTF-8", "{\"room\":\"pub\",\"payload\":\"bad \xff\xfe text\"}"},
		{"text with a lone surrogate", `{"room":"pub","payload":"bad \ud800 text"}`},
	} {
		if status, resp := adminDo(t, "POST", base, "/api/publish", tc.body); status != 400 {
			t.Errorf("%s: %d %s, want 400", tc.name, status, resp)
		}
	}
	big := bytes.Repeat([]byte("b"), 64<<10+1) // MaxMessage + 1
	for _, binary := range []bool{false, true} {
		if status, resp := adminDo(t, "POST", base, "/api/publish", publishBody("pub", big, binary)); status != 413 {
			t.Errorf("payload over max-message (binary %v): %d %.80s, want 413", binary, status, resp)
		}
	}
	// None of the rejected bodies reached a member.
	adminDo(t, "POST", base, "/api/publish", publishBody("pub", []byte("marker"), false))
	for _, c := range []*wstest.Conn{a, b} {
		op, msg, err := c.ReadMessage()
		if err != nil || op != frame.OpText || string(msg) != "marker" {
			t.Errorf("after the rejected publishes: %v %q %v, want the marker", op, msg, err)
		}
	}
	if status, _ := adminDo(t, "GET", base, "/api/publish", ""); status != 405 {
		t.Errorf("GET /api/publish: %d, want 405", status)
	}
}

func TestAdminUserSendAndRooms(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) { noRoomPings(c); c.DevMode = true })
	base := adminBase(srv)
	addr := srv.Addr().String()
	alice1 := wstest.Dial(t, addr, "/room/one?user=alice")
	alice2 := wstest.Dial(t, addr, "/room/two?user=alice")
	alice3 := wstest.Dial(t, addr, "/echo?user=alice")
	bob := wstest.Dial(t, addr, "/room/one?user=bob")
	anon := wstest.Dial(t, addr, "/room/two")
	wstest.WaitFor(t, 10*time.Second, "everyone to join", func() bool {
		return srv.hub.CountUser("alice") == 3 && srv.hub.CountUser("bob") == 1 && srv.hub.Count("two") == 2
	})

	status, resp := adminDo(t, "POST", base, "/api/users/alice/send", publishBody("", []byte("for alice"), false))
	if status != 200 || !strings.Contains(resp, `"recipients":3`) {
		t.Errorf("user send: %d %s, want 200 with 3 recipients", status, resp)
	}
	for _, c := range []*wstest.Conn{alice1, alice2, alice3} {
		c.ExpectMessage(frame.OpText, []byte("for alice"))
	}
	if status, _ = adminDo(t, "POST", base, "/api/users/bob/send", publishBody("", []byte{1, 2}, true)); status != 200 {
		t.Errorf("binary user send: %d", status)
	}
	// bob's first message is his own: alice's did not reach him.
	bob.ExpectMessage(frame.OpBinary, []byte{1, 2})
	if status, resp = adminDo(t, "POST", base, "/api/users/nobody/send", publishBody("", []byte("x"), false)); status != 200 || !strings.Contains(resp, `"recipients":0`) {
		t.Errorf("send to an unknown user: %d %s, want 200 with 0 recipients", status, resp)
	}
	if status, _ = adminDo(t, "POST", base, "/api/users/alice/send", `{"payload":"**","binary":true}`); status != 400 {
		t.Errorf("user send with bad base64: %d, want 400", status)
	}
	// anon got nothing: its first message is this one.
	adminDo(t, "POST", base, "/api/publish", publishBody("two", []byte("room two"), false))
	anon.ExpectMessage(frame.OpText, []byte("room two"))
	alice2.ExpectMessage(frame.OpText, []byte("room two"))

	status, resp = adminDo(t, "GET", base, "/api/rooms", "")
	var rooms struct {
		Rooms []roomInfo `json:"rooms"`
	}
	if err := json.Unmarshal([]byte(resp), &rooms); status != 200 || err != nil {
		t.Fatalf("GET /api/rooms: %d %s %v", status, resp, err)
	}
	want := []roomInfo{{"one", 2}, {"two", 2}}
	if len(rooms.Rooms) != len(want) || rooms.Rooms[0] != want[0] || rooms.Rooms[1] != want[1] {
		t.Errorf("GET /api/rooms = %+v, want %+v", rooms.Rooms, want)
	}
	bob.Close()
	wstest.WaitFor(t, 10*time.Second, "bob to leave", func() bool { return srv.hub.Count("one") == 1 })
	_, resp = adminDo(t, "GET", base, "/api/rooms", "")
	if !strings.Contains(resp, `{"name":"one","members":1}`) {
		t.Errorf("after bob left: %s", resp)
	}
	var st admin.Stats
	if status, resp = adminDo(t, "GET", base, "/api/stats", ""); status != 200 || json.Unmarshal([]byte(resp), &st) != nil {
		t.Fatalf("GET /api/stats: %d %s", status, resp)
	}
	// Out: 3 to alice, 1 to bob, 2 to room two.
	if st.Open != 4 || st.Rooms != 2 || st.Users != 1 || st.MessagesOut != 6 {
		t.Errorf("GET /api/stats = %+v, want 4 open, 2 rooms, 1 user, 6 messages out", st)
	}
}

// freeAddr returns a loopback address with a port free at the time of the
// call.
func freeAddr(t testing.TB) string {
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		// The kernel may hand a port just released to the next caller:
		// processes given the same address would fight over it.
		if _, dup := handedOut.LoadOrStore(addr, true); !dup {
			return addr
		}
	}
}

// handedOut holds the addresses freeAddr has returned in this process.
var handedOut sync.Map

// buildWsgate builds cmd/wsgate into a temporary directory.
func buildWsgate(t testing.TB) string {
	t.Helper()
	bin, err := wstest.BuildWsgate(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startChild runs wsgate as a child process (so that its sockets do not
// count against this process's descriptor limit) and waits until it is
// ready. It returns the WebSocket address and the admin base URL.
func startChild(t testing.TB, key string, args ...string) (string, string) {
	bin := buildWsgate(t)
	addr, admin := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, append([]string{"-listen", addr, "-admin", admin, "-anonymous", "-no-limits"}, args...)...)
	cmd.Env = append(os.Environ(), "WSGATE_API_KEY="+key)
	var stderr wstest.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("wsgate stderr:\n%s", stderr.String())
		}
	})
	base := "http://" + admin
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("wsgate exited: %v\n%s", err, stderr.String())
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return addr, base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("wsgate not ready after 30s: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func childStats(t *testing.T, base, key string) admin.Stats {
	t.Helper()
	status, body := adminDo(t, "GET", base, "/api/stats", "", "Authorization: Bearer "+key)
	var st admin.Stats
	if err := json.Unmarshal([]byte(body), &st); status != 200 || err != nil {
		t.Fatalf("GET /api/stats: %d %s %v", status, body, err)
	}
	return st
}

// TestBroadcast10k publishes k messages through the admin API to a room
// of 10,000 members held by this process, served by a wsgate child
// process, and counts every message at every member.
func TestBroadcast10k(t *testing.T) {
	members, k := 10000, 20
	switch {
	case testing.Short():
		members = 1000
	case raceEnabled:
		members = 5000 // the child is not instrumented; the clients here are
	}
	const (
		key        = "bcast-key"
		room       = "bcast"
		payloadLen = 64
	)
	addr, base := startChild(t, key, "-ping-interval", "0", "-idle-timeout", "0")
	sw := newSwarm(t, addr)
	sw.seq, sw.wantOp = true, frame.OpBinary
	sw.dial(members, func(int) string { return "/room/" + room })
	want := fmt.Sprintf(`{"rooms":[{"name":%q,"members":%d}]}`, room, members)
	wstest.WaitFor(t, 30*time.Second, "every member to join", func() bool {
		_, body := adminDo(t, "GET", base, "/api/rooms", "", "X-API-Key: "+key)
		return strings.TrimSpace(body) == want
	})
	before := childStats(t, base, key)
	sw.startReaders(4)
	payload := make([]byte, payloadLen)
	for i := range k {
		binary.BigEndian.PutUint64(payload, uint64(i))
		status, resp := adminDo(t, "POST", base, "/api/publish", publishBody(room, payload, true), "Authorization: Bearer "+key)
		var pr publishResponse
		if err := json.Unmarshal([]byte(resp), &pr); status != 200 || err != nil || pr.Recipients != members {
			t.Fatalf("publish %d: %d %s, want 200 with %d recipients", i, status, resp, members)
		}
	}
	sw.waitAll(int64(k), 90*time.Second)
	sw.check()
	after := childStats(t, base, key)
	deliveries := uint64(k * members)
	frameLen := uint64(frame.HeaderSize(payloadLen, false) + payloadLen)
	sys, wb := after.WriteSyscalls-before.WriteSyscalls, after.WrittenBytes-before.WrittenBytes
	t.Logf("%d members x %d messages: %d write syscalls, %d bytes (%.1f bytes/syscall); %+v",
		members, k, sys, wb, float64(wb)/float64(max(sys, 1)), after)
	if got := after.MessagesOut - before.MessagesOut; got != deliveries {
		t.Errorf("messages_out grew by %d, want %d", got, deliveries)
	}
	if wb != deliveries*frameLen {
		t.Errorf("written_bytes grew by %d, want %d (%d deliveries of %d bytes)", wb, deliveries*frameLen, deliveries, frameLen)
	}
	if sys == 0 || sys > deliveries {
		t.Errorf("write_syscalls grew by %d for %d deliveries", sys, deliveries)
	}
	if after.Open != int64(members) || after.Rooms != 1 || after.SlowClosed != 0 || after.Dropped != 0 {
		t.Errorf("stats after the broadcast: %+v", after)
	}
}

// TestMemStatsEndpoint: /debug/memstats exists only with -pprof, reports
// the open connections, and ?gc=1 runs a collection first.
func TestMemStatsEndpoint(t *testing.T) {
	off := startTestServer(t, nil)
	if code, _ := adminDo(t, "GET", adminBase(off), "/debug/memstats", ""); code != http.StatusNotFound {
		t.Fatalf("without -pprof: status %d, want 404", code)
	}
	srv := startTestServer(t, func(c *config.Config) { c.Pprof = true })
	for range 3 {
		wstest.Dial(t, srv.Addr().String(), "/echo")
	}
	wstest.WaitFor(t, 10*time.Second, "3 open connections", func() bool { return srv.open.Load() == 3 })
	read := func(path string) memStats {
		code, body := adminDo(t, "GET", adminBase(srv), path, "")
		var ms memStats
		if code != http.StatusOK || json.Unmarshal([]byte(body), &ms) != nil {
			t.Fatalf("GET %s: %d %q", path, code, body)
		}
		return ms
	}
	a := read("/debug/memstats")
	b := read("/debug/memstats?gc=1")
	if b.NumGC <= a.NumGC {
		t.Errorf("?gc=1 ran no collection: num_gc %d then %d", a.NumGC, b.NumGC)
	}
	if b.Conns != 3 || b.HeapInuse == 0 || b.HeapInuse > b.Sys || b.Goroutines == 0 {
		t.Errorf("implausible figures: %+v", b)
	}
}
