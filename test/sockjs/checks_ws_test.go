package sockjsconf

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// wsConn is a WebSocket client connection of the checks; rd holds what
// the dialer read past the handshake response.
type wsConn struct {
	net.Conn
	rd io.Reader
}

func (w *wsConn) Read(p []byte) (int, error) { return w.rd.Read(p) }

func dialWS(c *C, u string) *wsConn {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(u, "http"))
	if err != nil {
		c.Fatalf("dial %s: %v", u, err)
	}
	w := &wsConn{Conn: conn, rd: conn}
	if br != nil {
		w.rd = io.MultiReader(br, conn)
	}
	return w
}

// recv returns the next text message, or the close frame's code and
// reason as err (a wsutil.ClosedError).
func (w *wsConn) recv() (string, error) {
	_ = w.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := wsutil.ReadServerText(w)
	return string(b), err
}

func (w *wsConn) send(s string) error { return wsutil.WriteClientText(w, []byte(s)) }

func (w *wsConn) want(c *C, what, msg string) {
	got, err := w.recv()
	if err != nil || got != msg {
		c.Errorf("%s: got %q (%v), want %q", what, got, err, msg)
	}
}

// wantClosed reads until the server closes the connection (a close
// frame or the end of the stream) and returns the close frame, if any.
func (w *wsConn) wantClosed(c *C, what string) (wsutil.ClosedError, bool) {
	for range 10 {
		_, err := w.recv()
		var ce wsutil.ClosedError
		switch {
		case errors.As(err, &ce):
			return ce, true
		case err != nil:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.Errorf("%s: the server did not close", what)
			}
			return ce, false
		}
	}
	c.Errorf("%s: the server kept sending", what)
	return wsutil.ClosedError{}, false
}

func checkWebSocket(c *C, base string) {
	w := dialWS(c, session(base, "/echo")+"/websocket")
	defer w.Close()
	w.want(c, "open", "o")
	_ = w.send(`["a"]`)
	w.want(c, "array", `a["a"]`)
	_ = w.send(`"b"`)
	w.want(c, "bare string", `a["b"]`)
	_ = w.send(`["x","y"]`)
	got, _ := w.recv()
	if got != `a["x","y"]` && got != `a["x"]` {
		c.Errorf("two messages: %q", got)
	}
	if got == `a["x"]` {
		w.want(c, "second of two", `a["y"]`)
	}
	_ = w.send(``) // an empty frame carries nothing
	_ = w.send(`["z"]`)
	w.want(c, "after an empty frame", `a["z"]`)
}

func checkWebSocketHTTPErrors(c *C, base string) {
	u := session(base, "/echo") + "/websocket"
	r := do(c, "GET", u, nil, "")
	wantStatus(c, "GET without upgrade", r, 400)
	r = do(c, "GET", u, map[string]string{"Upgrade": "WebSocket", "Connection": "close"}, "")
	wantStatus(c, "Connection: close", r, 400)
	for _, h := range []map[string]string{{"Upgrade": "WebSocket", "Connection": "Upgrade"}, nil} {
		r := do(c, "POST", u, h, "")
		wantStatus(c, "POST", r, 405)
		if r.h.Get("Allow") == "" {
			c.Errorf("POST websocket: 405 without Allow")
		}
	}
	wantStatus(c, "disabled websocket", do(c, "GET", session(base, "/disabled_websocket_echo")+"/websocket", nil, ""), 404)
}

func checkWebSocketBrokenJSON(c *C, base string) {
	w := dialWS(c, session(base, "/echo")+"/websocket")
	defer w.Close()
	w.want(c, "open", "o")
	_ = w.send(`["a`)
	w.wantClosed(c, "broken JSON")
}

func checkWebSocketClose(c *C, base string) {
	w := dialWS(c, session(base, "/close")+"/websocket")
	defer w.Close()
	w.want(c, "open", "o")
	w.want(c, "close frame", `c[3000,"Go away!"]`)
	w.wantClosed(c, "after the close frame")
}

func checkRawWebSocket(c *C, base string) {
	w := dialWS(c, base+"/echo/websocket")
	defer w.Close()
	for _, m := range []string{"Hello world!\uffff", "", `["not sockjs"]`} {
		_ = w.send(m)
		w.want(c, "raw echo", m)
	}
}

func checkRawWebSocketClose(c *C, base string) {
	w := dialWS(c, base+"/close/websocket")
	defer w.Close()
	ce, ok := w.wantClosed(c, "raw close")
	if !ok || ce.Code != 3000 || ce.Reason != "Go away!" {
		c.Errorf("raw /close: close frame %v %q, want 3000 \"Go away!\"", ce.Code, ce.Reason)
	}
}

// TestConformance runs every check against the reference server and
// against wsgate: wsgate must pass each check that the reference passes.
// A check the reference fails is logged (with its failures) and not
// required.
func TestConformance(t *testing.T) {
	ref := startReference(t)
	gw, _ := startWsgate(t, wsgateConfig())
	var passedRef, passedGW atomic.Int32
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			t.Parallel()
			refFail := ck.runOn(ref)
			gwFail := ck.runOn(gw)
			if len(refFail) == 0 {
				passedRef.Add(1)
			} else {
				t.Logf("the reference fails this check too: %s", strings.Join(refFail, "; "))
			}
			if len(gwFail) == 0 {
				passedGW.Add(1)
				return
			}
			if len(refFail) == 0 {
				t.Errorf("wsgate fails what the reference passes:\n  %s", strings.Join(gwFail, "\n  "))
			} else {
				t.Logf("wsgate fails it as well: %s", strings.Join(gwFail, "; "))
			}
		})
	}
	t.Cleanup(func() {
		t.Logf("conformance: %d checks; reference passed %d, wsgate passed %d", len(checks), passedRef.Load(), passedGW.Load())
	})
}
