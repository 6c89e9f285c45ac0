package upgrade

import (
	"bytes"
	"github.com/wsgate/wsgate/internal/reqhead"
	"net/netip"
	"reflect"
	"strconv"
	"testing"

	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/admission"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/config"
)

// The key and accept value of RFC 6455 section 1.3.
const (
	testKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	testAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

var testIP = netip.MustParseAddr("192.0.2.7")

// request returns an upgrade request for target on host gw.example.com
// with the extra header lines given.
func request(target string, extra ...string) []byte {
	s := "GET " + target + " HTTP/1.1\r\nHost: gw.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + testKey + "\r\nSec-WebSocket-Version: 13\r\n"
	for _, h := range extra {
		s += h + "\r\n"
	}
	return []byte(s + "\r\n")
}

// testHost routes /echo (kind 1), /stomp (kind 2: its own subprotocols,
// late authentication) and /room/NAME (kind 3), and records what Admit
// was asked. Admit refuses with refuse, if set.
type testHost struct {
	refuse   error
	admits   int
	releases int
	// What the last Admit saw.
	room, user, token string
	late              bool
	ip                netip.Addr
}

func (h *testHost) Route(path []byte) (Route, bool) {
	switch string(path) {
	case "/echo":
		return Route{Kind: 1}, true
	case "/stomp":
		return Route{Kind: 2, Subprotocols: []string{"v12.stomp", "v11.stomp"}, LateAuth: true}, true
	}
	if room, ok := bytes.CutPrefix(path, []byte("/room/")); ok {
		return Route{Kind: 3, Prefix: true, Room: room}, true
	}
	return Route{}, false
}

func (h *testHost) Admit(r admission.Request) (admission.Client, error) {
	h.admits++
	tok, _, _ := r.Tokens.Token()
	h.room, h.user, h.token, h.late, h.ip = string(r.Room), string(r.User), string(tok), r.LateAuth, r.IP
	if h.refuse != nil {
		return admission.Client{}, h.refuse
	}
	return admission.Client{User: string(r.User)}, nil
}

func (h *testHost) Release(string, netip.Addr) { h.releases++ }

func testConfig() *Config {
	return &Config{MaxHeader: 4096, Subprotocols: []string{"chat", "superchat"},
		Origins: &Origins{List: config.NewOriginMatcher([]string{"https://*.example.com", "https://app.example.org"})}}
}

// TestUpgradeParses reads requests a client may send and checks what the
// upgrade decided: the endpoint, room, user, subprotocol, compression,
// what admission was asked, and the headers of the 101.
func TestUpgradeParses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*Config)
		req   []byte
		want  Result // Response not compared
		token string // the token admission saw
		late  bool
		// Response header lines that must and must not be there.
		has, hasNot []string
	}{
		{name: "echo", req: request("/echo"), want: Result{Kind: 1, Counted: true},
			hasNot: []string{"Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"}},
		{name: "room", req: request("/room/chat.lobby"), want: Result{Kind: 3, Room: "chat.lobby", Counted: true}},
		{name: "query user ignored outside dev mode", req: request("/echo?user=alice"), want: Result{Kind: 1, Counted: true}},
		{name: "query user in dev mode", mod: func(c *Config) { c.QueryUser = true },
			req: request("/room/a?x=1&user=alice&user=bob"), want: Result{Kind: 3, Room: "a", User: "alice", Counted: true}},
		{name: "query user not a name", mod: func(c *Config) { c.QueryUser = true },
			req: request("/echo?user=a%20b"), want: Result{Kind: 1, Counted: true}},
		{name: "token in query", req: request("/echo?access_token=abc.def.ghi"), want: Result{Kind: 1, Counted: true}, token: "abc.def.ghi"},
		{name: "token in header", req: request("/echo", "Authorization: Bearer hdr.tok.en"), want: Result{Kind: 1, Counted: true}, token: "hdr.tok.en"},
		{name: "token in subprotocol, marker answered", req: request("/echo", "Sec-WebSocket-Protocol: bearer, p.tok.en"),
			want: Result{Kind: 1, Counted: true}, token: "p.tok.en", has: []string{"Sec-WebSocket-Protocol: bearer"}},
		{name: "token in subprotocol beside a known one", req: request("/echo", "Sec-WebSocket-Protocol: bearer, p.tok.en, superchat"),
			want: Result{Kind: 1, Counted: true}, token: "p.tok.en", has: []string{"Sec-WebSocket-Protocol: superchat"}, hasNot: []string{"bearer"}},
		{name: "server-wide subprotocol, client order", req: request("/echo", "Sec-WebSocket-Protocol: superchat, chat"),
			want: Result{Kind: 1, Counted: true}, has: []string{"Sec-WebSocket-Protocol: superchat"}},
		{name: "unknown subprotocol", req: request("/echo", "Sec-WebSocket-Protocol: mqtt"),
			want: Result{Kind: 1, Counted: true}, hasNot: []string{"Sec-WebSocket-Protocol"}},
		{name: "own subprotocol, server order", req: request("/stomp", "Sec-WebSocket-Protocol: v11.stomp, chat, v12.stomp"),
			want: Result{Kind: 2, Counted: true, Subprotocol: "v12.stomp"}, late: true, has: []string{"Sec-WebSocket-Protocol: v12.stomp"}},
		{name: "own list ignores the server-wide one", req: request("/stomp", "Sec-WebSocket-Protocol: chat"),
			want: Result{Kind: 2, Counted: true}, late: true, hasNot: []string{"Sec-WebSocket-Protocol"}},
		{name: "deflate off", req: request("/echo", "Sec-WebSocket-Extensions: permessage-deflate"),
			want: Result{Kind: 1, Counted: true}, hasNot: []string{"Sec-WebSocket-Extensions"}},
		{name: "deflate", mod: func(c *Config) { c.Deflate = &deflate.Options{} },
			req: request("/room/r", "Sec-WebSocket-Extensions: x-webkit-deflate-frame, permessage-deflate; client_max_window_bits"),
			want: Result{Kind: 3, Room: "r", Counted: true, DeflateOK: true, Deflate: deflate.Params{
				ServerNoContextTakeover: true, ClientNoContextTakeover: true, ClientMaxWindowBitsNoValue: true}},
			has: []string{"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover"}},
		{name: "deflate not offered", mod: func(c *Config) { c.Deflate = &deflate.Options{} }, req: request("/echo"),
			want: Result{Kind: 1, Counted: true}, hasNot: []string{"Sec-WebSocket-Extensions"}},
		{name: "origin on the list", req: request("/echo", "Origin: https://app.example.com"), want: Result{Kind: 1, Counted: true}},
		{name: "same-host origin without a list", mod: func(c *Config) { c.Origins = &Origins{} },
			req: request("/echo", "Origin: https://GW.example.com"), want: Result{Kind: 1, Counted: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.mod != nil {
				tc.mod(cfg)
			}
			h := &testHost{}
			u := New(cfg, h)
			r, resp, err := u.Upgrade(append([]byte(nil), tc.req...), testIP)
			if err != nil {
				t.Fatalf("refused: %v\n%s", err, resp)
			}
			if !bytes.HasPrefix(r.Response, []byte("HTTP/1.1 101 Switching Protocols\r\n")) ||
				!bytes.Contains(r.Response, []byte("\r\nSec-WebSocket-Accept: "+testAccept+"\r\n")) ||
				!bytes.HasSuffix(r.Response, []byte("\r\n\r\n")) || bytes.Count(r.Response, []byte("\r\n\r\n")) != 1 {
				t.Errorf("response %q", r.Response)
			}
			for _, l := range tc.has {
				if !bytes.Contains(r.Response, []byte("\r\n"+l+"\r\n")) {
					t.Errorf("response lacks %q: %q", l, r.Response)
				}
			}
			for _, l := range tc.hasNot {
				if bytes.Contains(r.Response, []byte(l)) {
					t.Errorf("response has %q: %q", l, r.Response)
				}
			}
			r.Response = nil
			if !reflect.DeepEqual(r, tc.want) {
				t.Errorf("result %+v, want %+v", r, tc.want)
			}
			if h.admits != 1 || h.token != tc.token || h.late != tc.late || h.room != tc.want.Room || h.user != tc.want.User || h.ip != testIP {
				t.Errorf("admission saw %d calls, room %q user %q token %q late %v ip %v", h.admits, h.room, h.user, h.token, h.late, h.ip)
			}
		})
	}
}

