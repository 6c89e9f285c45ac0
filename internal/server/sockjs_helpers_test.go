package server

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// httpDo sends one request and returns the body.
func httpDo(tb testing.TB, method, url, body string) string {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// sjStream is an open streaming response.
type sjStream struct {
	r  *http.Response
	br *bufio.Reader
}

func openStream(tb testing.TB, url string) *sjStream {
	tb.Helper()
	r, err := http.Post(url, "text/plain", nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Body.Close() })
	return &sjStream{r: r, br: bufio.NewReader(r.Body)}
}

// until reads through the next delim.
func (s *sjStream) until(tb testing.TB, delim string) string {
	tb.Helper()
	var out []byte
	for !bytes.HasSuffix(out, []byte(delim)) {
		b, err := s.br.ReadByte()
		if err != nil {
			tb.Fatalf("stream ended (%v) after %q", err, out)
		}
		out = append(out, b)
	}
	return string(out)
}
