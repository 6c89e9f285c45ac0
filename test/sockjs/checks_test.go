package sockjsconf

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// The checks state SockJS 0.3.3 as a server must speak it, in our own
// words: each is run against the reference (sockjs-node) and against
// wsgate, and wsgate must pass every check the reference passes.
var checks = []check{
	{"greeting", checkGreeting},
	{"not-found", checkNotFound},
	{"iframe", checkIframe},
	{"iframe-cache", checkIframeCache},
	{"info", checkInfo},
	{"info-options", checkInfoOptions},
	{"info-flags", checkInfoFlags},
	{"session-ids", checkSessionIDs},
	{"xhr-session", checkXHRSession},
	{"second-receiver-2010", checkAnotherConnection},
	{"close-frame-repeats", checkCloseRepeats},
	{"xhr-send-errors", checkSendErrors},
	{"xhr-options", checkXHROptions},
	{"xhr-cors", checkXHRCORS},
	{"xhr-streaming", checkXHRStreaming},
	{"eventsource", checkEventSource},
	{"htmlfile", checkHTMLFile},
	{"jsonp", checkJSONP},
	{"jsonp-send-errors", checkJSONPSendErrors},
	{"jsessionid", checkCookies},
	{"json-server-escapes", checkServerEscapes},
	{"json-server-decodes", checkServerDecodes},
	{"websocket", checkWebSocket},
	{"websocket-http-errors", checkWebSocketHTTPErrors},
	{"websocket-broken-json", checkWebSocketBrokenJSON},
	{"websocket-close", checkWebSocketClose},
	{"raw-websocket", checkRawWebSocket},
	{"raw-websocket-close", checkRawWebSocketClose},
	{"http10-polling", checkHTTP10},
	{"http10-streaming", checkHTTP10Streaming},
	{"http11-keepalive", checkHTTP11KeepAlive},
	{"disconnect-delay", checkDisconnectDelay},
}

func checkGreeting(c *C, base string) {
	for _, u := range []string{base + "/echo", base + "/echo/"} {
		r := do(c, "GET", u, nil, "")
		wantStatus(c, u, r, 200)
		wantHeaderPrefix(c, u, r.h, "Content-Type", "text/plain; charset=utf-8")
		wantBody(c, u, r, "Welcome to SockJS!\n")
		wantNoHeader(c, u, r.h, "Set-Cookie")
	}
}

func checkNotFound(c *C, base string) {
	for _, p := range []string{"/echo/a", "/echo/a.html", "/echo//", "/echo///", "/echo/a/a", "/echo/a/a/", "/echo/a/", "/echo/a/a/a/a"} {
		r := do(c, "GET", base+p, nil, "")
		wantStatus(c, p, r, 404)
	}
}

func checkIframe(c *C, base string) {
	for _, p := range []string{"/echo/iframe.html", "/echo/iframe-a.html", "/echo/iframe-.html", "/echo/iframe-0.1.2.html", "/echo/iframe-0.1.2abc-dirty.2144.html", "/echo/iframe.html?t=1234"} {
		r := do(c, "GET", base+p, nil, "")
		wantStatus(c, p, r, 200)
		wantHeaderPrefix(c, p, r.h, "Content-Type", "text/html; charset=utf-8")
		cachedYear(c, p, r.h)
		if r.h.Get("ETag") == "" {
			c.Errorf("%s: no ETag", p)
		}
		wantNoHeader(c, p, r.h, "Set-Cookie")
		if !strings.Contains(r.body, "SockJS.bootstrap_iframe()") || !strings.Contains(r.body, "document.domain = document.domain") {
			c.Errorf("%s: not the iframe page: %.120q", p, r.body)
		}
	}
	for _, p := range []string{"/echo/iframe.htm", "/echo/iframe", "/echo/IFRAME.HTML", "/echo/IFRAME", "/echo/iframe.HTML", "/echo/iframe.xml", "/echo/iframe-/.html"} {
		wantStatus(c, p, do(c, "GET", base+p, nil, ""), 404)
	}
}

