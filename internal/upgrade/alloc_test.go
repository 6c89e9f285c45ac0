package upgrade

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/admission"
	"github.com/wsgate/wsgate/internal/auth"
	"github.com/wsgate/wsgate/internal/limits"
)

// quietHost routes like testHost and admits everyone (or refuses with
// refuse) without recording anything, so it allocates nothing itself.
type quietHost struct{ refuse error }

func (h quietHost) Route(path []byte) (Route, bool) { return (&testHost{}).Route(path) }

func (h quietHost) Admit(r admission.Request) (admission.Client, error) {
	return admission.Client{}, h.refuse
}

func (quietHost) Release(string, netip.Addr) {}

// browserRequest is an upgrade request as a browser sends it, with a
// token in the query and in the subprotocol, and a deflate offer.
func browserRequest(target string) []byte {
	return request(target, "Origin: https://gw.example.com",
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"Accept-Encoding: gzip, deflate, br", "Accept-Language: en-GB,en;q=0.9",
		"Cache-Control: no-cache", "Pragma: no-cache",
		"Sec-WebSocket-Protocol: bearer, a.b.c, chat",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
}

// TestUpgradeAllocs checks what one upgrade allocates once the Upgrader
// is warm: nothing of its own but the room name a room endpoint's
// connection keeps. gobwas/ws allocates the rest: the accept key of a 101
// (writeAccept's slice escapes), and the status text of the answer it
// writes for a hook's refusal other than 400 (strconv.Itoa), which
// AppendRefusal then replaces.
func TestUpgradeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	cfg := testConfig()
	cfg.Deflate = &deflate.Options{}
	for _, tc := range []struct {
		name   string
		host   quietHost
		target string
		ok     bool
		want   float64
	}{
		{"echo", quietHost{}, "/echo?access_token=q.r.s", true, 1},
		{"room", quietHost{}, "/room/chat.lobby", true, 2},
		{"not found", quietHost{}, "/nowhere", false, 1},
		{"bad room", quietHost{}, "/room/a%20b", false, 0},
		{"token refused", quietHost{refuse: auth.ErrExpired}, "/echo", false, 0},
	} {
		u := New(cfg, tc.host)
		req := browserRequest(tc.target)
		buf := make([]byte, len(req))
		run := func() {
			copy(buf, req)
			if _, _, err := u.Upgrade(buf, testIP); (err == nil) != tc.ok {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		run()
		if n := testing.AllocsPerRun(200, run); n > tc.want {
			t.Errorf("%s: %v allocations per upgrade, want at most %v", tc.name, n, tc.want)
		}
	}
}

// BenchmarkUpgrade measures one upgrade of a browser-like request with a
// warm Upgrader: parsing, the token, subprotocol and deflate choice, the
// key and origin checks and the 101 (admission is the host's, here a
// no-op; internal/server's BenchmarkUpgrade includes the real gate).
func BenchmarkUpgrade(b *testing.B) {
	for _, tc := range []struct{ name, target string }{
		{"echo", "/echo"},
		{"room", "/room/chat.lobby"},
		{"refused", "/nowhere"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := testConfig()
			cfg.Deflate = &deflate.Options{}
			u := New(cfg, quietHost{})
			req := browserRequest(tc.target)
			buf := make([]byte, len(req))
			b.ReportAllocs()
			b.SetBytes(int64(len(req)))
			for b.Loop() {
				copy(buf, req)
				u.Upgrade(buf, testIP)
			}
		})
	}
}

// TestAppendRefusalAllocs checks that rendering a refusal allocates
// nothing, whatever its kind (a limits.Rejection and a wrapped token error
// included).
func TestAppendRefusalAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	errs := []error{ErrNotFound, ErrDraining, ws.ErrHandshakeBadMethod, ws.ErrHandshakeUpgradeRequired, io.EOF,
		fmt.Errorf("verify: %w", auth.ErrSignature), auth.ErrNoToken,
		limits.NewRejection(limits.ErrTooManyIPConns, http.StatusTooManyRequests, 7), errors.New("something: went wrong")}
	buf := make([]byte, 0, 512)
	for _, err := range errs {
		if n := testing.AllocsPerRun(100, func() { buf = AppendRefusal(buf[:0], err) }); n != 0 {
			t.Errorf("AppendRefusal(%v): %v allocations", err, n)
		}
	}
}
