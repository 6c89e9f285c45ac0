package sockjs

import (
	"crypto/md5"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// Defaults of Options fields left zero.
const (
	DefaultHeartbeat       = 25 * time.Second
	DefaultDisconnectDelay = 5 * time.Second
	DefaultResponseLimit   = 128 << 10
	DefaultMaxQueue        = 512 << 10
	DefaultSockJSURL       = "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js"
)

// Options configure an Endpoint. Each zero field means its default.
type Options struct {
	// Handler is the application; required.
	Handler Handler
	// DisableWebSocket turns off the websocket transports: /info says so
	// and their paths answer 404.
	DisableWebSocket bool
	// CookieNeeded sets a JSESSIONID cookie on transport and OPTIONS
	// answers (echoing the client's, else "dummy"), for load balancers
	// that stick sessions by it; /info reports it as cookie_needed.
	CookieNeeded bool
	// Heartbeat is the interval of "h" frames on an idle receiving
	// request (default 25s).
	Heartbeat time.Duration
	// DisconnectDelay is how long a session waits for its next receiving
	// request before it is closed (default 5s).
	DisconnectDelay time.Duration
	// ResponseLimit is the number of frame bytes after which a streaming
	// response is ended so the client opens a fresh one (default 128 KiB).
	ResponseLimit int
	// MaxQueue bounds the bytes of messages a session holds while no
	// receiving request is attached (default 512 KiB); past it the
	// session is closed with 1008 "slow consumer", or with DropOldest
	// its oldest queued messages are discarded instead.
	MaxQueue   int
	DropOldest bool
	// SockJSURL is the script the iframe page loads (default: the
	// sockjs-client 1.x build on a public CDN).
	SockJSURL string
	// CheckOrigin decides whether a request carrying an Origin header may
	// proceed (it sees the whole request: a same-host policy needs the
	// Host); refused ones get 403. Nil allows every origin.
	CheckOrigin func(req *Request) bool
	// Now returns the current time (default time.Now); tests use a fake.
	Now func() time.Time
	// Scheduler arms session timers; nil means the server calls Tick.
	Scheduler Scheduler
}

func (o *Options) heartbeat() time.Duration { return orDefault(o.Heartbeat, DefaultHeartbeat) }
func (o *Options) disconnectDelay() time.Duration {
	return orDefault(o.DisconnectDelay, DefaultDisconnectDelay)
}
func (o *Options) responseLimit() int { return orDefault(o.ResponseLimit, DefaultResponseLimit) }
func (o *Options) maxQueue() int      { return orDefault(o.MaxQueue, DefaultMaxQueue) }

func orDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// Endpoint is one SockJS service under a base path (such as "/echo"): its
// sessions and the answers to every SockJS request under the path. It is
// safe for concurrent use.
type Endpoint struct {
	base string
	opts Options

	iframe []byte // the iframe page
	etag   []byte // its quoted MD5

	mu       sync.Mutex
	sessions map[string]*Session
	due      []*Session // Tick's scratch, guarded by tickMu
	tickMu   sync.Mutex
}

// NewEndpoint returns the endpoint for base, a path without a trailing
// slash.
func NewEndpoint(base string, opts Options) *Endpoint {
	if opts.Handler == nil {
		panic("sockjs: Options.Handler is nil")
	}
	if opts.SockJSURL == "" {
		opts.SockJSURL = DefaultSockJSURL
	}
	e := &Endpoint{base: base, opts: opts, sessions: make(map[string]*Session)}
	e.iframe = appendIframePage(nil, opts.SockJSURL)
	sum := md5.Sum(e.iframe)
	e.etag = []byte(`"` + hex.EncodeToString(sum[:]) + `"`)
	return e
}

// Base returns the endpoint's base path.
func (e *Endpoint) Base() string { return e.base }

// Match classifies path under the endpoint's base path (see Match).
func (e *Endpoint) Match(path []byte) (Route, bool) { return Match(e.base, path) }

func (e *Endpoint) now() time.Time {
	if e.opts.Now != nil {
		return e.opts.Now()
	}
	return time.Now()
}

// Sessions returns the number of sessions with an id.
func (e *Endpoint) Sessions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.sessions)
}

// Lookup returns the session with the given id, or nil.
func (e *Endpoint) Lookup(id []byte) *Session {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sessions[string(id)]
}

// Each calls fn for every session with an id (a snapshot: fn may close
// sessions).
func (e *Endpoint) Each(fn func(*Session)) {
	e.mu.Lock()
	all := make([]*Session, 0, len(e.sessions))
	for _, s := range e.sessions {
		all = append(all, s)
	}
	e.mu.Unlock()
	for _, s := range all {
		fn(s)
	}
}

