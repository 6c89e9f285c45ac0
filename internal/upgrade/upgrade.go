// Package upgrade reads a WebSocket upgrade request in place with
// gobwas/ws: its path, query and headers, the subprotocol and extension
// choice, the origin check, and the HTTP answer for each refusal. It
// holds no server state: the endpoint at a path and the admission of a
// client are asked of a Host. An Upgrader is reused from request to
// request and allocates nothing of its own in steady state.
package upgrade

import (
	"bytes"
	"encoding/base64"
	"github.com/wsgate/wsgate/internal/reqhead"
	"net/netip"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"

	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/admission"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/hub"
)

// Config is what an Upgrader knows of the server, fixed when it is made.
type Config struct {
	// MaxHeader is the largest request head, in bytes, the caller passes
	// to Upgrade.
	MaxHeader int
	// Deflate offers permessage-deflate with these options; nil: the
	// extension is never negotiated.
	Deflate *deflate.Options
	// Subprotocols is the server-wide subprotocol list, in preference
	// order, for endpoints without a list of their own.
	Subprotocols []string
	// QueryUser takes the user id from ?user= (dev mode); a token's
	// subject, if admission finds one, replaces it.
	QueryUser bool
	// Origins is the origin policy; nil admits every origin.
	Origins *Origins
}

// Route is where a request's path leads, as the Host's endpoint table
// says.
type Route struct {
	// Kind numbers the endpoint, from 1; Upgrade reports it back.
	Kind uint8
	// Prefix says the endpoint's path is a prefix and the rest of the
	// request's path, Room, names a room; Upgrade refuses a name that is
	// not a valid room name with ErrBadRoom.
	Prefix bool
	// Room may alias the path Route was given.
	Room []byte
	// Subprotocols is the endpoint's own list, server preference first;
	// nil: Config.Subprotocols applies and Result.Subprotocol stays empty.
	Subprotocols []string
	// LateAuth says a token may come after the upgrade (a login frame).
	LateAuth bool
}

// Host is the server state an Upgrader consults. Its methods run on the
// goroutine that called Upgrade.
type Host interface {
	// Route returns the endpoint at path (the request target without its
	// query); false means there is none, and the request is refused
	// with ErrNotFound.
	Route(path []byte) (Route, bool)
	// Admit decides on a request that passed every other check: the
	// token, the room permission, the connection maxima. Its error is
	// the refusal the client gets. An admitted client is counted:
	// Result.Counted tells the caller to release it when the connection
	// ends.
	Admit(r admission.Request) (admission.Client, error)
	// Release undoes an Admit whose request failed afterwards.
	Release(user string, ip netip.Addr)
}

// Result is what a successful upgrade decided about the connection.
type Result struct {
	// Response is the 101 response. It aliases the Upgrader: write it
	// before the next Upgrade.
	Response []byte
	// Kind is the endpoint's Route.Kind.
	Kind uint8
	// Room is the room a prefix endpoint's path names.
	Room string
	// User is the admitted user: the token's subject, or ?user= with
	// Config.QueryUser.
	User string
	// Identity is the verified token; nil for anonymous clients.
	Identity *auth.Identity
	// Counted says Admit counted the connection against the maxima.
	Counted bool
	// Deflate holds the permessage-deflate parameters when DeflateOK.
	Deflate deflate.Params
	// DeflateOK says permessage-deflate was negotiated.
	DeflateOK bool
	// Subprotocol is the subprotocol selected from the endpoint's own
	// list; empty for the server-wide list.
	Subprotocol string
}

// Upgrader parses upgrade requests with gobwas/ws's Upgrader and our
// hooks. Its hooks are closures built once, and its buffers are reused,
// so one Upgrader serves request after request (from a pool: it is not
// safe for concurrent use) without allocating.
type Upgrader struct {
	cfg   *Config
	host  Host
	up    ws.Upgrader
	rd    bytes.Reader
	out   []byte // the response gobwas writes, captured
	req   []byte // the raw request being parsed
	route Route
	neg   deflate.Negotiator
	// room and user are copied out of gobwas/ws's read buffer, which goes
	// back to its pool when Upgrade returns; the arrays are reused.
	room []byte // room name from the path
	user []byte // user id from ?user= with QueryUser
	// The token found in the request, the Origin and Host headers
	// (checked once all headers are in), the verified identity, the
	// source address, and whether Admit counted the connection.
	tok     auth.TokenCollector
	origin  []byte
	hostHdr []byte
	id      *auth.Identity
	ip      netip.Addr
	counted bool
	userID  string // the admitted user
	bearer  bool   // the client offered the "bearer" subprotocol marker
}

