package sockjsconf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client is the HTTP client of the checks: no redirects, no automatic
// decompression, a generous timeout per request.
var client = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// resp is a complete response.
type resp struct {
	status int
	h      http.Header
	body   string
}

// do sends one request and reads its whole response.
func do(c *C, method, u string, hdr map[string]string, body string) resp {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.Fatalf("%s %s: %v", method, u, err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	r, err := client.Do(req)
	if err != nil {
		c.Fatalf("%s %s: %v", method, u, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		c.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return resp{status: r.StatusCode, h: r.Header, body: string(b)}
}

// stream is an open streaming response read piece by piece.
type stream struct {
	r  *http.Response
	br *bufio.Reader
}

// open sends a request and returns its response once the head is in.
func open(c *C, method, u string, hdr map[string]string) *stream {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		c.Fatalf("%v", err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	r, err := client.Do(req)
	if err != nil {
		c.Fatalf("%s %s: %v", method, u, err)
	}
	return &stream{r: r, br: bufio.NewReaderSize(r.Body, 64<<10)}
}

// line reads up to and including the next delimiter.
func (s *stream) until(c *C, delim string) string {
	var out []byte
	for !bytes.HasSuffix(out, []byte(delim)) {
		b, err := s.br.ReadByte()
		if err != nil {
			c.Fatalf("stream ended (%v) after %q, waiting for %q", err, out, delim)
		}
		out = append(out, b)
	}
	return string(out)
}

// rest reads to the end of the response.
func (s *stream) rest(c *C) string {
	b, err := io.ReadAll(s.br)
	if err != nil {
		c.Fatalf("reading to the end: %v", err)
	}
	return string(b)
}

func (s *stream) close() { s.r.Body.Close() }

// session returns a fresh session URL under endpoint.
func session(base, endpoint string) string {
	return fmt.Sprintf("%s%s/%03d/%s", base, endpoint, rand.IntN(1000), randomID())
}

func randomID() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

// rawExchange writes a raw request on a new connection and reads what
// the server sends until it closes or goes quiet for quiet.
func rawExchange(c *C, base, request string, quiet time.Duration) string {
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		c.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(request)); err != nil {
		c.Fatalf("write: %v", err)
	}
	var out bytes.Buffer
	buf := make([]byte, 16<<10)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		_ = conn.SetReadDeadline(time.Now().Add(quiet))
		n, err := conn.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return out.String()
}

// wantStatus, wantHeader and friends record mismatches.
func wantStatus(c *C, what string, r resp, status int) {
	if r.status != status {
		c.Errorf("%s: status %d, want %d (body %.80q)", what, r.status, status, r.body)
	}
}

func wantHeader(c *C, what string, h http.Header, name, want string) {
	if got := h.Get(name); got != want {
		c.Errorf("%s: %s is %q, want %q", what, name, got, want)
	}
}

func wantHeaderPrefix(c *C, what string, h http.Header, name, prefix string) {
	if got := h.Get(name); !strings.HasPrefix(strings.ToLower(got), strings.ToLower(prefix)) {
		c.Errorf("%s: %s is %q, want it to start with %q", what, name, got, prefix)
	}
}

func wantNoHeader(c *C, what string, h http.Header, name string) {
	if got := h.Get(name); got != "" {
		c.Errorf("%s: unexpected %s %q", what, name, got)
	}
}

func wantBody(c *C, what string, r resp, body string) {
	if r.body != body {
		c.Errorf("%s: body %.200q, want %.200q", what, r.body, body)
	}
}

// noCache checks the header of answers that must never be cached.
func noCache(c *C, what string, h http.Header) {
	cc := h.Get("Cache-Control")
	if !strings.Contains(cc, "no-store") || !strings.Contains(cc, "no-cache") || !strings.Contains(cc, "must-revalidate") || !strings.Contains(cc, "max-age=0") {
		c.Errorf("%s: Cache-Control %q must forbid caching", what, cc)
	}
	wantNoHeader(c, what, h, "Expires")
	wantNoHeader(c, what, h, "Last-Modified")
}

// cachedYear checks the headers of answers that may be cached for a year.
func cachedYear(c *C, what string, h http.Header) {
	cc := h.Get("Cache-Control")
	if !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=31536000") {
		c.Errorf("%s: Cache-Control %q, want public for a year", what, cc)
	}
	exp, err := http.ParseTime(h.Get("Expires"))
	if err != nil || exp.Before(time.Now().Add(300*24*time.Hour)) {
		c.Errorf("%s: Expires %q, want about a year ahead", what, h.Get("Expires"))
	}
	wantNoHeader(c, what, h, "Last-Modified")
}

// corsFor checks the CORS answer to a request with origin ("" for none).
func corsFor(c *C, what string, h http.Header, origin string) {
	if origin == "" {
		wantHeader(c, what, h, "Access-Control-Allow-Origin", "*")
		return
	}
	wantHeader(c, what, h, "Access-Control-Allow-Origin", origin)
	wantHeader(c, what, h, "Access-Control-Allow-Credentials", "true")
}