func checkIframeCache(c *C, base string) {
	a := do(c, "GET", base+"/echo/iframe.html", nil, "")
	b := do(c, "GET", base+"/echo/iframe.html", nil, "")
	if a.h.Get("ETag") != b.h.Get("ETag") || a.body != b.body {
		c.Errorf("two requests for the iframe page differ")
	}
	r := do(c, "GET", base+"/echo/iframe.html", map[string]string{"If-None-Match": a.h.Get("ETag")}, "")
	wantStatus(c, "If-None-Match", r, 304)
	wantNoHeader(c, "304", r.h, "Content-Type")
	wantBody(c, "304", r, "")
}

type info struct {
	WebSocket    *bool    `json:"websocket"`
	CookieNeeded *bool    `json:"cookie_needed"`
	Origins      []string `json:"origins"`
	Entropy      *float64 `json:"entropy"`
}

func getInfo(c *C, u string) (resp, info) {
	r := do(c, "GET", u, nil, "")
	var in info
	if err := json.Unmarshal([]byte(r.body), &in); err != nil {
		c.Fatalf("%s: body %q is not JSON: %v", u, r.body, err)
	}
	return r, in
}

func checkInfo(c *C, base string) {
	r, in := getInfo(c, base+"/echo/info")
	wantStatus(c, "info", r, 200)
	wantHeaderPrefix(c, "info", r.h, "Content-Type", "application/json; charset=utf-8")
	noCache(c, "info", r.h)
	corsFor(c, "info", r.h, "")
	if in.WebSocket == nil || !*in.WebSocket || in.CookieNeeded == nil || *in.CookieNeeded || in.Entropy == nil {
		c.Errorf("info %q: want websocket true, cookie_needed false and an entropy", r.body)
	}
	if len(in.Origins) != 1 || in.Origins[0] != "*:*" {
		c.Errorf("info origins %v, want [*:*]", in.Origins)
	}
	seen := map[float64]bool{}
	for range 5 {
		_, in := getInfo(c, base+"/echo/info")
		if in.Entropy != nil {
			seen[*in.Entropy] = true
		}
	}
	if len(seen) < 2 {
		c.Errorf("entropy does not change between requests")
	}
	r = do(c, "GET", base+"/echo/info", map[string]string{"Origin": "http://example.test"}, "")
	corsFor(c, "info with Origin", r.h, "http://example.test")
}

func checkInfoOptions(c *C, base string) {
	for _, origin := range []string{"", "http://example.test", "null"} {
		h := map[string]string{"Access-Control-Request-Method": "GET"}
		if origin != "" {
			h["Origin"] = origin
		}
		r := do(c, "OPTIONS", base+"/echo/info", h, "")
		what := "OPTIONS /info origin " + origin
		if r.status != 204 && r.status != 200 {
			c.Errorf("%s: status %d, want 204", what, r.status)
		}
		cachedYear(c, what, r.h)
		if m := r.h.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "OPTIONS") || !strings.Contains(m, "GET") {
			c.Errorf("%s: Access-Control-Allow-Methods %q", what, m)
		}
		if r.h.Get("Access-Control-Max-Age") == "" {
			c.Errorf("%s: no Access-Control-Max-Age", what)
		}
		corsFor(c, what, r.h, origin)
	}
}

func checkInfoFlags(c *C, base string) {
	if _, in := getInfo(c, base+"/disabled_websocket_echo/info"); in.WebSocket == nil || *in.WebSocket {
		c.Errorf("disabled_websocket_echo: websocket must be false")
	}
	if _, in := getInfo(c, base+"/cookie_needed_echo/info"); in.CookieNeeded == nil || !*in.CookieNeeded {
		c.Errorf("cookie_needed_echo: cookie_needed must be true")
	}
}

func checkSessionIDs(c *C, base string) {
	for _, p := range []string{"/a/a", "/_/_", "/1/1", "/abcdefgh_i-j%20/abcdefg_i-j%20"} {
		r := do(c, "POST", base+"/echo"+p+"/xhr", nil, "")
		wantStatus(c, p, r, 200)
		wantBody(c, p, r, "o\n")
	}
	for _, p := range []string{"//", "/a./a", "/a/a.", "/./.", "/", "///"} {
		wantStatus(c, p, do(c, "POST", base+"/echo"+p+"/xhr", nil, ""), 404)
		wantStatus(c, p, do(c, "POST", base+"/echo"+p+"/xhr_send", nil, ""), 404)
	}
	// The server id does not matter: a session is named by its own id.
	id := randomID()
	wantBody(c, "first", do(c, "POST", base+"/echo/000/"+id+"/xhr", nil, ""), "o\n")
	wantStatus(c, "send", do(c, "POST", base+"/echo/000/"+id+"/xhr_send", nil, `["a"]`), 204)
	wantBody(c, "other server id", do(c, "POST", base+"/echo/999/"+id+"/xhr", nil, ""), "a[\"a\"]\n")
}