// TestUpgradeRefuses reads requests the upgrade refuses and checks the
// whole HTTP answer, byte for byte, and whether admission was asked.
func TestUpgradeRefuses(t *testing.T) {
	body := func(status, text, extra string) string {
		return "HTTP/1.1 " + status + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n" + extra +
			"Content-Length: " + strconv.Itoa(len(text)+1) + "\r\n\r\n" + text + "\n"
	}
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		refuse error // Admit's answer
		req    []byte
		err    error
		resp   string
		admits int
	}{
		{name: "unknown path", req: request("/nowhere"), err: ErrNotFound,
			resp: body("404 Not Found", "no WebSocket endpoint at this path", "")},
		{name: "bad room", req: request("/room/a%20b"), err: ErrBadRoom,
			resp: body("400 Bad Request", "room name must be 1-128 characters of A-Z a-z 0-9 . _ - : @ ~", "")},
		{name: "empty room", req: request("/room/"), err: ErrBadRoom,
			resp: body("400 Bad Request", "room name must be 1-128 characters of A-Z a-z 0-9 . _ - : @ ~", "")},
		{name: "key not base64 of 16 bytes", req: bytes.Replace(request("/echo"), []byte(testKey), []byte("!!!!!!!!!!!!!!!!!!!!!!=="), 1),
			err: ErrBadKey, resp: body("400 Bad Request", `"Sec-WebSocket-Key" must be base64 of 16 bytes`, "")},
		{name: "origin off the list", req: request("/echo", "Origin: https://evil.example"), err: ErrOriginForbidden,
			resp: body("403 Forbidden", "origin not allowed", "")},
		{name: "origin of another host", mod: func(c *Config) { c.Origins = &Origins{} },
			req: request("/echo", "Origin: https://other.example.com"), err: ErrOriginForbidden,
			resp: body("403 Forbidden", "origin not allowed", "")},
		{name: "method", req: bytes.Replace(request("/echo"), []byte("GET"), []byte("POST"), 1),
			resp: body("405 Method Not Allowed", "method must be GET", "Allow: GET\r\n")},
		{name: "HTTP/1.0", req: bytes.Replace(request("/echo"), []byte("HTTP/1.1"), []byte("HTTP/1.0"), 1),
			resp: body("400 Bad Request", "HTTP/1.1 or later is required", "")},
		{name: "version", req: bytes.Replace(request("/echo"), []byte("Version: 13"), []byte("Version: 8"), 1),
			resp: body("426 Upgrade Required", "Sec-WebSocket-Version must be 13", "Sec-WebSocket-Version: 13\r\n")},
		{name: "no upgrade header", req: bytes.Replace(request("/echo"), []byte("Upgrade: websocket\r\n"), nil, 1),
			resp: body("400 Bad Request", "Upgrade header must be websocket", "")},
		{name: "no connection upgrade", req: bytes.Replace(request("/echo"), []byte("Connection: Upgrade"), []byte("Connection: close"), 1),
			resp: body("400 Bad Request", "Connection header must include upgrade", "")},
		{name: "host twice", req: request("/echo", "Host: other"), err: admission.ErrDupHost,
			resp: body("400 Bad Request", `more than one "Host" header`, "")},
		{name: "token refused", refuse: auth.ErrExpired, req: request("/echo"), err: auth.ErrExpired, admits: 1,
			resp: body("401 Unauthorized", "token expired", "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n")},
		{name: "room refused", refuse: ErrRoomForbidden, req: request("/room/vip"), err: ErrRoomForbidden, admits: 1,
			resp: body("403 Forbidden", "token does not allow joining this room", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.mod != nil {
				tc.mod(cfg)
			}
			h := &testHost{refuse: tc.refuse}
			r, resp, err := New(cfg, h).Upgrade(append([]byte(nil), tc.req...), testIP)
			if err == nil || tc.err != nil && err != tc.err {
				t.Fatalf("error %v, want %v (result %+v)", err, tc.err, r)
			}
			if string(resp) != tc.resp {
				t.Errorf("answer\n%q\nwant\n%q", resp, tc.resp)
			}
			if h.admits != tc.admits || h.releases != 0 {
				t.Errorf("admission asked %d times, released %d; want %d, 0", h.admits, h.releases, tc.admits)
			}
		})
	}
}

