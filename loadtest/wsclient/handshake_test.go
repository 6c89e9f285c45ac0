package wsclient

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseResponse(t *testing.T) {
	var key [24]byte
	var acc [28]byte
	var r Rand
	r.Seed(9)
	makeKey(&r, &key, &acc)
	// RFC 6455 sample.
	var sample [28]byte
	computeAccept([]byte("dGhlIHNhbXBsZSBub25jZQ=="), &sample)
	if string(sample[:]) != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept %s", sample)
	}
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + string(acc[:]) + "\r\n\r\nXX"
	resp, err := parseResponse([]byte(ok), &acc, false)
	if err != nil || resp.header != len(ok)-2 || resp.deflate {
		t.Errorf("ok response: %+v %v", resp, err)
	}
	defl := strings.Replace(ok, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n", 1)
	if resp, err := parseResponse([]byte(defl), &acc, true); err != nil || !resp.deflate {
		t.Errorf("deflate response: %+v %v", resp, err)
	}
	if _, err := parseResponse([]byte(defl), &acc, false); err != ErrBadExtension {
		t.Errorf("unoffered extension: %v", err)
	}
	cases := map[string]string{
		"HTTP/1.1 503 Busy\r\n\r\n": "http_503_service_unavailable",
		strings.Replace(ok, string(acc[:]), "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1): "protocol",
		"garbage\r\n\r\n": "protocol",
	}
	for in, kind := range cases {
		_, err := parseResponse([]byte(in), &acc, false)
		if got := FailureKind(err); got != kind {
			t.Errorf("%q: kind %s (%v), want %s", in, got, err, kind)
		}
	}
}

func TestTargetRequest(t *testing.T) {
	tg, err := ParseTarget("ws://example.com:9000/echo?x=1", "")
	if err != nil || tg.Addr != "example.com:9000" || tg.Path != "/echo?x=1" {
		t.Fatalf("%+v %v", tg, err)
	}
	req := string(tg.appendRequest(nil, []byte("dGhlIHNhbXBsZSBub25jZQ=="), true))
	for _, want := range []string{"GET /echo?x=1 HTTP/1.1\r\n", "Host: example.com:9000\r\n", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "permessage-deflate", "\r\n\r\n"} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
	if tg, _ := ParseTarget("wss://h/x", ""); !tg.TLS || tg.Addr != "h:443" {
		t.Errorf("wss target %+v", tg)
	}
	if _, err := ParseTarget("http2://h", ""); err == nil {
		t.Error("bad scheme accepted")
	}
}

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

func TestStatusErrorKindAndReason(t *testing.T) {
	var acc [28]byte
	_, err := parseResponse([]byte("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 10\r\nContent-Length: 28\r\n\r\nlimits: too many from this\r\n"), &acc, false)
	var se *StatusError
	if !errors.As(err, &se) || se.Kind() != "http_429_too_many_requests" || se.RetryAfter != "10" || se.Body != "limits: too many from this" {
		t.Fatalf("%#v", err)
	}
	if FailureKind(&StatusError{Code: 599}) != "http_599" || FailureKind(&StatusError{Code: 503}) != "http_503_service_unavailable" {
		t.Error("kinds")
	}
}