func checkXHRSession(c *C, base string) {
	u := session(base, "/echo")
	r := do(c, "POST", u+"/xhr", nil, "")
	wantStatus(c, "open", r, 200)
	wantBody(c, "open", r, "o\n")
	wantHeaderPrefix(c, "xhr", r.h, "Content-Type", "application/javascript; charset=utf-8")
	noCache(c, "xhr", r.h)
	corsFor(c, "xhr", r.h, "")
	wantNoHeader(c, "xhr", r.h, "Set-Cookie")
	r = do(c, "POST", u+"/xhr_send", nil, `["x"]`)
	wantStatus(c, "send", r, 204)
	wantBody(c, "send", r, "")
	wantHeaderPrefix(c, "send", r.h, "Content-Type", "text/plain")
	noCache(c, "send", r.h)
	r = do(c, "POST", u+"/xhr_send", nil, `["a","b"]`)
	wantStatus(c, "send 2", r, 204)
	wantBody(c, "poll", do(c, "POST", u+"/xhr", nil, ""), "a[\"x\",\"a\",\"b\"]\n")
	// A poll with nothing queued waits; a message ends it.
	done := make(chan resp, 1)
	go func() {
		defer func() { _ = recover() }()
		done <- do(c, "POST", u+"/xhr", nil, "")
	}()
	time.Sleep(200 * time.Millisecond)
	wantStatus(c, "send 3", do(c, "POST", u+"/xhr_send", nil, `["late"]`), 204)
	select {
	case r := <-done:
		wantBody(c, "waiting poll", r, "a[\"late\"]\n")
	case <-time.After(15 * time.Second):
		c.Errorf("a waiting poll did not get the message")
	}
	wantStatus(c, "send to unknown session", do(c, "POST", session(base, "/echo")+"/xhr_send", nil, `["x"]`), 404)
}

func checkAnotherConnection(c *C, base string) {
	u := session(base, "/echo")
	wantBody(c, "open", do(c, "POST", u+"/xhr", nil, ""), "o\n")
	st := open(c, "POST", u+"/xhr_streaming", nil)
	defer st.close()
	st.until(c, "\n") // the prelude
	r := do(c, "POST", u+"/xhr", nil, "")
	wantBody(c, "second receiver", r, "c[2010,\"Another connection still open\"]\n")
	wantStatus(c, "send still works", do(c, "POST", u+"/xhr_send", nil, `["s"]`), 204)
	if got := st.until(c, "\n"); got != "a[\"s\"]\n" {
		c.Errorf("first receiver got %q, want a[\"s\"]", got)
	}
}

func checkCloseRepeats(c *C, base string) {
	u := session(base, "/close")
	r := do(c, "POST", u+"/xhr", nil, "")
	wantBody(c, "close endpoint", r, "o\n")
	for i := range 2 {
		r = do(c, "POST", u+"/xhr", nil, "")
		wantBody(c, fmt.Sprintf("poll %d after close", i), r, "c[3000,\"Go away!\"]\n")
	}
	st := open(c, "POST", session(base, "/close")+"/xhr_streaming", nil)
	defer st.close()
	if got := st.rest(c); !strings.HasSuffix(got, "\no\nc[3000,\"Go away!\"]\n") {
		c.Errorf("streaming close: %.80q... want o then c[3000,\"Go away!\"] and the end", got[max(0, len(got)-60):])
	}
}