// getOrCreate returns the session with id, creating it when absent.
func (e *Endpoint) getOrCreate(id []byte) *Session {
	e.mu.Lock()
	s := e.sessions[string(id)]
	if s == nil {
		s = &Session{ep: e, id: string(id)}
		e.sessions[s.id] = s
		// A session nobody attaches to still times out.
		s.mu.Lock()
		s.setDeadlineLocked(e.now().Add(e.opts.disconnectDelay()))
		s.mu.Unlock()
	}
	e.mu.Unlock()
	return s
}

// forget drops s from the registry (called with s.mu held).
func (e *Endpoint) forget(s *Session) {
	if s.id == "" {
		return
	}
	e.mu.Lock()
	if e.sessions[s.id] == s {
		delete(e.sessions, s.id)
	}
	e.mu.Unlock()
}

// fire hands an event from a locked step to the Handler.
func (e *Endpoint) fire(s *Session, ev sessionEvent) {
	switch ev {
	case evOpen:
		e.opts.Handler.OnOpen(s)
	case evClose:
		e.opts.Handler.OnClose(s)
	}
}

// Tick runs the timers of every session that is due at now. A server
// without a Scheduler calls it periodically (every second is plenty:
// heartbeats and the disconnect delay are coarse).
func (e *Endpoint) Tick(now time.Time) {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	n := now.UnixNano()
	e.mu.Lock()
	for _, s := range e.sessions {
		if d := s.deadline.Load(); d != 0 && d <= n {
			e.due = append(e.due, s)
		}
	}
	e.mu.Unlock()
	for i, s := range e.due {
		s.OnTimer(now)
		e.due[i] = nil
	}
	e.due = e.due[:0]
}

// Result tells the server what Serve did with a request.
type Result uint8

// Results of Serve.
const (
	// ResultDone: a complete response was written and the stream's End
	// called.
	ResultDone Result = iota
	// ResultReceiving: a receiving request was attached to its session;
	// the stream gets frames until the session calls End (the server
	// reads no further request from the connection until then, and calls
	// Receiver.Abort if the connection breaks first).
	ResultReceiving
	// ResultUpgrade: a valid WebSocket upgrade for the SockJS websocket
	// transport. Nothing was written; the server performs the handshake
	// and then calls AttachWebSocket.
	ResultUpgrade
	// ResultRawWebSocket: a valid WebSocket upgrade for /websocket, a
	// plain WebSocket without SockJS framing. Nothing was written.
	ResultRawWebSocket
)

// scratchPool holds buffers for building one-shot responses.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getScratch() *[]byte { return scratchPool.Get().(*[]byte) }

func putScratch(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	*b = (*b)[:0]
	scratchPool.Put(b)
}

// Serve answers req, whose path Match classified as rt under this
// endpoint. One-shot answers are written to st whole, followed by
// st.End. For a receiving transport r (idle) is configured and attached
// to the session, and frames follow on st until the session ends the
// response. See Result for the WebSocket cases.
func (e *Endpoint) Serve(req *Request, rt Route, st Stream, r *Receiver) Result {
	if len(req.Origin) > 0 && e.opts.CheckOrigin != nil && !e.opts.CheckOrigin(req) {
		e.simple(st, req, 403, "origin not allowed\n")
		return ResultDone
	}
	switch rt.Kind {
	case KindGreeting:
		if !e.method(st, req, "GET") {
			return ResultDone
		}
		e.reply(st, req, &head{status: 200, ctype: ctPlain}, []byte("Welcome to SockJS!\n"))
	case KindIframe:
		if e.method(st, req, "GET") {
			e.serveIframe(st, req)
		}
	case KindInfo:
		e.serveInfo(st, req)
	case KindRawWebSocket:
		return e.serveWebSocket(st, req, ResultRawWebSocket)
	case KindSession:
		return e.serveSession(req, rt, st, r)
	default:
		e.simple(st, req, 404, "404 Error: Page not found\n")
	}
	return ResultDone
}

// reply writes a one-shot response with body and ends it.
func (e *Endpoint) reply(st Stream, req *Request, h *head, body []byte) {
	b := getScratch()
	h.length = len(body)
	*b = e.appendHead(*b, req, h)
	*b = append(*b, body...)
	st.Write(*b)
	putScratch(b)
	st.Flush()
	st.End(req.KeepAlive())
}

// simple writes a plain-text response.
func (e *Endpoint) simple(st Stream, req *Request, status int, body string) {
	e.reply(st, req, &head{status: status, ctype: ctPlain}, []byte(body))
}

