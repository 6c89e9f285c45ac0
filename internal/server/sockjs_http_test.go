package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/config"
)

// rawHTTP is one client connection speaking raw HTTP/1.1.
type rawHTTP struct {
	net.Conn
	br *bufio.Reader
}

func dialHTTP(tb testing.TB, addr string) *rawHTTP {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawHTTP{Conn: nc, br: bufio.NewReader(nc)}
}

// response reads one response with a Content-Length body, or a chunked
// one to its end, and returns the status line and the body.
func (r *rawHTTP) response(tb testing.TB) (string, string) {
	tb.Helper()
	status, err := r.br.ReadString('\n')
	if err != nil {
		tb.Fatalf("reading status: %v", err)
	}
	length, chunked := -1, false
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			tb.Fatal(err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ": ")
		switch strings.ToLower(k) {
		case "content-length":
			fmt.Sscan(v, &length)
		case "transfer-encoding":
			chunked = v == "chunked"
		}
	}
	var body strings.Builder
	switch {
	case chunked:
		for {
			var n int
			line, _ := r.br.ReadString('\n')
			fmt.Sscanf(line, "%x", &n)
			if n == 0 {
				r.br.ReadString('\n')
				break
			}
			b := make([]byte, n+2)
			if _, err := io.ReadFull(r.br, b); err != nil {
				tb.Fatal(err)
			}
			body.Write(b[:n])
		}
	case length > 0:
		b := make([]byte, length)
		if _, err := io.ReadFull(r.br, b); err != nil {
			tb.Fatal(err)
		}
		body.Write(b)
	}
	return strings.TrimRight(status, "\r\n"), body.String()
}

// TestSockJSHTTPPieces: requests split at awkward places (inside the
// head, inside the body) on one keep-alive connection.
func TestSockJSHTTPPieces(t *testing.T) {
	srv := startTestServer(t, withSockJS)
	c := dialHTTP(t, srv.Addr().String())
	req := "POST /echo/000/pieces/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
	for _, piece := range []string{req[:7], req[7:30], req[30:]} {
		c.Write([]byte(piece))
		time.Sleep(20 * time.Millisecond) // separate reads on the server
	}
	if st, body := c.response(t); !strings.Contains(st, " 200 ") || body != "o\n" {
		t.Fatalf("open: %s %q", st, body)
	}
	send := "POST /echo/000/pieces/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n[\"in pieces\"]"
	for _, piece := range []string{send[:len(send)-10], send[len(send)-10 : len(send)-4], send[len(send)-4:]} {
		c.Write([]byte(piece))
		time.Sleep(20 * time.Millisecond)
	}
	if st, _ := c.response(t); !strings.Contains(st, " 204 ") {
		t.Fatalf("send: %s", st)
	}
	c.Write([]byte("POST /echo/000/pieces/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
	if _, body := c.response(t); body != "a[\"in pieces\"]\n" {
		t.Fatalf("poll: %q", body)
	}
}

// TestSockJSHTTPLimits: a head over -max-header gets 431, a body over
// the limit 413, garbage 400; each closes the connection.
func TestSockJSHTTPLimits(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) {
		withSockJS(c)
		c.MaxHeader = 1024
		c.MaxMessage = 1024
		c.RoomMaxMessage = 1024
	})
	addr := srv.Addr().String()
	for _, tc := range []struct {
		req    string
		status string
	}{
		{"GET /echo/info HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 2000) + "\r\n\r\n", " 431 "},
		{"POST /echo/000/big/xhr_send HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", " 413 "},
		{"GET /echo/info HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", " 400 "},
	} {
		c := dialHTTP(t, addr)
		c.Write([]byte(tc.req))
		st, _ := c.response(t)
		if !strings.Contains(st, tc.status) {
			t.Errorf("%.40q: %s, want%s", tc.req, st, tc.status)
		}
		if _, err := c.br.ReadByte(); err == nil {
			t.Errorf("%.40q: the connection stayed open", tc.req)
		}
	}
}

// TestSockJSHeartbeat: an idle streaming response gets "h" frames from
// the timer wheel.
func TestSockJSHeartbeat(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) {
		withSockJS(c)
		c.SockJS.Heartbeat = time.Second
	})
	st := openStream(t, "http://"+srv.Addr().String()+"/echo/000/hb/xhr_streaming")
	st.until(t, "\n") // prelude
	if o := st.until(t, "\n"); o != "o\n" {
		t.Fatalf("open %q", o)
	}
	for range 2 {
		if h := st.until(t, "\n"); h != "h\n" {
			t.Fatalf("heartbeat %q", h)
		}
	}
}

// TestSockJSRateLimit: a session's messages are rate limited like a
// connection's; the RateCloseAfter-th violation closes it with 1008.
func TestSockJSRateLimit(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) {
		withSockJS(c)
		c.NoLimits = false
		c.ConnRate = 0
		c.RateMsgs, c.RateMsgsBurst, c.RateCloseAfter = 0.001, 2, 2
	})
	base := "http://" + srv.Addr().String() + "/echo/000/rl"
	st := openStream(t, base+"/xhr_streaming")
	st.until(t, "\n") // prelude
	if o := st.until(t, "\n"); o != "o\n" {
		t.Fatalf("open %q", o)
	}
	httpDo(t, "POST", base+"/xhr_send", `["1","2","3","4","5"]`)
	for _, want := range []string{"a[\"1\"]\n", "a[\"2\"]\n"} {
		if got := st.until(t, "\n"); got != want {
			t.Fatalf("got %q, want %q (the burst)", got, want)
		}
	}
	if got := st.until(t, "\n"); !strings.HasPrefix(got, "c[1008,") {
		t.Fatalf("after the violations: %q, want c[1008,...]", got)
	}
}
