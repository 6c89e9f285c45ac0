package server

import (
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