// method reports whether req uses method, answering 405 when it does not.
func (e *Endpoint) method(st Stream, req *Request, method string) bool {
	if req.IsMethod(method) {
		return true
	}
	e.reply(st, req, &head{status: 405, allow: method}, nil)
	return false
}

func appendIframePage(dst []byte, sockjsURL string) []byte {
	dst = append(dst, "<!DOCTYPE html>\n<html>\n<head>\n"+
		"  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"+
		"  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n"+
		"  <script src=\""...)
	dst = append(dst, sockjsURL...)
	return append(dst, "\"></script>\n  <script>\n"+
		"    document.domain = document.domain;\n    SockJS.bootstrap_iframe();\n  </script>\n"+
		"</head>\n<body>\n  <h2>Don't panic!</h2>\n"+
		"  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>\n"+
		"</body>\n</html>\n"...)
}

func (e *Endpoint) serveIframe(st Stream, req *Request) {
	if string(req.IfNoneMatch) == string(e.etag) {
		e.reply(st, req, &head{status: 304}, nil)
		return
	}
	e.reply(st, req, &head{status: 200, ctype: ctHTML, flags: hCacheYear, etag: e.etag}, e.iframe)
}

func (e *Endpoint) serveInfo(st Stream, req *Request) {
	switch {
	case req.IsMethod("OPTIONS"):
		e.reply(st, req, &head{status: 204, flags: hCORS | hCookie | hCacheYear | hMaxAge, allow: "OPTIONS, GET"}, nil)
	case req.IsMethod("GET"):
		var body [128]byte
		b := append(body[:0], `{"websocket":`...)
		b = strconv.AppendBool(b, !e.opts.DisableWebSocket)
		b = append(b, `,"origins":["*:*"],"cookie_needed":`...)
		b = strconv.AppendBool(b, e.opts.CookieNeeded)
		b = append(b, `,"entropy":`...)
		b = strconv.AppendUint(b, uint64(rand.Uint32()), 10)
		b = append(b, '}')
		e.reply(st, req, &head{status: 200, ctype: ctJSON, flags: hCORS | hNoCache}, b)
	default:
		e.reply(st, req, &head{status: 405, allow: "OPTIONS, GET"}, nil)
	}
}

// serveWebSocket checks a WebSocket request: 404 when WebSocket is off,
// 405 for a method other than GET, 400 without the upgrade headers.
func (e *Endpoint) serveWebSocket(st Stream, req *Request, ok Result) Result {
	switch {
	case e.opts.DisableWebSocket:
		e.reply(st, req, &head{status: 404, ctype: ctPlain, flags: hCacheYear}, []byte("404 Error: Page not found\n"))
	case !req.IsMethod("GET"):
		e.reply(st, req, &head{status: 405, allow: "GET"}, nil)
	case !equalFold(req.Upgrade, "websocket") || !req.ConnectionUpgrade:
		e.simple(st, req, 400, "Not a valid websocket request")
	default:
		return ok
	}
	return ResultDone
}

// transportMethods lists each transport's methods, as Allow says them.
var transportMethods = [...]string{
	TransportWebSocket:    "GET",
	TransportXHRPolling:   "POST, OPTIONS",
	TransportXHRSend:      "POST, OPTIONS",
	TransportXHRStreaming: "POST, OPTIONS",
	TransportEventSource:  "GET",
	TransportHTMLFile:     "GET",
	TransportJSONPPolling: "GET",
	TransportJSONPSend:    "POST",
}

func (e *Endpoint) serveSession(req *Request, rt Route, st Stream, r *Receiver) Result {
	t := rt.Transport
	if t == TransportWebSocket {
		return e.serveWebSocket(st, req, ResultUpgrade)
	}
	allowed := transportMethods[t]
	switch {
	case req.IsMethod("OPTIONS") && allowed == "POST, OPTIONS":
		e.reply(st, req, &head{status: 204, flags: hCORS | hCookie | hCacheYear | hMaxAge, allow: "OPTIONS, POST"}, nil)
		return ResultDone
	case string(req.Method) != primaryMethod(t):
		e.reply(st, req, &head{status: 405, allow: allowed}, nil)
		return ResultDone
	case t == TransportXHRSend || t == TransportJSONPSend:
		e.serveSend(req, rt, st)
		return ResultDone
	}
	return e.serveReceive(req, rt, st, r)
}

// primaryMethod returns the method that carries transport t.
func primaryMethod(t Transport) string {
	switch t {
	case TransportXHRPolling, TransportXHRSend, TransportXHRStreaming, TransportJSONPSend:
		return "POST"
	}
	return "GET"
}
