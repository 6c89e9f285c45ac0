package upgrade

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/wsgate/wsgate/frame/deflate"
	"github.com/wsgate/wsgate/internal/config"
)

// FuzzUpgrade feeds arbitrary request bytes to the upgrade parser
// (gobwas/ws's Upgrader with our hooks and response mapping). It must never
// panic, and must answer either a 101 with an accept key or one of the
// HTTP errors the server documents, with a well-formed status line, a
// Content-Length that matches the body, and Connection: close.
func FuzzUpgrade(f *testing.F) {
	good := "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	seeds := []string{
		good,
		"GET /room/lobby?user=alice HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: UPGRADE\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate\r\n" +
			"Sec-WebSocket-Protocol: chat, superchat\r\nOrigin: https://app.example.com\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /echo HTTP/1.0\r\n\r\n",
		"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
		"GET /room/bad%name HTTP/1.1\r\nHost: x\r\n\r\n",
		"\r\n\r\n",
		"GET\r\n\r\n",
		"GET / HTTP/1.1\r\nbroken header line\r\n\r\n",
		"GET /echo HTTP/1.1\r\nHost: x\r\nHost : y\r\nX: a\x00\rb\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	cfg := testConfig()
	cfg.QueryUser, cfg.Deflate = true, &deflate.Options{}
	cfg.Origins = &Origins{List: config.NewOriginMatcher([]string{"https://*.example.com"})}
	cfg.Subprotocols = []string{"chat"}
	allowed := map[int]bool{400: true, 403: true, 404: true, 405: true, 426: true, 431: true, 503: true}
	f.Fuzz(func(t *testing.T, req []byte) {
		h := &testHost{}
		in := append([]byte(nil), req...)
		u, resp, err := New(cfg, h).Upgrade(in, testIP)
		if err == nil {
			resp, kind := u.Response, u.Kind
			if !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 Switching Protocols\r\n")) ||
				!bytes.Contains(resp, []byte("\r\nSec-WebSocket-Accept: ")) || !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
				t.Fatalf("accepted with a bad response %q", resp)
			}
			if kind == 0 {
				t.Fatalf("accepted without an endpoint: %q", req)
			}
			return
		}
		head, body, ok := bytes.Cut(resp, []byte("\r\n\r\n"))
		if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.1 ")) || len(head) < 12 {
			t.Fatalf("malformed rejection %q for %q", resp, req)
		}
		status, err2 := strconv.Atoi(string(head[9:12]))
		if err2 != nil || !allowed[status] {
			t.Fatalf("unexpected status in %q (error %v)", head, err)
		}
		if !bytes.Contains(head, []byte("\r\nConnection: close")) ||
			!bytes.Contains(head, []byte("\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n")) &&
				!bytes.HasSuffix(head, []byte("\r\nContent-Length: "+strconv.Itoa(len(body)))) {
			t.Fatalf("rejection headers %q do not match body of %d bytes", head, len(body))
		}
	})
}
