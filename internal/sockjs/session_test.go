package sockjs

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/poller"
)

// fakeStream records what a session writes.
type fakeStream struct {
	mu    sync.Mutex
	out   bytes.Buffer
	bufs  []*poller.Buf // shared Bufs received, by identity
	ended bool
	keep  bool
	gone  bool
}

func (f *fakeStream) Send(b *poller.Buf) {
	f.mu.Lock()
	f.out.Write(b.B)
	f.bufs = append(f.bufs, b)
	f.mu.Unlock()
	b.Release()
}
func (f *fakeStream) Write(p []byte) { f.mu.Lock(); f.out.Write(p); f.mu.Unlock() }
func (f *fakeStream) Flush()         {}
func (f *fakeStream) End(keep bool)  { f.mu.Lock(); f.ended, f.keep = true, keep; f.mu.Unlock() }
func (f *fakeStream) PeerGone() bool { return f.gone }

// body returns the response body after the head.
func (f *fakeStream) body() string {
	s := f.out.String()
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		return s[i+4:]
	}
	return s
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

type recHandler struct {
	mu             sync.Mutex
	opened, closed int
	msgs           []string
	echo           bool
	closeOnOpen    bool
}

func (h *recHandler) OnOpen(s *Session) {
	h.mu.Lock()
	h.opened++
	h.mu.Unlock()
	if h.closeOnOpen {
		s.Close(CodeGoAway, "Go away!")
	}
}
func (h *recHandler) OnMessage(s *Session, m []byte) {
	h.mu.Lock()
	h.msgs = append(h.msgs, string(m))
	h.mu.Unlock()
	if h.echo {
		s.Send(m)
	}
}
func (h *recHandler) OnClose(*Session) { h.mu.Lock(); h.closed++; h.mu.Unlock() }

type harness struct {
	t     *testing.T
	ep    *Endpoint
	clock *fakeClock
	h     *recHandler
}

func newHarness(t *testing.T, opts Options) *harness {
	c := &fakeClock{t: time.Unix(1700000000, 0)}
	h := &recHandler{echo: true}
	if opts.Handler == nil {
		opts.Handler = h
	}
	opts.Now = c.now
	return &harness{t: t, ep: NewEndpoint("/echo", opts), clock: c, h: h}
}

// do serves one raw request and returns the stream it wrote to.
func (h *harness) do(raw string, r *Receiver) (*fakeStream, Result) {
	h.t.Helper()
	var p Parser
	req, _, err := p.Parse([]byte(raw))
	if err != nil || req == nil {
		h.t.Fatalf("parse %q: %v", raw, err)
	}
	rt, ok := h.ep.Match(req.Path)
	if !ok {
		h.t.Fatalf("%s not under /echo", req.Path)
	}
	st := &fakeStream{}
	if r == nil {
		r = &Receiver{}
	}
	return st, h.ep.Serve(req, rt, st, r)
}

func post(path, body string) string {
	return "POST " + path + " HTTP/1.1\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func TestPollingSession(t *testing.T) {
	h := newHarness(t, Options{})
	st, res := h.do(post("/echo/0/s1/xhr", ""), nil)
	if res != ResultReceiving || !st.ended || !st.keep || st.body() != "2\r\no\n\r\n0\r\n\r\n" {
		t.Fatalf("first poll: %v ended=%v %q", res, st.ended, st.out.String())
	}
	if h.h.opened != 1 {
		t.Fatal("OnOpen not called")
	}
	st, _ = h.do(post("/echo/0/s1/xhr_send", `["a","b"]`), nil)
	if !strings.HasPrefix(st.out.String(), "HTTP/1.1 204 No Content\r\n") || !st.ended {
		t.Fatalf("xhr_send: %q", st.out.String())
	}
	if s := h.ep.Lookup([]byte("s1")); s.Queued() != 2 {
		t.Fatalf("queued %d", s.Queued())
	}
	st, _ = h.do(post("/echo/0/s1/xhr", ""), nil)
	if st.body() != "b\r\n"+`a["a","b"]`+"\n\r\n0\r\n\r\n" {
		t.Fatalf("second poll: %q", st.body())
	}
	// Nobody polls: the session times out after the disconnect delay.
	h.clock.advance(DefaultDisconnectDelay - time.Second)
	h.ep.Tick(h.clock.now())
	if h.ep.Sessions() != 1 {
		t.Fatal("session closed before the disconnect delay")
	}
	h.clock.advance(2 * time.Second)
	h.ep.Tick(h.clock.now())
	if h.ep.Sessions() != 0 || h.h.closed != 1 {
		t.Fatalf("sessions %d closed %d", h.ep.Sessions(), h.h.closed)
	}
	st, _ = h.do(post("/echo/0/s1/xhr_send", `["a"]`), nil)
	if !strings.HasPrefix(st.out.String(), "HTTP/1.1 404") {
		t.Fatalf("send to a gone session: %q", st.out.String())
	}
}