func checkSendErrors(c *C, base string) {
	u := session(base, "/echo")
	wantBody(c, "open", do(c, "POST", u+"/xhr", nil, ""), "o\n")
	for _, tc := range []struct{ body, want string }{
		{"", "Payload expected."},
		{`["x`, "Broken JSON encoding."},
		{`{"a": 1}`, "Payload expected."},
	} {
		r := do(c, "POST", u+"/xhr_send", nil, tc.body)
		wantStatus(c, "send "+tc.body, r, 500)
		if !strings.Contains(r.body, tc.want) {
			c.Errorf("send %q: body %q, want %q", tc.body, r.body, tc.want)
		}
	}
	wantStatus(c, "empty array", do(c, "POST", u+"/xhr_send", nil, `[]`), 204)
	wantStatus(c, "then a message", do(c, "POST", u+"/xhr_send", nil, `["b"]`), 204)
	wantBody(c, "poll", do(c, "POST", u+"/xhr", nil, ""), "a[\"b\"]\n")
	for _, m := range []string{"GET", "PUT"} {
		r := do(c, m, u+"/xhr", nil, "")
		wantStatus(c, m+" xhr", r, 405)
		if r.h.Get("Allow") == "" {
			c.Errorf("%s xhr: 405 without Allow", m)
		}
	}
}

func checkXHROptions(c *C, base string) {
	for _, t := range []string{"xhr", "xhr_send", "xhr_streaming"} {
		for _, origin := range []string{"", "http://example.test", "null"} {
			h := map[string]string{"Access-Control-Request-Method": "POST"}
			if origin != "" {
				h["Origin"] = origin
			}
			what := "OPTIONS " + t + " origin " + origin
			r := do(c, "OPTIONS", session(base, "/echo")+"/"+t, h, "")
			if r.status != 204 && r.status != 200 {
				c.Errorf("%s: status %d", what, r.status)
			}
			cachedYear(c, what, r.h)
			if m := r.h.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "OPTIONS") || !strings.Contains(m, "POST") {
				c.Errorf("%s: Access-Control-Allow-Methods %q", what, m)
			}
			if r.h.Get("Access-Control-Max-Age") == "" {
				c.Errorf("%s: no Access-Control-Max-Age", what)
			}
			corsFor(c, what, r.h, origin)
		}
	}
}

func checkXHRCORS(c *C, base string) {
	u := session(base, "/echo")
	h := map[string]string{"Origin": "http://example.test", "Access-Control-Request-Headers": "a, b, c"}
	r := do(c, "POST", u+"/xhr", h, "")
	corsFor(c, "xhr", r.h, "http://example.test")
	wantHeader(c, "xhr", r.h, "Access-Control-Allow-Headers", "a, b, c")
	r = do(c, "POST", u+"/xhr_send", h, `["a"]`)
	corsFor(c, "xhr_send", r.h, "http://example.test")
	wantHeader(c, "xhr_send", r.h, "Access-Control-Allow-Headers", "a, b, c")
	r = do(c, "POST", session(base, "/echo")+"/xhr", map[string]string{"Origin": "http://example.test", "Access-Control-Request-Headers": ""}, "")
	wantNoHeader(c, "empty request headers", r.h, "Access-Control-Allow-Headers")
}

func checkXHRStreaming(c *C, base string) {
	u := session(base, "/echo")
	st := open(c, "POST", u+"/xhr_streaming", nil)
	defer st.close()
	wantHeaderPrefix(c, "xhr_streaming", st.r.Header, "Content-Type", "application/javascript; charset=utf-8")
	noCache(c, "xhr_streaming", st.r.Header)
	corsFor(c, "xhr_streaming", st.r.Header, "")
	if p := st.until(c, "\n"); p != strings.Repeat("h", 2048)+"\n" {
		c.Errorf("prelude: %d bytes, want 2048 h and a newline", len(p))
	}
	if o := st.until(c, "\n"); o != "o\n" {
		c.Errorf("open frame %q", o)
	}
	wantStatus(c, "send", do(c, "POST", u+"/xhr_send", nil, `["x"]`), 204)
	if m := st.until(c, "\n"); m != "a[\"x\"]\n" {
		c.Errorf("message frame %q", m)
	}
	// Past the response limit (4096 bytes here) the response ends.
	msg := `["` + strings.Repeat("x", 1000) + `"]`
	for range 5 {
		wantStatus(c, "send", do(c, "POST", u+"/xhr_send", nil, msg), 204)
	}
	rest := st.rest(c)
	if n := strings.Count(rest, "a[\""); n < 4 {
		c.Errorf("response ended after %d of 5 messages", n)
	}
	wantStatus(c, "send after the limit", do(c, "POST", u+"/xhr_send", nil, `["after"]`), 204)
	wantBody(c, "the session outlives its response", do(c, "POST", u+"/xhr", nil, ""), "a[\"after\"]\n")
}