// TestUpgraderReuse runs one Upgrader over requests that leave state
// behind (a room, a user, a token, an origin, a subprotocol, deflate) and
// checks none of it reaches the next request.
func TestUpgraderReuse(t *testing.T) {
	cfg := testConfig()
	cfg.QueryUser, cfg.Deflate = true, &deflate.Options{}
	h := &testHost{}
	u := New(cfg, h)
	full := request("/room/x?user=bob&access_token=t.o.k", "Origin: https://app.example.com",
		"Sec-WebSocket-Protocol: bearer, p.q.r", "Sec-WebSocket-Extensions: permessage-deflate")
	if _, _, err := u.Upgrade(full, testIP); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.Upgrade(request("/nowhere"), testIP); err != ErrNotFound {
		t.Fatalf("second request: %v", err)
	}
	r, _, err := u.Upgrade(request("/echo"), testIP)
	if err != nil {
		t.Fatal(err)
	}
	resp := r.Response
	r.Response = nil
	if !reflect.DeepEqual(r, Result{Kind: 1, Counted: true}) || h.token != "" || h.user != "" || h.room != "" ||
		bytes.Contains(resp, []byte("Sec-WebSocket-Protocol")) || bytes.Contains(resp, []byte("Sec-WebSocket-Extensions")) {
		t.Errorf("after a full request: %+v, admission saw token %q user %q room %q; response %q", r, h.token, h.user, h.room, resp)
	}
}

