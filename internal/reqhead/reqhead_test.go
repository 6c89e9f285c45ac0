package reqhead

import "testing"

func TestValue(t *testing.T) {
	req := []byte("GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key:  k1 \r\nsec-websocket-key: k2\r\n\r\n")
	for _, tc := range []struct{ name, want string }{
		{"sec-websocket-key", "k1"}, // the first wins, trimmed, any case
		{"host", "a"},
	} {
		if got := Value(req, tc.name); got == nil || string(got) != tc.want {
			t.Errorf("Value(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := Value(req, "origin"); got != nil {
		t.Errorf("Value(origin) = %q, want nil", got)
	}
	if got := Value([]byte("GET / HTTP/1.1\r\nHost: a"), "host"); got != nil {
		t.Errorf("a line without its CRLF: %q, want nil", got)
	}
	if n := testing.AllocsPerRun(100, func() { Value(req, "host") }); n != 0 {
		t.Errorf("Value allocates %v times", n)
	}
}
