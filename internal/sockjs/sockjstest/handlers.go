package sockjstest

import (
	"sync/atomic"

	"github.com/wsgate/wsgate/internal/sockjs"
)

// Echo is a Handler that sends every message back to its session.
type Echo struct {
	// Opened and Closed count sessions.
	Opened, Closed atomic.Int64
}

// OnOpen implements sockjs.Handler.
func (h *Echo) OnOpen(*sockjs.Session) { h.Opened.Add(1) }

// OnMessage implements sockjs.Handler.
func (h *Echo) OnMessage(s *sockjs.Session, msg []byte) { s.Send(msg) }

// OnClose implements sockjs.Handler.
func (h *Echo) OnClose(*sockjs.Session) { h.Closed.Add(1) }

// Closer is a Handler that closes every session as soon as it opens, with
// c[3000,"Go away!"].
type Closer struct{}

// OnOpen implements sockjs.Handler.
func (Closer) OnOpen(s *sockjs.Session) { s.Close(sockjs.CodeGoAway, "Go away!") }

// OnMessage implements sockjs.Handler.
func (Closer) OnMessage(*sockjs.Session, []byte) {}

// OnClose implements sockjs.Handler.
func (Closer) OnClose(*sockjs.Session) {}

// ProtocolEndpoints returns the four endpoints the SockJS protocol test
// suite expects: /echo (response limit 4096 bytes, so the suite's limit
// tests finish quickly), /close, /disabled_websocket_echo and
// /cookie_needed_echo. base is applied to every Options first.
func ProtocolEndpoints(base sockjs.Options) []*sockjs.Endpoint {
	with := func(h sockjs.Handler, f func(*sockjs.Options)) sockjs.Options {
		o := base
		o.Handler = h
		if f != nil {
			f(&o)
		}
		return o
	}
	echo := &Echo{}
	return []*sockjs.Endpoint{
		sockjs.NewEndpoint("/echo", with(echo, func(o *sockjs.Options) { o.ResponseLimit = 4096 })),
		sockjs.NewEndpoint("/close", with(Closer{}, nil)),
		sockjs.NewEndpoint("/disabled_websocket_echo", with(echo, func(o *sockjs.Options) { o.DisableWebSocket = true })),
		sockjs.NewEndpoint("/cookie_needed_echo", with(echo, func(o *sockjs.Options) { o.CookieNeeded = true })),
	}
}