func TestOrigins(t *testing.T) {
	list := &Origins{List: config.NewOriginMatcher([]string{"https://*.example.com"})}
	for _, tc := range []struct {
		o            *Origins
		origin, host string
		want         bool
	}{
		{nil, "https://evil.example", "gw", true},
		{&Origins{Any: true}, "https://evil.example", "gw", true},
		{&Origins{}, "", "gw", true},
		{&Origins{}, "https://gw:8080", "GW:8080", true},
		{&Origins{}, "https://gw", "gw:8080", false},
		{&Origins{}, "gw", "gw", false},
		{&Origins{}, "https://gw", "", false},
		{list, "https://a.example.com", "gw", true},
		{list, "https://gw", "gw", false},
		{list, "", "gw", true},
	} {
		if got := tc.o.Allowed([]byte(tc.origin), []byte(tc.host)); got != tc.want {
			t.Errorf("%+v.Allowed(%q, %q) = %v, want %v", tc.o, tc.origin, tc.host, got, tc.want)
		}
	}
}

func TestQueryValue(t *testing.T) {
	for _, tc := range []struct{ query, key, want string }{
		{"user=alice", "user", "alice"},
		{"a=1&user=bob&user=carol", "user", "bob"},
		{"users=x&user=", "user", ""},
		{"user=a%20b&user=c", "user", "c"},
		{"user", "user", ""},
		{"", "user", ""},
	} {
		if got := QueryValue([]byte(tc.query), tc.key); string(got) != tc.want {
			t.Errorf("QueryValue(%q, %q) = %q, want %q", tc.query, tc.key, got, tc.want)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nX-Sec-WebSocket-Key: no\r\nsec-websocket-KEY:  k1 \r\nSec-WebSocket-Key: k2\r\n\r\n")
	if got := reqhead.Value(req, "sec-websocket-key"); string(got) != "k1" {
		t.Errorf("headerValue = %q, want k1", got)
	}
	if got := reqhead.Value(req, "origin"); got != nil {
		t.Errorf("headerValue of a missing header = %q", got)
	}
}

func TestChooseOwn(t *testing.T) {
	own := []string{"v12.stomp", "v11.stomp", "v10.stomp"}
	for _, tc := range []struct{ offer, want string }{
		{"v10.stomp, v11.stomp", "v11.stomp"},
		{"v12.stomp", "v12.stomp"},
		{"bearer, tok, v10.stomp", "v10.stomp"},
		{"chat", ""},
		{"", ""},
	} {
		if got := chooseOwn([]byte(tc.offer), own); got != tc.want {
			t.Errorf("chooseOwn(%q) = %q, want %q", tc.offer, got, tc.want)
		}
	}
}