func TestStreamingSession(t *testing.T) {
	h := newHarness(t, Options{ResponseLimit: 100})
	var r1 Receiver
	st1, res := h.do(post("/echo/0/s/xhr_streaming", ""), &r1)
	if res != ResultReceiving || st1.ended {
		t.Fatal("streaming request ended at once")
	}
	if !strings.HasPrefix(st1.body(), "801\r\nhhhh") || !strings.HasSuffix(st1.body(), "h\n\r\n2\r\no\n\r\n") {
		t.Fatalf("prelude and open: %q", st1.body()[:20])
	}
	// A second receiving request is refused, the first stays.
	st2, _ := h.do(post("/echo/0/s/xhr_streaming", ""), nil)
	if !strings.HasSuffix(st2.body(), `c[2010,"Another connection still open"]`+"\n\r\n0\r\n\r\n") || !st2.ended {
		t.Fatalf("second receiver: %q", st2.body())
	}
	// Heartbeats on the idle stream.
	h.clock.advance(DefaultHeartbeat)
	h.ep.Tick(h.clock.now())
	if !strings.HasSuffix(st1.body(), "2\r\nh\n\r\n") {
		t.Fatalf("no heartbeat: %q", st1.body()[len(st1.body())-10:])
	}
	// Messages go out at once, until the response limit ends the response.
	s := r1.Session()
	for i := 0; !st1.ended; i++ {
		if i > 20 {
			t.Fatal("response limit never reached")
		}
		s.Send([]byte("0123456789"))
	}
	if r1.Session() != nil || s.State() != StateOpen {
		t.Fatal("receiver still attached or session not open after the limit")
	}
	// Messages sent meanwhile wait for the next request.
	s.Send([]byte("later"))
	st3, _ := h.do(post("/echo/0/s/xhr_streaming", ""), nil)
	if !strings.HasSuffix(st3.body(), "b\r\n"+`a["later"]`+"\n\r\n") {
		t.Fatalf("queued message not flushed: %q", st3.body()[2060:])
	}
}

func TestCloseAndAbort(t *testing.T) {
	h := newHarness(t, Options{})
	h.h.closeOnOpen = true
	st, _ := h.do(post("/echo/0/c/xhr", ""), nil)
	if st.body() != "2\r\no\n\r\n0\r\n\r\n" {
		t.Fatalf("open: %q", st.body())
	}
	for range 2 {
		st, _ = h.do(post("/echo/0/c/xhr", ""), nil)
		if st.body() != "13\r\n"+`c[3000,"Go away!"]`+"\n\r\n0\r\n\r\n" {
			t.Fatalf("closing session: %q", st.body())
		}
	}
	h.clock.advance(DefaultDisconnectDelay + time.Second)
	h.ep.Tick(h.clock.now())
	if h.ep.Sessions() != 0 || h.h.closed != 1 {
		t.Fatal("closed session not forgotten")
	}

	// Abort: the client drops the receiving request; the session ends now.
	h.h.closeOnOpen = false
	var r Receiver
	h.do(post("/echo/0/a/xhr_streaming", ""), &r)
	r.Abort()
	if h.ep.Sessions() != 0 || h.h.closed != 2 {
		t.Fatal("aborted session survives")
	}
	// A client that left without the server noticing does not block the
	// next request with 2010.
	st, _ = h.do(post("/echo/0/b/xhr_streaming", ""), &r)
	st.gone = true
	st2, _ := h.do(post("/echo/0/b/xhr_streaming", ""), nil)
	if !strings.HasSuffix(st2.body(), "2\r\no\n\r\n") {
		t.Fatalf("after an unnoticed abort: %q", st2.body()[2050:])
	}
}