func checkEventSource(c *C, base string) {
	u := session(base, "/echo")
	st := open(c, "GET", u+"/eventsource", nil)
	defer st.close()
	wantHeaderPrefix(c, "eventsource", st.r.Header, "Content-Type", "text/event-stream")
	noCache(c, "eventsource", st.r.Header)
	if p := st.until(c, "\r\n"); p != "\r\n" {
		c.Errorf("prelude %q, want an empty line", p)
	}
	if o := st.until(c, "\r\n\r\n"); o != "data: o\r\n\r\n" {
		c.Errorf("open event %q", o)
	}
	wantStatus(c, "send", do(c, "POST", u+"/xhr_send", nil, `["  \u000a\u000d\u0000 %"]`), 204)
	// Inside an event, '%' and raw line ends are percent-escaped.
	if m := st.until(c, "\r\n\r\n"); m != "data: a[\"  \\n\\r\\u0000 %25\"]\r\n\r\n" {
		c.Errorf("message event %q", m)
	}
	msg := `["` + strings.Repeat("x", 1000) + `"]`
	for range 5 {
		do(c, "POST", u+"/xhr_send", nil, msg)
	}
	if rest := st.rest(c); strings.Count(rest, "data: a[") < 4 {
		c.Errorf("eventsource response did not carry the messages up to its limit")
	}
}

func checkHTMLFile(c *C, base string) {
	for _, q := range []string{"", "?c=%20", "?c=x%3Cy"} {
		r := do(c, "GET", session(base, "/echo")+"/htmlfile"+q, nil, "")
		wantStatus(c, "htmlfile "+q, r, 500)
	}
	u := session(base, "/echo")
	st := open(c, "GET", u+"/htmlfile?c=%63allback", nil)
	defer st.close()
	wantHeaderPrefix(c, "htmlfile", st.r.Header, "Content-Type", "text/html; charset=utf-8")
	noCache(c, "htmlfile", st.r.Header)
	page := st.until(c, "\r\n\r\n")
	if len(page) < 1024 || !strings.Contains(page, "var c = parent.callback;") {
		c.Errorf("htmlfile page: %d bytes, want at least 1024 naming the callback", len(page))
	}
	if o := st.until(c, "</script>\r\n"); o != "<script>\np(\"o\");\n</script>\r\n" {
		c.Errorf("open script %q", o)
	}
	wantStatus(c, "send", do(c, "POST", u+"/xhr_send", nil, `["x"]`), 204)
	if m := st.until(c, "</script>\r\n"); m != "<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n" {
		c.Errorf("message script %q", m)
	}
}

func checkJSONP(c *C, base string) {
	for _, q := range []string{"", "?c=%20", "?c=x%3Cy"} {
		r := do(c, "GET", session(base, "/echo")+"/jsonp"+q, nil, "")
		wantStatus(c, "jsonp "+q, r, 500)
	}
	u := session(base, "/echo")
	r := do(c, "GET", u+"/jsonp?c=%63allback", nil, "")
	wantStatus(c, "jsonp", r, 200)
	wantHeaderPrefix(c, "jsonp", r.h, "Content-Type", "application/javascript; charset=utf-8")
	noCache(c, "jsonp", r.h)
	wantBody(c, "jsonp open", r, "/**/callback(\"o\");\r\n")
	r = do(c, "POST", u+"/jsonp_send", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "d=%5B%22x%22%5D")
	wantStatus(c, "jsonp_send form", r, 200)
	wantBody(c, "jsonp_send form", r, "ok")
	wantHeaderPrefix(c, "jsonp_send", r.h, "Content-Type", "text/plain; charset=utf-8")
	noCache(c, "jsonp_send", r.h)
	r = do(c, "POST", u+"/jsonp_send", map[string]string{"Content-Type": "text/plain"}, `["b"]`)
	wantBody(c, "jsonp_send raw", r, "ok")
	r = do(c, "GET", u+"/jsonp?c=x", nil, "")
	wantBody(c, "jsonp poll", r, "/**/x(\"a[\\\"x\\\",\\\"b\\\"]\");\r\n")
	u = session(base, "/close")
	wantBody(c, "jsonp close open", do(c, "GET", u+"/jsonp?c=x", nil, ""), "/**/x(\"o\");\r\n")
	wantBody(c, "jsonp close", do(c, "GET", u+"/jsonp?c=x", nil, ""), "/**/x(\"c[3000,\\\"Go away!\\\"]\");\r\n")
}

