package admission

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/limits"
)

var testSecret = []byte("an HMAC secret long enough for the verifier's minimum")

func newTestGate(t *testing.T, o Options) *Gate {
	t.Helper()
	if o.Auth == nil {
		o.Auth = &auth.Options{Keys: []auth.Key{{Secret: testSecret}}}
	}
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func token(t *testing.T, claims jwt.MapClaims) *auth.TokenCollector {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	var tc auth.TokenCollector
	tc.Header([]byte("Bearer " + s))
	return &tc
}

var ip1 = netip.MustParseAddr("192.0.2.1")

func TestAdmit(t *testing.T) {
	g := newTestGate(t, Options{Conns: limits.CounterOptions{MaxPerUser: 1}})
	exp := time.Now().Add(time.Hour).Unix()

	cl, err := g.Admit(Request{Tokens: token(t, jwt.MapClaims{"sub": "ann", "exp": exp, "rooms": []string{"chat"}}), IP: ip1, Room: []byte("chat")})
	if err != nil || cl.User != "ann" || cl.ID == nil || cl.ID.Subject != "ann" {
		t.Fatalf("a good token: %+v, %v", cl, err)
	}
	if _, err := g.Admit(Request{Tokens: token(t, jwt.MapClaims{"sub": "ann", "exp": exp}), IP: ip1}); !errors.Is(err, limits.ErrTooManyUserConns) {
		t.Fatalf("ann's second connection: %v, want %v", err, limits.ErrTooManyUserConns)
	} else if k, ok := KindOf(err); !ok || k != ConnsPerUser {
		t.Fatalf("KindOf(%v) = %v, %v", err, k, ok)
	}
	g.Release("ann", ip1)
	if g.Counter().Total() != 0 {
		t.Fatalf("after Release: %d connections counted", g.Counter().Total())
	}

	if _, err := g.Admit(Request{Tokens: token(t, jwt.MapClaims{"sub": "bob", "exp": exp, "rooms": []string{"news"}}), IP: ip1, Room: []byte("chat")}); err != ErrRoomForbidden {
		t.Fatalf("a room the token does not name: %v", err)
	}
	if _, err := g.Admit(Request{Tokens: token(t, jwt.MapClaims{"sub": "bob", "exp": time.Now().Add(-time.Hour).Unix()}), IP: ip1}); !auth.IsRejection(err) {
		t.Fatalf("an expired token: %v", err)
	}
	if _, err := g.Admit(Request{Tokens: &auth.TokenCollector{}, IP: ip1}); err != auth.ErrNoToken {
		t.Fatalf("no token, anonymous clients refused: %v", err)
	}
	cl, err = g.Admit(Request{Tokens: &auth.TokenCollector{}, IP: ip1, LateAuth: true})
	if err != nil || cl.ID != nil || cl.User != "" {
		t.Fatalf("no token, late authentication: %+v, %v", cl, err)
	}
	g.Release("", ip1)
	if g.Counter().Total() != 0 {
		t.Fatalf("refusals left %d connections counted", g.Counter().Total())
	}
}

func TestAdmitAnonymous(t *testing.T) {
	g, err := New(Options{Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := g.Admit(Request{Tokens: &auth.TokenCollector{}, IP: ip1, User: []byte("dev"), Room: []byte("any")})
	if err != nil || cl.User != "dev" || cl.ID != nil {
		t.Fatalf("anonymous with a dev user: %+v, %v", cl, err)
	}
	// A token while no verifier can check it is refused, not ignored.
	if _, err := g.Admit(Request{Tokens: token(t, jwt.MapClaims{"sub": "ann"}), IP: ip1}); err != auth.ErrUnknownKey {
		t.Fatalf("a token without a verifier: %v", err)
	}
}

func TestCheckRate(t *testing.T) {
	g := newTestGate(t, Options{ConnRate: 0.001, ConnRateBurst: 2})
	for i := range 2 {
		if err := g.CheckRate(ip1); err != nil {
			t.Fatalf("connection %d within the burst: %v", i, err)
		}
	}
	err := g.CheckRate(ip1)
	var rej *limits.Rejection
	if !errors.As(err, &rej) || rej.Status != 429 {
		t.Fatalf("past the burst: %v", err)
	}
	if k, ok := KindOf(err); !ok || k != ConnectionRate {
		t.Fatalf("KindOf(%v) = %v, %v", err, k, ok)
	}
	if err := g.CheckRate(netip.MustParseAddr("192.0.2.2")); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

// TestAllowMessage walks the violation policy: the burst passes, the
// next messages are dropped with the count of violations left, and the
// CloseAfter-th violation closes.
func TestAllowMessage(t *testing.T) {
	g := newTestGate(t, Options{Conn: limits.ConnLimits{Msgs: limits.NewLimit(0.001, 2)}, CloseAfter: 3})
	var r *Rate
	for i := range 2 {
		if v := g.AllowMessage(&r, "", 10); !v.OK() {
			t.Fatalf("message %d within the burst: %+v", i, v)
		}
	}
	v := g.AllowMessage(&r, "", 10)
	if v.Action != limits.Drop || v.Limit != Messages || v.Left != 2 {
		t.Fatalf("first violation: %+v", v)
	}
	if got, want := string(v.AppendText(nil)), "message dropped: connection rate limit exceeded; closing after 2 more"; got != want {
		t.Fatalf("text %q, want %q", got, want)
	}
	if v := g.AllowMessage(&r, "", 10); v.Action != limits.Drop || v.Left != 1 {
		t.Fatalf("second violation: %+v", v)
	}
	if v := g.AllowMessage(&r, "", 10); v.Action != limits.Close {
		t.Fatalf("third violation: %+v, want Close", v)
	}
}

// TestAllowMessageKinds: a refusal names the limit behind it, and a
// message the user's limit refuses costs the connection nothing.
func TestAllowMessageKinds(t *testing.T) {
	g := newTestGate(t, Options{
		Conn:       limits.ConnLimits{Bytes: limits.NewLimit(0.001, 100)},
		User:       limits.ConnLimits{Msgs: limits.NewLimit(0.001, 1)},
		CloseAfter: 100,
	})
	var r *Rate
	if v := g.AllowMessage(&r, "ann", 60); !v.OK() {
		t.Fatalf("first: %+v", v)
	}
	if v := g.AllowMessage(&r, "ann", 10); v.Limit != UserMessages || !strings.Contains(string(v.AppendText(nil)), "user rate") {
		t.Fatalf("the user's second message: %+v", v)
	}
	// The refused message took nothing from the connection's 40 bytes left.
	if v := g.AllowMessage(&r, "", 40); !v.OK() {
		t.Fatalf("the connection's last 40 bytes: %+v", v)
	}
	if v := g.AllowMessage(&r, "", 1); v.Limit != Bytes {
		t.Fatalf("past the byte budget: %+v", v)
	}
}

func TestAllowFrames(t *testing.T) {
	g := newTestGate(t, Options{Frames: limits.NewLimit(0.001, 10)})
	var r *Rate
	if !g.AllowFrames(&r, 10) {
		t.Fatal("the burst refused")
	}
	if g.AllowFrames(&r, 1) {
		t.Fatal("a frame past the burst passed")
	}
	var none *Rate
	if g2 := newTestGate(t, Options{}); !g2.AllowFrames(&none, 1<<20) || none != nil {
		t.Fatal("no frame limit: refused, or state allocated")
	}
}

func TestExpiresIn(t *testing.T) {
	g := newTestGate(t, Options{ExpiryAllowance: time.Hour})
	if _, ok := g.ExpiresIn(nil); ok {
		t.Fatal("an anonymous client expires")
	}
	id, err := auth.NewIdentity("ann", time.Now(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := g.ExpiresIn(id); !ok || d < 59*time.Minute || d > time.Hour {
		t.Fatalf("ExpiresIn = %v, %v; want about the allowance", d, ok)
	}
}

func TestKindNames(t *testing.T) {
	names := KindNames()
	if len(names) != int(numKinds) || names[Frames] != "frames" || Messages.String() != "messages" {
		t.Fatalf("KindNames = %v", names)
	}
	names[0] = "changed"
	if KindNames()[0] != "messages" {
		t.Fatal("KindNames shares its array")
	}
}

// TestAllocs: the checks that run per message and per request allocate
// nothing once a connection has its state.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	g := newTestGate(t, Options{
		Conn:   limits.ConnLimits{Msgs: limits.NewLimit(1e9, 1e9), Bytes: limits.NewLimit(1e12, 1e12)},
		User:   limits.ConnLimits{Msgs: limits.NewLimit(1e9, 1e9)},
		Frames: limits.NewLimit(1e9, 1e9),
	})
	var r *Rate
	g.AllowMessage(&r, "ann", 1)
	head := []byte("GET /echo HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if n := testing.AllocsPerRun(1000, func() {
		g.AllowMessage(&r, "ann", 100)
		g.AllowFrames(&r, 3)
		if err := CheckRequestHead(head); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per message", n)
	}
}