// New returns an Upgrader for cfg (kept, not copied) that asks host what
// only the server knows.
func New(cfg *Config, host Host) *Upgrader {
	u := &Upgrader{cfg: cfg, host: host, out: make([]byte, 0, 256)}
	u.up = ws.Upgrader{
		ReadBufferSize:  cfg.MaxHeader + 64,
		WriteBufferSize: 512,
		OnRequest:       u.onRequest,
		OnHeader:        u.onHeader,
		OnHost:          u.onHost,
		OnBeforeUpgrade: u.onBeforeUpgrade,
	}
	u.up.ProtocolCustom = u.selectProtocol
	if cfg.Deflate != nil {
		u.up.ExtensionCustom = u.onExtensions
	}
	return u
}

// Upgrade parses req, a complete request head ending in CRLFCRLF, from a
// client at ip. On success it returns what the upgrade decided, the 101
// response included; otherwise the refusal's HTTP response (aliasing u)
// and the refusal.
func (u *Upgrader) Upgrade(req []byte, ip netip.Addr) (Result, []byte, error) {
	u.req = req
	u.out = u.out[:0]
	if err := admission.CheckRequestHead(req); err != nil { // ambiguous at the HTTP level: 400
		return Result{}, AppendRefusal(u.out, err), err
	}
	u.route = Route{}
	u.room, u.user = u.room[:0], u.user[:0]
	u.origin, u.hostHdr = u.origin[:0], u.hostHdr[:0]
	u.tok.Reset()
	u.id, u.ip, u.counted, u.bearer, u.userID = nil, ip, false, false, ""
	u.neg.Reset(u.cfg.Deflate)
	u.rd.Reset(req)
	hs, err := u.up.Upgrade((*wire)(u))
	if err != nil {
		if u.counted { // a hook after Admit failed: undo the count
			u.host.Release(u.userID, u.ip)
			u.counted = false
		}
		return Result{}, AppendRefusal(u.out[:0], err), err
	}
	if hs.Protocol == "" && u.bearer {
		u.out = append(append(reopen(u.out, "Sec-WebSocket-Protocol: "), auth.ProtocolMarker...), "\r\n\r\n"...)
	}
	r := Result{Kind: u.route.Kind, Identity: u.id, Counted: u.counted, User: u.userID}
	if u.route.Subprotocols != nil { // else the server-wide list: nothing for the protocol to know
		r.Subprotocol = hs.Protocol
	}
	if len(u.room) > 0 {
		r.Room = string(u.room)
	}
	if p, ok := u.neg.Accepted(); ok && u.cfg.Deflate != nil {
		u.out = append(deflate.AppendResponse(reopen(u.out, "Sec-WebSocket-Extensions: "), p), "\r\n\r\n"...)
		r.Deflate, r.DeflateOK = p, true
	}
	r.Response = u.out
	return r, nil, nil
}

// wire is the io.ReadWriter gobwas/ws works on: it reads the request and
// captures the response.
type wire Upgrader

func (w *wire) Read(p []byte) (int, error) { return w.rd.Read(p) }

func (w *wire) Write(p []byte) (int, error) {
	w.out = append(w.out, p...)
	return len(p), nil
}

func (u *Upgrader) onRequest(uri []byte) error {
	path, query := uri, []byte(nil)
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	if u.cfg.QueryUser {
		u.user = append(u.user[:0], QueryValue(query, "user")...)
	}
	u.tok.Query(query)
	rt, ok := u.host.Route(path)
	switch {
	case !ok:
		return ErrNotFound
	case rt.Prefix && !hub.ValidName(string(rt.Room)):
		return ErrBadRoom
	}
	u.route = rt
	u.room = append(u.room[:0], rt.Room...)
	return nil
}

func (u *Upgrader) onHeader(key, value []byte) error {
	switch {
	case bytes.EqualFold(key, []byte("Origin")):
		u.origin = append(u.origin[:0], value...)
	case bytes.EqualFold(key, []byte("Authorization")):
		u.tok.Header(value)
	}
	return nil
}

