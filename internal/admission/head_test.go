package admission

import "testing"

func TestCheckRequestHead(t *testing.T) {
	const valid = "GET /echo HTTP/1.1\r\nHost: a\r\nOrigin: http://a\r\nX-Tab: a\tb\r\n\r\n"
	if err := CheckRequestHead([]byte(valid)); err != nil {
		t.Fatalf("valid head: %v", err)
	}
	cases := []struct {
		head string
		want error
	}{
		{"GET /e\x01cho HTTP/1.1\r\n\r\n", ErrRequestLineCtl},
		{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", ErrHeaderName},
		{"GET / HTTP/1.1\r\n: a\r\n\r\n", ErrHeaderName},
		{"GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", ErrHeaderValue},
		{"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", ErrHeaderValue},
		{"GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", ErrHeaderFold},
		{"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", ErrDupHost},
		{"GET / HTTP/1.1\r\nSec-WebSocket-Key: a\r\nSEC-WEBSOCKET-KEY: b\r\n\r\n", ErrDupKey},
		{"GET / HTTP/1.1\r\nOrigin: a\r\nOrigin: a\r\n\r\n", ErrDupOrigin},
	}
	for _, c := range cases {
		if err := CheckRequestHead([]byte(c.head)); err != c.want {
			t.Errorf("%q: %v, want %v", c.head, err, c.want)
		}
	}
}