func checkJSONPSendErrors(c *C, base string) {
	u := session(base, "/echo")
	wantBody(c, "open", do(c, "GET", u+"/jsonp?c=x", nil, ""), "/**/x(\"o\");\r\n")
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, tc := range []struct {
		h          map[string]string
		body, want string
	}{
		{form, "d=", "Payload expected."},
		{form, "p=p", "Payload expected."},
		{form, "d=%5B%22x", "Broken JSON encoding."},
		{nil, "", "Payload expected."},
	} {
		r := do(c, "POST", u+"/jsonp_send", tc.h, tc.body)
		wantStatus(c, "jsonp_send "+tc.body, r, 500)
		if !strings.Contains(r.body, tc.want) {
			c.Errorf("jsonp_send %q: body %q, want %q", tc.body, r.body, tc.want)
		}
	}
	r := do(c, "POST", session(base, "/echo")+"/jsonp_send", form, "d=%5B%22x%22%5D")
	wantStatus(c, "jsonp_send to unknown session", r, 404)
}

func checkCookies(c *C, base string) {
	h := map[string]string{}
	want := "JSESSIONID=dummy; path=/"
	u := session(base, "/cookie_needed_echo")
	for i, tc := range []struct{ m, t string }{{"POST", "xhr"}, {"OPTIONS", "xhr"}, {"OPTIONS", "xhr_send"}} {
		r := do(c, tc.m, u+"/"+tc.t, h, "")
		if got := r.h.Get("Set-Cookie"); !strings.EqualFold(got, want) {
			c.Errorf("%s %s #%d: Set-Cookie %q, want %q", tc.m, tc.t, i, got, want)
		}
	}
	h["Cookie"] = "JSESSIONID=abcdef"
	r := do(c, "POST", session(base, "/cookie_needed_echo")+"/xhr", h, "")
	if got := r.h.Get("Set-Cookie"); !strings.EqualFold(got, "JSESSIONID=abcdef; path=/") {
		c.Errorf("with a cookie: Set-Cookie %q, want the client's value echoed", got)
	}
	for _, p := range []string{"/eventsource", "/htmlfile?c=x", "/jsonp?c=x"} {
		st := open(c, "GET", session(base, "/cookie_needed_echo")+p, nil)
		if got := st.r.Header.Get("Set-Cookie"); !strings.EqualFold(got, want) {
			c.Errorf("%s: Set-Cookie %q, want %q", p, got, want)
		}
		st.close()
	}
	r = do(c, "POST", session(base, "/echo")+"/xhr", map[string]string{"Cookie": "JSESSIONID=abcdef"}, "")
	wantNoHeader(c, "echo endpoint", r.h, "Set-Cookie")
}

// mustEscape lists the code points a server must send as \u escapes:
// control characters, and the format and special characters that some
// browsers drop or take for line ends inside a script or a stream.
func mustEscape(r rune) bool {
	switch {
	case r <= 0x1f, r >= 0x200c && r <= 0x200f, r >= 0x2028 && r <= 0x202f,
		r >= 0x2060 && r <= 0x206f, r >= 0xfff0 && r <= 0xffff:
		return true
	}
	return false
}

func checkServerEscapes(c *C, base string) {
	var sb strings.Builder
	for r := rune(0); r <= 0xffff; r++ {
		if mustEscape(r) && (r < 0xd800 || r > 0xdfff) {
			sb.WriteRune(r)
		}
	}
	text := sb.String()
	payload, _ := json.Marshal([]string{text})
	u := session(base, "/echo")
	wantBody(c, "open", do(c, "POST", u+"/xhr", nil, ""), "o\n")
	wantStatus(c, "send", do(c, "POST", u+"/xhr_send", nil, string(payload)), 204)
	r := do(c, "POST", u+"/xhr", nil, "")
	for _, ch := range r.body {
		if mustEscape(ch) && ch != '\n' {
			c.Errorf("U+%04X travels unescaped", ch)
			break
		}
	}
	var got []string
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(r.body, "a"), "\n")), &got); err != nil || len(got) != 1 || got[0] != text {
		c.Errorf("the escaped text does not decode to what was sent (%v)", err)
	}
}

