package loadtest

import (
	"bytes"
	"testing"
)

// FuzzParseResponse feeds arbitrary response heads to the handshake parser:
// it must never panic, and a success must point inside the input.
func FuzzParseResponse(f *testing.F) {
	var acc [28]byte
	computeAccept([]byte("dGhlIHNhbXBsZSBub25jZQ=="), &acc)
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + string(acc[:]) + "\r\n\r\n"
	f.Add([]byte(ok), true)
	f.Add([]byte("HTTP/1.1 503 x\r\n\r\n"), false)
	f.Add([]byte(ok[:len(ok)-2]+"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"), true)
	f.Add([]byte("HTTP/1.1 101\r\n:\r\n\r\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, offered bool) {
		if !bytes.Contains(b, []byte("\r\n\r\n")) {
			return
		}
		r, err := parseResponse(b, &acc, offered)
		if err == nil && (r.header <= 0 || r.header > len(b)) {
			t.Fatalf("header end %d outside %d bytes", r.header, len(b))
		}
		if err == nil && r.deflate && !offered {
			t.Fatal("deflate accepted without an offer")
		}
	})
}

// FuzzStamp: parseStamp never panics and round-trips what putStamp wrote.
func FuzzStamp(f *testing.F) {
	f.Add([]byte("W0000000000000001000000020000000000000003|xyz"), int64(5), uint32(6), uint64(7))
	f.Fuzz(func(t *testing.T, b []byte, ts int64, id uint32, seq uint64) {
		parseStamp(b)
		p := make([]byte, stampLen)
		putStamp(p, ts, id, seq)
		gt, gi, gs, ok := parseStamp(p)
		if !ok || gt != ts || gi != id || gs != seq {
			t.Fatalf("round trip %d %d %d -> %d %d %d %v", ts, id, seq, gt, gi, gs, ok)
		}
	})
}
