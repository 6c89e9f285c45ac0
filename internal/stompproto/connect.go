package stompproto

import (
	"bytes"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/protocol"
	"github.com/wsgate/wsgate/internal/stomp"
)

// connect answers CONNECT (or STOMP): version, identity, heart-beats.
func (s *session) connect(f *stomp.Frame) {
	h := &f.Headers
	v, err := s.version(h.Get(stomp.HeaderAcceptVersion))
	if err != nil {
		s.p.countError(errProtocol)
		s.failed = true
		out := append(s.c.Scratch(), "ERROR\nversion:"+stomp.SupportedVersions+"\ncontent-type:text/plain\n"...)
		body := "supported versions are " + stomp.SupportedVersions
		out = stomp.AppendHeader(out, stomp.CmdError, stomp.HeaderMessage, "no supported version in accept-version")
		out = stomp.AppendContentLength(out, len(body))
		out = stomp.AppendBody(out, []byte(body))
		s.c.Reply(frame.OpText, out)
		s.c.Fail(frame.CloseProtocolError, "stomp: no common version")
		return
	}
	hb, err := stomp.ParseHeartBeat(h.Get(stomp.HeaderHeartBeat))
	if err != nil {
		s.fail(errProtocol, "invalid heart-beat header", receiptOf(f), frame.CloseProtocolError)
		return
	}
	if !s.authenticate(h) {
		return
	}
	s.ver = v
	s.parser.SetVersion(v)
	s.num = s.p.sessions.Add(1)
	send, recv := s.p.o.HeartBeat.Negotiate(hb)
	s.hbSend.Store(millis(send))
	s.hbRecv.Store(millis(recv))
	s.since.Store(s.p.now(time.Now()))
	s.state.Store(stateConnected)
	if s.p.sm != nil {
		s.p.sm.Sessions.Inc()
	}
	out := stomp.AppendConnected(s.c.Scratch(), v, s.p.o.HeartBeat, s.p.sessionID(s.num), s.p.o.Server)
	if u := s.user(); u != "" {
		// Spring's user-name header: the principal the session acts as.
		out = insertHeader(out, "user-name:", u)
	}
	s.c.Reply(frame.OpText, out)
}

// millis returns d in whole milliseconds, at least 1 when d > 0 (at most
// about 49 days).
func millis(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(max(min(d.Milliseconds(), 1<<32-1), 1))
}

// insertHeader adds "name value\n" before the blank line of a frame that
// has no body (out ends in "\n\n\x00").
func insertHeader(out []byte, name, value string) []byte {
	end := len(out) - 2
	tail := [2]byte{out[end], out[end+1]}
	out = append(out[:end], name...)
	out = append(out, value...)
	out = append(out, '\n')
	return append(out, tail[0], tail[1])
}

// version picks the session's version from accept-version, capped by the
// WebSocket subprotocol (v11.stomp: at most 1.1). Without accept-version
// it is the subprotocol's version, or 1.2 when the client offered none.
func (s *session) version(accept []byte) (stomp.Version, error) {
	capV := stomp.V12
	if sp, ok := s.c.(protocol.Subprotocoler); ok {
		switch sp.Subprotocol() {
		case "v11.stomp":
			capV = stomp.V11
		case "v10.stomp":
			capV = stomp.V10
		}
	}
	if len(accept) == 0 {
		return capV, nil
	}
	v, err := stomp.NegotiateVersion(accept)
	if err != nil {
		return 0, err
	}
	return min(v, capV), nil
}

// authenticate settles the session's identity: the upgrade request's
// token if it had one, else a token from CONNECT (Authorization: Bearer,
// or passcode), verified before CONNECTED; in development mode the login
// header may name the user. It sends the ERROR itself and reports false
// when the session may not go on.
func (s *session) authenticate(h *stomp.Headers) bool {
	c := s.c
	if id := c.Identity(); id != nil {
		x := s.more()
		x.ident, x.user = id, c.User()
		return true
	}
	if u := c.User(); u != "" { // a dev-mode ?user=
		s.more().user = u
	}
	tok := connectToken(h)
	p := s.p
	switch {
	case tok != nil && p.o.Verify != nil:
		id, err := p.o.Verify(tok)
		if err != nil {
			s.fail(errAuth, "authentication failed: "+auth.Reason(err), nil, frame.ClosePolicyViolation)
			return false
		}
		return s.adopt(id, id.Subject)
	case p.o.TokenRequired:
		s.fail(errAuth, "a token is required: send it as the CONNECT frame's Authorization: Bearer header or passcode", nil, frame.ClosePolicyViolation)
		return false
	case p.o.DevLogin && s.user() == "":
		if login := string(h.Get(stomp.HeaderLogin)); login != "" && hub.ValidName(login) {
			return s.adopt(nil, login)
		}
	}
	return true
}

// adopt makes id (nil in dev mode) and user the session's identity, and
// the connection's where the Conn allows it (limits, user messages,
// expiry).
func (s *session) adopt(id *auth.Identity, user string) bool {
	if is, ok := s.c.(protocol.IdentitySetter); ok {
		if err := is.SetIdentity(id, user); err != nil {
			s.fail(errAuth, "session refused: "+err.Error(), nil, frame.ClosePolicyViolation)
			return false
		}
	}
	x := s.more()
	x.ident, x.user = id, user
	return true
}

// connectToken returns the token a CONNECT frame carries: the value of an
// "Authorization: Bearer TOKEN" header (either case of the name), else
// the passcode; nil when neither is there.
func connectToken(h *stomp.Headers) []byte {
	for _, name := range [...]string{"Authorization", "authorization"} {
		if v := h.Get(name); v != nil {
			if t, ok := cutBearer(v); ok {
				return t
			}
		}
	}
	if v := h.Get(stomp.HeaderPasscode); len(v) > 0 {
		if t, ok := cutBearer(v); ok {
			return t
		}
		return v
	}
	return nil
}

// cutBearer returns the token of "Bearer TOKEN" (scheme in any case).
func cutBearer(v []byte) ([]byte, bool) {
	if len(v) > 7 && bytes.EqualFold(v[:7], []byte("bearer ")) {
		return bytes.TrimSpace(v[7:]), true
	}
	return nil, false
}

// heartBeatGrace is added to the negotiated receive interval (half of it
// more, plus this) before a silent session is closed.
const heartBeatGrace = time.Second