func checkServerDecodes(c *C, base string) {
	// Every BMP code point but the surrogates, sent \u-escaped, 4096 to a
	// message (under every message size limit).
	u := session(base, "/echo")
	wantBody(c, "open", do(c, "POST", u+"/xhr", nil, ""), "o\n")
	var want []string
	for from := rune(0x20); from <= 0xffff; from += 4096 {
		var sb, esc strings.Builder
		for r := from; r < from+4096 && r <= 0xffff; r++ {
			if r >= 0xd800 && r <= 0xdfff || r == '"' || r == '\\' {
				continue
			}
			sb.WriteRune(r)
			fmt.Fprintf(&esc, "\\u%04x", r)
		}
		if sb.Len() == 0 {
			continue
		}
		want = append(want, sb.String())
		wantStatus(c, "send", do(c, "POST", u+"/xhr_send", nil, `["`+esc.String()+`"]`), 204)
	}
	r := do(c, "POST", u+"/xhr", nil, "")
	var got []string
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(r.body, "a"), "\n")), &got); err != nil {
		c.Fatalf("echo is not a message frame: %v: %.60q", err, r.body)
	}
	if len(got) != len(want) {
		c.Fatalf("%d messages back, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			c.Errorf("message %d: decoded %d runes, want %d", i, utf8.RuneCountInString(got[i]), utf8.RuneCountInString(want[i]))
		}
	}
}

func checkHTTP10(c *C, base string) {
	u := session(base, "/echo")
	path := u[strings.Index(u[7:], "/")+7:]
	out := rawExchange(c, base, "POST "+path+"/xhr HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 2*time.Second)
	if !strings.HasPrefix(out, "HTTP/1.") || !strings.HasSuffix(out, "\r\n\r\no\n") {
		c.Errorf("HTTP/1.0 poll: %q", out)
	}
	if strings.Contains(strings.ToLower(out), "transfer-encoding: chunked") {
		c.Errorf("HTTP/1.0 response must not be chunked")
	}
}

func checkHTTP10Streaming(c *C, base string) {
	u := session(base, "/close")
	path := u[strings.Index(u[7:], "/")+7:]
	out := rawExchange(c, base, "POST "+path+"/xhr_streaming HTTP/1.0\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n\r\n", 5*time.Second)
	if !strings.HasSuffix(out, "\no\nc[3000,\"Go away!\"]\n") {
		c.Errorf("HTTP/1.0 streaming (closed by the server): %q", out[max(0, len(out)-80):])
	}
	if strings.Contains(strings.ToLower(out), "chunked") {
		c.Errorf("HTTP/1.0 streaming must not be chunked")
	}
}

func checkHTTP11KeepAlive(c *C, base string) {
	u := session(base, "/echo")
	path := u[strings.Index(u[7:], "/")+7:]
	req := "POST " + path + "/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" +
		"POST " + path + "/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n[\"k\"]" +
		"POST " + path + "/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
	out := rawExchange(c, base, req, time.Second)
	if n := strings.Count(out, "HTTP/1.1 "); n != 3 {
		c.Errorf("three requests on one connection got %d responses: %q", n, out)
	}
	if !strings.Contains(out, "a[\"k\"]") {
		c.Errorf("keep-alive exchange lost the message: %q", out)
	}
	out = rawExchange(c, base, "GET /echo/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	if !strings.Contains(out, "\"entropy\"") {
		c.Errorf("Connection: close request: %q", out)
	}
}

func checkDisconnectDelay(c *C, base string) {
	u := session(base, "/echo")
	wantBody(c, "open", do(c, "POST", u+"/xhr", nil, ""), "o\n")
	wantStatus(c, "send", do(c, "POST", u+"/xhr_send", nil, `["kept"]`), 204)
	time.Sleep(2 * time.Second) // inside the 5 s delay: the session waits
	wantBody(c, "within the delay", do(c, "POST", u+"/xhr", nil, ""), "a[\"kept\"]\n")
	time.Sleep(8 * time.Second) // past it: gone
	wantStatus(c, "send after the delay", do(c, "POST", u+"/xhr_send", nil, `["x"]`), 404)
	wantBody(c, "a new session", do(c, "POST", u+"/xhr", nil, ""), "o\n")
}

var _ = http.StatusOK
