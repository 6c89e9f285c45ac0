package sockjs

import "bytes"

// Kind is what a path under an endpoint's base path asks for.
type Kind uint8

// The kinds of path Match recognises.
const (
	// KindNotFound is a path under the base that names nothing (404).
	KindNotFound Kind = iota
	// KindGreeting is the base path itself, with or without a slash.
	KindGreeting
	// KindInfo is /info.
	KindInfo
	// KindIframe is /iframe.html or /iframe-<version>.html.
	KindIframe
	// KindRawWebSocket is /websocket: plain WebSocket, no SockJS framing.
	KindRawWebSocket
	// KindSession is /{server}/{session}/{transport}.
	KindSession
)

// Transport is the last element of a session path.
type Transport uint8

// The session transports and the two sending endpoints.
const (
	TransportUnknown      Transport = iota
	TransportWebSocket              // websocket
	TransportXHRPolling             // xhr
	TransportXHRSend                // xhr_send
	TransportXHRStreaming           // xhr_streaming
	TransportEventSource            // eventsource
	TransportHTMLFile               // htmlfile
	TransportJSONPPolling           // jsonp
	TransportJSONPSend              // jsonp_send
)

var transportNames = [...]string{
	TransportUnknown:      "",
	TransportWebSocket:    "websocket",
	TransportXHRPolling:   "xhr",
	TransportXHRSend:      "xhr_send",
	TransportXHRStreaming: "xhr_streaming",
	TransportEventSource:  "eventsource",
	TransportHTMLFile:     "htmlfile",
	TransportJSONPPolling: "jsonp",
	TransportJSONPSend:    "jsonp_send",
}

// String returns the transport's path element.
func (t Transport) String() string { return transportNames[t] }

// Receiving reports whether the transport opens a receiving connection
// (as opposed to sending messages in).
func (t Transport) Receiving() bool {
	return t != TransportUnknown && t != TransportXHRSend && t != TransportJSONPSend
}

// Streaming reports whether a response of the transport carries many
// frames (until the response limit) rather than one.
func (t Transport) Streaming() bool {
	return t == TransportXHRStreaming || t == TransportEventSource || t == TransportHTMLFile
}

// Route is the result of Match.
type Route struct {
	Kind Kind
	// Server and Session are the ids of a KindSession path (sub-slices of
	// the path given to Match).
	Server, Session []byte
	// Transport is the transport of a KindSession path.
	Transport Transport
}

// Match reports whether path (a request path without its query) lies
// under base, the endpoint's base path without a trailing slash, and
// classifies it. Every route may end with one extra slash. Server and
// session ids are one or more bytes other than '/' and '.'; a session
// path with an unknown transport is KindNotFound.
func Match(base string, path []byte) (Route, bool) {
	if len(path) < len(base) || string(path[:len(base)]) != base {
		return Route{}, false
	}
	rest := path[len(base):]
	if len(rest) > 0 && rest[0] != '/' {
		return Route{}, false // "/echoes" is not under "/echo"
	}
	if len(rest) <= 1 {
		return Route{Kind: KindGreeting}, true
	}
	rest = rest[1:]
	if n := len(rest); rest[n-1] == '/' {
		rest = rest[:n-1]
	}
	switch {
	case string(rest) == "info":
		return Route{Kind: KindInfo}, true
	case string(rest) == "websocket":
		return Route{Kind: KindRawWebSocket}, true
	case isIframeName(rest):
		return Route{Kind: KindIframe}, true
	}
	i := bytes.IndexByte(rest, '/')
	if i < 0 {
		return Route{Kind: KindNotFound}, true
	}
	server, rest := rest[:i], rest[i+1:]
	i = bytes.IndexByte(rest, '/')
	if i < 0 {
		return Route{Kind: KindNotFound}, true
	}
	session, name := rest[:i], rest[i+1:]
	if !validID(server) || !validID(session) {
		return Route{Kind: KindNotFound}, true
	}
	for t := TransportWebSocket; t <= TransportJSONPSend; t++ {
		if string(name) == transportNames[t] {
			return Route{Kind: KindSession, Server: server, Session: session, Transport: t}, true
		}
	}
	return Route{Kind: KindNotFound}, true
}

// validID reports whether b can be a server or session id: not empty, no
// '/' and no '.'.
func validID(b []byte) bool {
	return len(b) > 0 && bytes.IndexByte(b, '/') < 0 && bytes.IndexByte(b, '.') < 0
}

// isIframeName reports whether name is iframe<v>.html where v is made of
// lower-case letters, digits, '-', '.' and '_' ("iframe.html",
// "iframe-1.6.1.html").
func isIframeName(name []byte) bool {
	const pre, suf = "iframe", ".html"
	if len(name) < len(pre)+len(suf) || string(name[:len(pre)]) != pre ||
		string(name[len(name)-len(suf):]) != suf {
		return false
	}
	for _, c := range name[len(pre) : len(name)-len(suf)] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// ValidCallback reports whether cb can name a JSONP or htmlfile callback:
// 1 to 32 bytes of letters, digits, '-', '_' and '.'.
func ValidCallback(cb []byte) bool {
	if len(cb) == 0 || len(cb) > maxCallback {
		return false
	}
	for _, c := range cb {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

const maxCallback = 32