func (u *Upgrader) onHost(host []byte) error {
	u.hostHdr = append(u.hostHdr[:0], host...)
	return nil
}

// selectProtocol reads a Sec-WebSocket-Protocol header: a "bearer, TOKEN"
// pair carries the token (never selected); of the rest, the first the
// endpoint speaks is selected. A client that sent only the bearer pair
// gets "bearer" back, since browsers fail a connection whose offered
// subprotocols all go unanswered.
func (u *Upgrader) selectProtocol(v []byte) (string, bool) {
	if u.tok.Protocol(v) {
		u.bearer = true
	}
	if own := u.route.Subprotocols; own != nil {
		return chooseOwn(v, own), true
	}
	ps := auth.ProtocolsOf(v)
	for {
		p, ok := ps.Next()
		if !ok {
			break
		}
		for _, sp := range u.cfg.Subprotocols {
			if string(p) == sp {
				return sp, true
			}
		}
	}
	return "", true
}

// chooseOwn selects, from one Sec-WebSocket-Protocol header value, the
// first of own (server preference) that the client offered; "" when none.
func chooseOwn(v []byte, own []string) string {
	best := len(own)
	ps := auth.ProtocolsOf(v)
	for {
		p, ok := ps.Next()
		if !ok {
			break
		}
		for i, o := range own[:best] {
			if string(p) == o {
				best = i
				break
			}
		}
	}
	if best == len(own) {
		return ""
	}
	return own[best]
}

// onExtensions is gobwas/ws's ExtensionCustom hook: it feeds each
// Sec-WebSocket-Extensions header line to the negotiator. The response
// header is written by Upgrade, after the whole request was seen.
func (u *Upgrader) onExtensions(value []byte, opts []httphead.Option) ([]httphead.Option, bool) {
	u.neg.Offer(value)
	return opts, true
}

// onBeforeUpgrade checks what gobwas/ws leaves unchecked (the key must be
// base64 of exactly 16 bytes: gobwas/ws checks only its length), then the
// origin, then asks the host to admit the client.
func (u *Upgrader) onBeforeUpgrade() (ws.HandshakeHeader, error) {
	key := reqhead.Value(u.req, "sec-websocket-key")
	var dec [18]byte
	n, err := base64.StdEncoding.Decode(dec[:], key)
	if err != nil || n != 16 {
		return nil, ErrBadKey
	}
	if !u.cfg.Origins.Allowed(u.origin, u.hostHdr) {
		return nil, ErrOriginForbidden
	}
	cl, err := u.host.Admit(admission.Request{Tokens: &u.tok, IP: u.ip, Room: u.room, User: u.user, LateAuth: u.route.LateAuth})
	u.id, u.userID = cl.ID, cl.User
	if err != nil {
		return nil, err
	}
	u.counted = true
	return nil, nil
}

// Origins is an origin policy: which web pages may open connections.
type Origins struct {
	// Any admits every origin (dev mode).
	Any bool
	// List, when not nil, is the allow-list an origin must match; nil
	// admits only a page served by the request's own host.
	List interface{ Allowed(origin []byte) bool }
}

// Allowed checks a request's Origin against the policy. A request
// without one (not from a browser) passes; with an allow-list the origin
// must match it; without one only a page from the same host may connect.
// A nil policy admits every origin.
func (o *Origins) Allowed(origin, host []byte) bool {
	if o == nil || o.Any || len(origin) == 0 {
		return true
	}
	if o.List != nil {
		return o.List.Allowed(origin)
	}
	_, rest, ok := bytes.Cut(origin, []byte("://"))
	return ok && len(host) > 0 && bytes.EqualFold(rest, host)
}

// QueryValue returns the raw value of the first key=value pair named key
// in a raw query. Values are used as identifiers only, so they are not
// unescaped; a value that is not a valid name is ignored.
func QueryValue(query []byte, key string) []byte {
	for len(query) > 0 {
		var pair []byte
		pair, query, _ = bytes.Cut(query, []byte("&"))
		if k, v, ok := bytes.Cut(pair, []byte("=")); ok && string(k) == key && hub.ValidName(string(v)) {
			return v
		}
	}
	return nil
}

// reopen drops the blank line that ends a 101 response and starts a
// header line named name (with its colon and space); the caller appends
// the value and "\r\n\r\n".
func reopen(resp []byte, name string) []byte {
	return append(resp[:len(resp)-2], name...)
}
