package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/wstest"
)

// TestDemoPages: in dev mode the WebSocket listener answers plain GET and
// HEAD requests for the demo's paths (from the event loop, with the
// responses package web's handler gives), while upgrades go on as ever.
func TestDemoPages(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) { c.DevMode = true })
	base := "http://" + srv.Addr().String()
	plain := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(method, path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for _, h := range header {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, page := get("GET", "/?user=ann")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") || !bytes.Contains(page, []byte("demo.js")) {
		t.Fatalf("GET /: %d %v %q", resp.StatusCode, resp.Header, page[:min(len(page), 200)])
	}
	etag := resp.Header.Get("ETag")
	resp, js := get("GET", "/wsgate.js", "Accept-Encoding: gzip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET /wsgate.js gzip: %d %v", resp.StatusCode, resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if src, _ := io.ReadAll(zr); !bytes.Contains(src, []byte("export class WsgateClient")) {
		t.Fatal("/wsgate.js is not the client")
	}
	if resp, body := get("HEAD", "/demo.css"); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength <= 0 {
		t.Fatalf("HEAD /demo.css: %d %d %q", resp.StatusCode, resp.ContentLength, body)
	}
	if resp, _ := get("GET", "/", "If-None-Match: "+etag); resp.StatusCode != 304 {
		t.Fatalf("revalidation: %d", resp.StatusCode)
	}
	if resp, _ := get("GET", "/other.js"); resp.StatusCode != 404 {
		t.Fatalf("GET /other.js: %d", resp.StatusCode)
	}
	if resp, _ := get("POST", "/"); resp.StatusCode == 200 {
		t.Fatal("POST / was served")
	}
	// The WebSocket endpoints are unchanged.
	w := wstest.Dial(t, srv.Addr().String(), "/ws")
	join(t, w, "lobby")

	// Without -dev the listener serves no page.
	prod := startTestServer(t, nil)
	if resp, err := plain.Get("http://" + prod.Addr().String() + "/"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("GET / without -dev: %v %v", resp, err)
	}
}

// TestDashboard: the admin listener serves the dashboard at /ui/ without
// the API key, which /api/* still requires.
func TestDashboard(t *testing.T) {
	srv := startTestServer(t, func(c *config.Config) { c.APIKey = "dash-key" })
	base := adminBase(srv)
	if code, body := adminDo(t, "GET", base, "/ui/", ""); code != 200 || !strings.Contains(body, "dashboard.js") {
		t.Fatalf("GET /ui/: %d %q", code, body[:min(len(body), 200)])
	}
	if code, _ := adminDo(t, "GET", base, "/ui/dashboard.js", ""); code != 200 {
		t.Fatalf("GET /ui/dashboard.js: %d", code)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noRedirect.Get(base + "/ui"); err != nil || resp.StatusCode != 301 || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /ui: %v %v", resp, err)
	}
	if code, _ := adminDo(t, "GET", base, "/api/stats", ""); code != 401 {
		t.Fatalf("/api/stats without the key: %d", code)
	}
}
