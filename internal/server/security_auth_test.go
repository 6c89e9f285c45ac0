package server_test

// Security tests over real sockets, part 1: tokens (every bad
// kind refused with 401 and no upgrade, every good kind and source
// admitted with the user id from sub), room permissions (join refused at
// the handshake, publish refused with an error message), expiry while
// open (close 4001, delayed by the grace), and the Origin policy. Each
// test shares its server with 200 bystanders that must lose nothing.

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
	"github.com/wsgate/wsgate/internal/wstest"
)

// crowd starts the 200 bystanders on a token server: each has its own
// user and may join only the bystanders' room.
func crowd(t *testing.T, addr string, o bystanderOpts) *bystanders {
	t.Helper()
	o.Token = func(user string) string { return hsToken(t, user, "bystanders") }
	return startBystanders(t, addr, o)
}

// TestAuthBadTokens: every kind of bad token, from every source, is
// refused with 401, a WWW-Authenticate challenge, a reason, and no
// upgrade; every kind of good token (HS256/384/512 from secret files,
// RS256/RS512, ES256 and EdDSA from PEM files chosen by kid) from every
// source is admitted, with the user id taken from sub.
func TestAuthBadTokens(t *testing.T) {
	t.Parallel()
	k := testSecKeys(t)
	_, addr, admin := secServer(t, func(c *config.Config) {
		c.Subprotocols = []string{"chat.v1"}
		c.PingInterval = 0
	})
	bys := crowd(t, addr, bystanderOpts{})
	before := opsScrape(t, admin)

	rooms := []string{"chat.*"}
	good := func(sub string, kv ...any) jwt.MapClaims { return claims(sub, rooms, kv...) }
	rs := func(c jwt.MapClaims) string { return mint(t, jwt.SigningMethodRS256, k.rsa, "rsa", c) }
	hs := func(c jwt.MapClaims) string { return mint(t, jwt.SigningMethodHS256, k.secret, "", c) }
	now := time.Now()
	valid := rs(good("mallory"))
	// A valid token whose claims are swapped for an admin's: the
	// signature no longer covers them.
	parts := strings.Split(valid, ".")
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, good("admin", "rooms", []string{">"})).SigningString()
	tampered := strings.Split(forged, ".")[1]
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, good("mallory")).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	ps256 := mint(t, jwt.SigningMethodPS256, k.rsa, "rsa", good("mallory"))

	type badCase struct {
		name   string
		token  string
		via    tokenVia
		extra  []string
		path   string // default /echo
		reason string // in the body
	}
	cases := []badCase{
		{name: "no token", reason: "no token"},
		{name: "non-Bearer Authorization", extra: []string{"Authorization: Basic dXNlcjpwYXNz"}, reason: "no token"},
		{name: "alg none", token: none, reason: "unsigned token"},
		{name: "HS256 with the RSA public key as secret, kid rsa", token: mint(t, jwt.SigningMethodHS256, k.rsaPEM, "rsa", good("mallory")), reason: "algorithm does not match key"},
		{name: "HS256 with the RSA public key as secret, no kid", token: mint(t, jwt.SigningMethodHS256, k.rsaPEM, "", good("mallory")), reason: "bad signature"},
		{name: "RS256 signed by an untrusted key", token: mint(t, jwt.SigningMethodRS256, k.rsa2, "rsa", good("mallory")), reason: "bad signature"},
		{name: "HS256 with a wrong secret", token: mint(t, jwt.SigningMethodHS256, k.wrongHS, "", good("mallory")), reason: "bad signature"},
		{name: "claims swapped under a valid signature", token: parts[0] + "." + tampered + "." + parts[2], reason: "bad signature"},
		{name: "signature stripped", token: parts[0] + "." + parts[1] + ".", reason: ""},
		{name: "ES256 against the RSA key", token: mint(t, jwt.SigningMethodES256, k.ec, "rsa", good("mallory")), reason: "algorithm does not match key"},
		{name: "PS256 (not accepted)", token: ps256, reason: "unsupported algorithm"},
		{name: "unknown kid", token: mint(t, jwt.SigningMethodRS256, k.rsa, "retired", good("mallory")), reason: "unknown key"},
		{name: "expired an hour ago", token: hs(good("mallory", "exp", now.Add(-time.Hour).Unix())), reason: "token expired"},
		{name: "expired beyond the leeway", token: rs(good("mallory", "exp", now.Add(-30*time.Second).Unix())), reason: "token expired"},
		{name: "nbf in the future", token: hs(good("mallory", "nbf", now.Add(time.Hour).Unix())), reason: "token not yet valid"},
		{name: "iat in the future", token: hs(good("mallory", "iat", now.Add(time.Hour).Unix())), reason: "token issued in the future"},
		{name: "wrong iss", token: hs(good("mallory", "iss", "https://evil.test")), reason: "wrong issuer"},
		{name: "missing iss", token: hs(good("mallory", "iss", nil)), reason: "wrong issuer"},
		{name: "wrong aud", token: hs(good("mallory", "aud", []string{"other", "api"})), reason: "wrong audience"},
		{name: "missing aud", token: hs(good("mallory", "aud", nil)), reason: "wrong audience"},
		{name: "missing exp", token: hs(good("mallory", "exp", nil)), reason: "token has no expiry"},
		{name: "exp not a number", token: hs(good("mallory", "exp", "tomorrow")), reason: "malformed token"},
		{name: "missing sub", token: hs(good("", "sub", nil)), reason: "missing or invalid subject"},
		{name: "sub not a safe id", token: hs(good("a b/../c")), reason: "missing or invalid subject"},
		{name: "rooms claim not patterns", token: hs(good("mallory", "rooms", 42)), reason: "malformed permission claim"},
		{name: "malformed: one segment", token: "notajwt", reason: "malformed token"},
		{name: "malformed: garbage segments", token: "a.b.c", reason: "malformed token"},
		{name: "malformed: empty Bearer", extra: []string{"Authorization: Bearer "}, reason: "malformed token"},
		{name: "two Authorization headers", extra: []string{"Authorization: Bearer " + valid, "Authorization: Bearer " + valid}, reason: "malformed token"},
		{name: "two access_token parameters", path: "/echo?access_token=" + valid + "&access_token=" + valid, reason: "malformed token"},
		{name: "empty access_token", path: "/echo?access_token=", reason: "malformed token"},
		{name: "two bearer protocol headers", extra: []string{"Sec-WebSocket-Protocol: bearer, " + valid, "Sec-WebSocket-Protocol: bearer, " + valid}, reason: "malformed token"},
		{name: "bearer protocol without a token", extra: []string{"Sec-WebSocket-Protocol: chat.v1, bearer"}, reason: "malformed token"},
		{name: "bad header is not rescued by a good query", path: "/echo?access_token=" + valid, extra: []string{"Authorization: Bearer " + hs(good("mallory", "exp", now.Add(-time.Hour).Unix()))}, reason: "token expired"},
		{name: "bad room token on a room path", path: "/room/chat.x", token: none, reason: "unsigned token"},
	}
	// The same bad tokens from the other two sources.
	for _, v := range []tokenVia{viaQuery, viaProtocol} {
		cases = append(cases,
			badCase{name: "alg none via " + v.String(), token: none, via: v, reason: "unsigned token"},
			badCase{name: "expired via " + v.String(), token: hs(good("mallory", "exp", now.Add(-time.Hour).Unix())), via: v, reason: "token expired"},
			badCase{name: "forged signature via " + v.String(), token: parts[0] + "." + tampered + "." + parts[2], via: v, reason: "bad signature"},
		)
	}
	// From an address of their own, under the connection-rate burst (50).
	src := srcAddr("127.0.0.2")
	if len(cases) > 50 {
		t.Fatalf("%d cases from one address would meet the connection rate limit", len(cases))
	}
	for _, tc := range cases {
		path := tc.path
		if path == "" {
			path = "/echo"
		}
		res := dialTokenFrom(t, src, addr, path, tc.token, tc.via, tc.extra...)
		if res.Status != http.StatusUnauthorized {
			if res.Conn != nil {
				res.Conn.Close()
			}
			t.Errorf("%s: handshake answered %d %q, want 401", tc.name, res.Status, strings.TrimSpace(res.Body))
			continue
		}
		challenge := `Bearer error="invalid_token"`
		if tc.reason == "no token" {
			challenge = "Bearer"
		}
		if got := res.Header.Get("WWW-Authenticate"); got != challenge {
			t.Errorf("%s: WWW-Authenticate %q, want %q", tc.name, got, challenge)
		}
		if !strings.Contains(res.Body, tc.reason) {
			t.Errorf("%s: body %q, want the reason %q", tc.name, res.Body, tc.reason)
		}
		if strings.Contains(res.Head, "Upgrade") || strings.Contains(res.Head, "Sec-WebSocket-Accept") {
			t.Errorf("%s: a 401 with upgrade headers: %q", tc.name, res.Head)
		}
	}

	// Good tokens, each with its own sub, which the admin API's user send
	// must reach.
	type goodCase struct {
		name, sub, token string
		via              tokenVia
		extra            []string
		protocol         string // the Sec-WebSocket-Protocol answered
	}
	goods := []goodCase{
		{name: "HS256 no kid", sub: "good-hs256", token: mint(t, jwt.SigningMethodHS256, k.secret, "", good("good-hs256"))},
		{name: "HS384 no kid", sub: "good-hs384", token: mint(t, jwt.SigningMethodHS384, k.secret, "", good("good-hs384"))},
		{name: "HS512 kid hs", sub: "good-hs512", token: mint(t, jwt.SigningMethodHS512, k.secret, "hs", good("good-hs512"))},
		{name: "RS256 kid rsa", sub: "good-rs256", token: rs(good("good-rs256"))},
		{name: "RS512 kid rsa", sub: "good-rs512", token: mint(t, jwt.SigningMethodRS512, k.rsa, "rsa", good("good-rs512"))},
		{name: "ES256 kid ec", sub: "good-es256", token: mint(t, jwt.SigningMethodES256, k.ec, "ec", good("good-es256"))},
		{name: "EdDSA kid ed", sub: "good-eddsa", token: mint(t, jwt.SigningMethodEdDSA, k.ed, "ed", good("good-eddsa"))},
		{name: "aud list containing ours", sub: "good-aud-list", token: hs(good("good-aud-list", "aud", []string{"other", testAudience}))},
		{name: "RS256 via query", sub: "good-query", token: rs(good("good-query")), via: viaQuery},
		{name: "ES256 via protocol", sub: "good-protocol", token: mint(t, jwt.SigningMethodES256, k.ec, "ec", good("good-protocol")), via: viaProtocol, protocol: "bearer"},
		{name: "EdDSA via protocol with a real subprotocol", sub: "good-protocol-chat", token: mint(t, jwt.SigningMethodEdDSA, k.ed, "ed", good("good-protocol-chat")), via: viaProtocol,
			extra: []string{"Sec-WebSocket-Protocol: chat.v1"}, protocol: "chat.v1"},
		{name: "marker in capitals", sub: "good-protocol-caps", extra: []string{"Sec-WebSocket-Protocol: Bearer, " + hs(good("good-protocol-caps")) + ", chat.v1"}, protocol: "chat.v1"},
	}
	src = srcAddr("127.0.0.3")
	for _, tc := range goods {
		res := dialTokenFrom(t, src, addr, "/echo", tc.token, tc.via, tc.extra...)
		c := mustUpgrade(t, res, tc.name)
		if got := res.Header.Values("Sec-WebSocket-Protocol"); len(got) > 1 || strings.Join(got, "") != tc.protocol {
			t.Errorf("%s: Sec-WebSocket-Protocol %q, want %q", tc.name, got, tc.protocol)
		}
		if tok := tc.token; tok != "" && strings.Contains(res.Head, tok[len(tok)-20:]) {
			t.Errorf("%s: the 101 carries the token: %q", tc.name, res.Head)
		}
		c.Echo(frame.OpText, []byte("hello "+tc.sub))
		if n := userSend(t, admin, tc.sub, "to "+tc.sub); n != 1 {
			t.Errorf("%s: user send to %q reached %d connections, want 1", tc.name, tc.sub, n)
		}
		c.ExpectMessage(frame.OpText, []byte("to "+tc.sub))
		c.Close()
	}

	// A server with public keys only (the key-confusion attack's target)
	// that also admits clients without a token: a missing token is
	// anonymous, a bad one is still 401.
	t.Run("keys only, anonymous allowed", func(t *testing.T) {
		var logs wstest.SyncBuffer
		_, addr2, admin2 := secServer(t, func(c *config.Config) {
			c.AuthSecretFiles = nil
			c.Anonymous = true
			c.PingInterval = 0
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		mustUpgrade(t, dialToken(t, addr2, "/echo", "", viaHeader), "no token").Echo(frame.OpText, []byte("anonymous"))
		mustUpgrade(t, dialToken(t, addr2, "/room/anything", "", viaHeader), "no token, any room").Close()
		for _, bad := range []struct{ name, token, reason string }{
			{"HS256 with the RSA public key as secret", mint(t, jwt.SigningMethodHS256, k.rsaPEM, "", good("mallory")), "HMAC tokens not accepted"},
			{"HS256 with the RSA public key as secret, kid rsa", mint(t, jwt.SigningMethodHS256, k.rsaPEM, "rsa", good("mallory")), "HMAC tokens not accepted"},
			{"alg none", none, "unsigned token"},
			{"expired", rs(good("mallory", "exp", now.Add(-time.Hour).Unix())), "token expired"},
			{"garbage", "x", "malformed token"},
		} {
			res := dialToken(t, addr2, "/echo", bad.token, viaHeader)
			if body := expectRefusal(t, res, http.StatusUnauthorized, bad.name); !strings.Contains(body, bad.reason) {
				t.Errorf("%s: body %q, want %q", bad.name, body, bad.reason)
			}
		}
		c := mustUpgrade(t, dialToken(t, addr2, "/echo", rs(good("keys-only-user")), viaHeader), "RS256 on the keys-only server")
		if n := userSend(t, admin2, "keys-only-user", "hi"); n != 1 {
			t.Errorf("user send reached %d connections, want 1", n)
		}
		c.ExpectMessage(frame.OpText, []byte("hi"))
		// Tokens never reach the log, refused or not, from any source.
		secret := rs(good("logged-user", "exp", now.Add(-time.Hour).Unix()))
		for _, v := range []tokenVia{viaHeader, viaQuery, viaProtocol} {
			expectRefusal(t, dialToken(t, addr2, "/echo", secret, v), http.StatusUnauthorized, "expired via "+v.String())
		}
		out := logs.String()
		if !strings.Contains(out, "handshake rejected") {
			t.Errorf("no rejection was logged at debug level:\n%s", out)
		}
		for _, tok := range []string{secret, none} {
			for _, seg := range strings.Split(tok, ".") {
				if len(seg) > 16 && strings.Contains(out, seg) {
					t.Errorf("a token is in the log:\n%s", out)
				}
			}
		}
	})

	after := opsScrape(t, admin)
	hs401 := map[string]string{"result": "unauthorized"}
	if d := metricDelta(after, before, "wsgate_handshakes_total", hs401); d != float64(len(cases)) {
		t.Errorf("wsgate_handshakes_total{result=unauthorized} rose by %v, want %d", d, len(cases))
	}
	if d := metricDelta(after, before, "wsgate_handshakes_total", map[string]string{"result": "ok"}); d != float64(len(goods)) {
		t.Errorf("wsgate_handshakes_total{result=ok} rose by %v, want %d", d, len(goods))
	}
	bys.check()
}

// TestAuthRoomPermissions: a join outside the token's rooms is refused
// with 403 at the handshake; a publish outside its publish patterns is
// dropped with a JSON "forbidden" error, reaches no member, and the
// publisher stays connected.
func TestAuthRoomPermissions(t *testing.T) {
	t.Parallel()
	_, addr, admin := secServer(t, func(c *config.Config) { c.PingInterval = 0 })
	bys := crowd(t, addr, bystanderOpts{})
	before := opsScrape(t, admin)

	// reader may join chat.* but publish only to chat.open; writer
	// publishes wherever it may join (no publish claim); watcher also
	// joins team.*.general; nobody has no rooms claim at all.
	k := testSecKeys(t)
	tok := func(sub string, kv ...any) string {
		return mint(t, jwt.SigningMethodHS256, k.secret, "", claims(sub, nil, kv...))
	}
	reader := tok("perm-reader", "rooms", []string{"chat.*"}, "publish", []string{"chat.open"})
	writer := tok("perm-writer", "rooms", []string{"chat.*"})
	watcher := tok("perm-watcher", "rooms", []string{"chat.*", "team.*.general"})
	nobody := tok("perm-nobody")
	readOnly := tok("perm-readonly", "rooms", "chat.*", "publish", []string{})

	joins := []struct {
		name, token, room string
		ok                bool
	}{
		{"outside the patterns", reader, "secret", false},
		{"* needs a segment", reader, "chat", false},
		{"* does not cross a dot", reader, "chat.a.b", false},
		{"prefix is not a pattern", reader, "chatter.a", false},
		{"no rooms claim joins nothing", nobody, "chat.x", false},
		{"inner * outside", watcher, "team.a.random", false},
		{"inner * inside", watcher, "team.a.general", true},
		{"pattern match", reader, "chat.lobby", true},
		{"rooms claim as a string", readOnly, "chat.lobby", true},
	}
	forbiddenJoins := 0
	for _, j := range joins {
		res := dialToken(t, addr, "/room/"+j.room, j.token, viaHeader)
		if j.ok {
			mustUpgrade(t, res, j.name).Close()
			continue
		}
		forbiddenJoins++
		body := expectRefusal(t, res, http.StatusForbidden, j.name)
		if !strings.Contains(body, "token does not allow joining this room") {
			t.Errorf("%s: 403 body %q", j.name, body)
		}
	}
	// nobody may still use the echo endpoint.
	mustUpgrade(t, dialToken(t, addr, "/echo", nobody, viaHeader), "echo without rooms").Echo(frame.OpText, []byte("echo"))

	// Publishing outside the publish patterns.
	r := mustUpgrade(t, dialToken(t, addr, "/room/chat.ro", reader, viaHeader), "reader")
	w := mustUpgrade(t, dialToken(t, addr, "/room/chat.ro", writer, viaHeader), "writer")
	v := mustUpgrade(t, dialToken(t, addr, "/room/chat.ro", watcher, viaHeader), "watcher")
	ro := mustUpgrade(t, dialToken(t, addr, "/room/chat.ro", readOnly, viaProtocol), "read-only")
	wstest.WaitFor(t, 10*time.Second, "4 members in chat.ro", func() bool { return roomMembers(t, admin, "chat.ro") == 4 })
	r.Send(true, 0, frame.OpText, []byte("forbidden 1"))
	r.Send(true, 0, frame.OpBinary, []byte("forbidden 2"))
	ro.Send(true, 0, frame.OpText, []byte("forbidden 3"))
	// The raw room endpoint has no error messages: the three are dropped
	// and counted, and the connections stay up.
	opsWaitMetric(t, admin, "3 forbidden publishes", func(p *promScrape) bool {
		return metricDelta(p, before, "wsgate_forbidden_total", map[string]string{"action": "publish"}) == 3
	})
	expectAlive(t, r, "reader after forbidden publishes")
	expectAlive(t, ro, "read-only after a forbidden publish")
	// Nothing of theirs reached a member: the first message each gets is
	// the writer's.
	w.Send(true, 0, frame.OpText, []byte("marker"))
	for _, c := range []*wstest.Conn{v, r, ro} {
		c.ExpectMessage(frame.OpText, []byte("marker"))
	}
	// Where the publish patterns allow it, the same reader publishes.
	r2 := mustUpgrade(t, dialToken(t, addr, "/room/chat.open", reader, viaQuery), "reader in chat.open")
	v2 := mustUpgrade(t, dialToken(t, addr, "/room/chat.open", watcher, viaHeader), "watcher in chat.open")
	wstest.WaitFor(t, 10*time.Second, "2 members in chat.open", func() bool { return roomMembers(t, admin, "chat.open") == 2 })
	r2.Send(true, 0, frame.OpText, []byte("allowed"))
	v2.ExpectMessage(frame.OpText, []byte("allowed"))

	after := opsScrape(t, admin)
	if d := metricDelta(after, before, "wsgate_forbidden_total", map[string]string{"action": "join"}); d != float64(forbiddenJoins) {
		t.Errorf("wsgate_forbidden_total{action=join} rose by %v, want %d", d, forbiddenJoins)
	}
	if d := metricDelta(after, before, "wsgate_forbidden_total", map[string]string{"action": "publish"}); d != 3 {
		t.Errorf("wsgate_forbidden_total{action=publish} rose by %v, want 3", d)
	}
	if d := metricDelta(after, before, "wsgate_handshakes_total", map[string]string{"result": "forbidden"}); d != float64(forbiddenJoins) {
		t.Errorf("wsgate_handshakes_total{result=forbidden} rose by %v, want %d", d, forbiddenJoins)
	}
	bys.check()
}

// roomMembers returns the member count of room from the admin API.
func roomMembers(tb testing.TB, admin, room string) int {
	tb.Helper()
	status, body := opsGet(tb, admin+"/api/rooms")
	if status != 200 {
		tb.Fatalf("GET /api/rooms: %d %s", status, body)
	}
	// {"rooms":[{"name":"x","members":2},...]}
	i := strings.Index(body, `"name":"`+room+`"`)
	if i < 0 {
		return 0
	}
	rest := body[i:]
	j := strings.Index(rest, `"members":`)
	if j < 0 {
		return 0
	}
	n := 0
	for _, ch := range rest[j+len(`"members":`):] {
		if ch < '0' || ch > '9' {
			break
		}
		n = n*10 + int(ch-'0')
	}
	return n
}

// TestAuthExpiry: a connection whose token expires while it is open is
// closed with 4001 "token expired" (and leaves its room) no earlier than
// exp plus the configured grace; the same connection still works inside
// the grace.
func TestAuthExpiry(t *testing.T) {
	t.Parallel()
	for _, grace := range []time.Duration{0, 3 * time.Second} {
		t.Run("grace="+grace.String(), func(t *testing.T) {
			t.Parallel()
			_, addr, admin := secServer(t, func(c *config.Config) {
				c.AuthExpiryGrace = grace
				c.PingInterval = 0
			})
			bys := crowd(t, addr, bystanderOpts{})
			k := testSecKeys(t)
			exp := time.Now().Add(2 * time.Second).Truncate(time.Second)
			short := func(sub string) string {
				return mint(t, jwt.SigningMethodES256, k.ec, "ec", claims(sub, []string{"expiring"}, "exp", exp.Unix()))
			}
			e := mustUpgrade(t, dialToken(t, addr, "/echo", short("short-echo"), viaHeader), "short-lived echo")
			m := mustUpgrade(t, dialToken(t, addr, "/room/expiring", short("short-member"), viaQuery), "short-lived member")
			stay := mustUpgrade(t, dialToken(t, addr, "/room/expiring", hsToken(t, "long-member", "expiring"), viaHeader), "long-lived member")
			e.Echo(frame.OpText, []byte("before expiry"))
			wstest.WaitFor(t, 10*time.Second, "2 members", func() bool { return roomMembers(t, admin, "expiring") == 2 })
			if grace > 0 {
				// Past exp, inside the grace: still served.
				time.Sleep(time.Until(exp.Add(grace / 3)))
				e.Echo(frame.OpText, []byte("inside the grace"))
			}
			bound := 15 * time.Second
			for _, c := range []struct {
				name string
				conn *wstest.Conn
			}{{"echo", e}, {"room member", m}} {
				c.conn.Timeout = time.Until(exp.Add(grace + bound))
				code, reason, err := c.conn.ReadClose()
				at := time.Now()
				if err != nil || code != server.CloseTokenExpired || reason != "token expired" {
					t.Fatalf("%s: want close 4001 %q within %v of exp+grace, got %d %q %v", c.name, "token expired", bound, code, reason, err)
				}
				if at.Before(exp.Add(grace)) {
					t.Errorf("%s: closed at exp%+v, before exp+grace (%v)", c.name, at.Sub(exp), grace)
				}
				t.Logf("%s: close 4001 at exp%+v (grace %v)", c.name, at.Sub(exp).Round(time.Millisecond), grace)
				_ = c.conn.WriteClose(uint16(code), "")
				if err := c.conn.ReadEOF(); err != nil {
					t.Errorf("%s: after the close handshake: %v", c.name, err)
				}
			}
			// The expired member left the room; the other one stays served.
			wstest.WaitFor(t, 10*time.Second, "the expired member to leave", func() bool { return roomMembers(t, admin, "expiring") == 1 })
			expectAlive(t, stay, "long-lived member")
			opsWaitMetric(t, admin, "wsgate_connections_closed_total{reason=token_expired} == 2", func(p *promScrape) bool {
				return p.sum("wsgate_connections_closed_total", map[string]string{"reason": "token_expired"}) == 2
			})
			bys.check()
		})
	}
}

// TestOriginPolicy: with an allow-list, only listed origins (exact,
// "*." patterns, "null" only when listed) or requests without Origin
// pass; without one, only same-origin pages; "*" needs AllowAnyOrigin. A
// forbidden origin is 403 even with a valid token.
func TestOriginPolicy(t *testing.T) {
	t.Parallel()
	_, addr, admin := secServer(t, func(c *config.Config) {
		c.Origins = []string{"https://*.example.com", "https://exact.test"}
	})
	_, addrNull, _ := secServer(t, func(c *config.Config) { c.Origins = []string{"null"} })
	_, addrSame, _ := secServer(t, nil)
	_, addrAny, _ := secServer(t, func(c *config.Config) { c.Origins, c.AllowAnyOrigin = []string{"*"}, true })
	bys := crowd(t, addr, bystanderOpts{})
	before := opsScrape(t, admin)
	cases := []struct {
		name, addr, origin string
		ok                 bool
	}{
		{"no Origin (not a browser)", addr, "", true},
		{"exact", addr, "https://exact.test", true},
		{"exact in capitals", addr, "HTTPS://EXACT.TEST", true},
		{"pattern", addr, "https://app.example.com", true},
		{"pattern, deeper", addr, "https://a.b.example.com", true},
		{"pattern needs a label", addr, "https://example.com", false},
		{"pattern, wrong scheme", addr, "http://app.example.com", false},
		{"pattern, suffix trick", addr, "https://evilexample.com", false},
		{"pattern, other port", addr, "https://app.example.com:8443", false},
		{"exact as a prefix", addr, "https://exact.test.evil.com", false},
		{"exact with a port", addr, "https://exact.test:444", false},
		{"unlisted", addr, "https://evil.test", false},
		{"null not listed", addr, "null", false},
		{"null listed", addrNull, "null", true},
		{"others on the null server", addrNull, "https://exact.test", false},
		{"same origin", addrSame, "http://" + addrSame, true},
		{"same host, https page", addrSame, "https://" + addrSame, true},
		{"same origin, capitals", addrSame, "HTTP://" + strings.ToUpper(addrSame), true},
		{"no Origin on the same-origin server", addrSame, "", true},
		{"cross origin", addrSame, "http://evil.test", false},
		{"same host, other port", addrSame, "http://" + strings.Split(addrSame, ":")[0] + ":1", false},
		{"null without a list", addrSame, "null", false},
		{"any origin with * and AllowAnyOrigin", addrAny, "https://anything.evil", true},
		{"null with * and AllowAnyOrigin", addrAny, "null", true},
	}
	forbidden := 0
	for _, tc := range cases {
		var extra []string
		if tc.origin != "" {
			extra = append(extra, "Origin: "+tc.origin)
		}
		res := dialToken(t, tc.addr, "/echo", hsToken(t, "origin-user"), viaHeader, extra...)
		if tc.ok {
			mustUpgrade(t, res, tc.name).Echo(frame.OpText, []byte(tc.origin))
			res.Conn.Close()
			continue
		}
		if tc.addr == addr {
			forbidden++
		}
		if body := expectRefusal(t, res, http.StatusForbidden, tc.name+" ("+tc.origin+")"); !strings.Contains(body, "origin not allowed") {
			t.Errorf("%s: 403 body %q", tc.name, body)
		}
	}
	// The origin is checked before the token: a forbidden origin is 403
	// whatever the token.
	for _, tok := range []string{"", "garbage", hsToken(t, "origin-user")} {
		forbidden++
		expectRefusal(t, dialToken(t, addr, "/echo", tok, viaHeader, "Origin: https://evil.test"), http.StatusForbidden, "evil origin, token "+tok)
	}
	after := opsScrape(t, admin)
	if d := metricDelta(after, before, "wsgate_handshakes_total", map[string]string{"result": "forbidden"}); d != float64(forbidden) {
		t.Errorf("wsgate_handshakes_total{result=forbidden} rose by %v, want %d", d, forbidden)
	}

	// "*" admits every web page: only together with AllowAnyOrigin.
	cfg := config.Default()
	cfg.Anonymous = true
	cfg.Origins = []string{"https://ok.test", "*"}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "allow-any-origin") {
		t.Errorf("origin * without AllowAnyOrigin: Validate = %v, want an error naming -allow-any-origin", err)
	}
	if _, err := server.New(cfg); err == nil {
		t.Error("server.New accepted origin * without AllowAnyOrigin")
	}
	cfg.AllowAnyOrigin = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("origin * with AllowAnyOrigin: %v", err)
	}
	bys.check()
}