func TestSlowConsumer(t *testing.T) {
	h := newHarness(t, Options{MaxQueue: 100})
	h.do(post("/echo/0/q/xhr", ""), nil)
	s := h.ep.Lookup([]byte("q"))
	for range 20 {
		s.Send([]byte("0123456789"))
	}
	if s.State() != StateClosing || s.Queued() != 0 {
		t.Fatalf("state %v queued %d", s.State(), s.Queued())
	}
	st, _ := h.do(post("/echo/0/q/xhr", ""), nil)
	if !strings.Contains(st.body(), `c[1008,"slow consumer"]`) {
		t.Fatalf("%q", st.body())
	}
}

func TestOneShotAnswers(t *testing.T) {
	h := newHarness(t, Options{CookieNeeded: true})
	cases := []struct{ raw, want string }{
		{"GET /echo HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 19\r\n\r\nWelcome to SockJS!\n"},
		{"GET /echo/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "Connection: keep-alive\r\n"},
		{"POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"},
		{"GET /echo/info HTTP/1.1\r\nOrigin: http://x\r\n\r\n", "Access-Control-Allow-Origin: http://x\r\nAccess-Control-Allow-Credentials: true\r\n"},
		{"OPTIONS /echo/a/b/xhr HTTP/1.1\r\nOrigin: null\r\nAccess-Control-Request-Headers: a, b\r\nCookie: JSESSIONID=k1\r\n\r\n",
			"Access-Control-Allow-Headers: a, b\r\nSet-Cookie: JSESSIONID=k1; path=/\r\n"},
		{"GET /echo/a/b/xhr HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST, OPTIONS\r\n"},
		{"GET /echo/a/b/jsonp HTTP/1.1\r\n\r\n", `"callback" parameter required`},
		{"GET /echo/a/b/jsonp?c=a%28 HTTP/1.1\r\n\r\n", `invalid "callback" parameter`},
		{"GET /echo/a/b/websocket HTTP/1.1\r\n\r\n", "Not a valid websocket request"},
		{"GET /echo/iframe-1.2.html HTTP/1.1\r\n\r\n", "SockJS.bootstrap_iframe();"},
		{"GET /echo/a./b/xhr HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n"},
		{post("/echo/a/b/xhr_send", `["x`), "Broken JSON encoding."},
		{post("/echo/a/b/xhr_send", ``), "Payload expected."},
		{"POST /echo/a/b/jsonp_send HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 2\r\n\r\nd=", "Payload expected."},
	}
	for _, c := range cases {
		st, res := h.do(c.raw, nil)
		if res != ResultDone || !st.ended || !strings.Contains(st.out.String(), c.want) {
			t.Errorf("%.50q: %v ended=%v\n%s\nwant %q", c.raw, res, st.ended, st.out.String(), c.want)
		}
	}
	st, res := h.do("GET /echo/a/b/websocket HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n", nil)
	if res != ResultUpgrade || st.out.Len() != 0 {
		t.Errorf("websocket upgrade: %v %q", res, st.out.String())
	}
}

func TestWebSocketSession(t *testing.T) {
	h := newHarness(t, Options{})
	st := &fakeStream{}
	var r Receiver
	s := h.ep.AttachWebSocket(st, &r)
	if st.out.String() != "\x81\x01o" || s.ID() != "" || h.ep.Sessions() != 0 {
		t.Fatalf("open: %q", st.out.String())
	}
	if err := r.ReceiveWebSocket([]byte(`["hi"]`)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(st.out.String(), "\x81\x07a[\"hi\"]") {
		t.Fatalf("echo: %q", st.out.String())
	}
	if err := r.ReceiveWebSocket([]byte(`["x`)); err != ErrBrokenJSON || !st.ended || h.h.closed != 1 {
		t.Fatalf("broken JSON: %v ended=%v closed=%d", err, st.ended, h.h.closed)
	}
}

// TestSharedDelivery checks that a message sent to many sessions is one
// Buf that every stream receives by reference.
func TestSharedDelivery(t *testing.T) {
	h := newHarness(t, Options{})
	var streams []*fakeStream
	var sessions []*Session
	for _, id := range []string{"x1", "x2", "x3"} {
		var r Receiver
		st, _ := h.do(post("/echo/0/"+id+"/xhr_streaming", ""), &r)
		streams, sessions = append(streams, st), append(sessions, r.Session())
	}
	m := NewMessage([]byte("broadcast"))
	for _, s := range sessions {
		s.SendMessage(m)
	}
	m.Release()
	last := func(st *fakeStream) *poller.Buf { return st.bufs[len(st.bufs)-1] }
	if last(streams[0]) != last(streams[1]) || last(streams[1]) != last(streams[2]) {
		t.Fatal("sessions got different buffers for one message")
	}
}
