package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// get serves one request to h over a real listener and returns the
// response with its body read.
func get(t *testing.T, srv *httptest.Server, method, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// No automatic gzip: the test asks for it explicitly.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func TestDemoServesItsFiles(t *testing.T) {
	srv := httptest.NewServer(Demo())
	defer srv.Close()
	for path, want := range map[string]string{
		"/":          "text/html; charset=utf-8",
		"/demo.js":   "text/javascript; charset=utf-8",
		"/demo.css":  "text/css; charset=utf-8",
		"/wsgate.js": "text/javascript; charset=utf-8",
	} {
		res, body := get(t, srv, "GET", path, nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != want || len(body) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes; want 200 %q", path, res.StatusCode, res.Header.Get("Content-Type"), len(body), want)
		}
		if res.Header.Get("Cache-Control") != "no-cache" || res.Header.Get("ETag") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: cache headers %v", path, res.Header)
		}
	}
	res, body := get(t, srv, "GET", "/", nil)
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "ws:") {
		t.Errorf("demo CSP %q", csp)
	}
	if !bytes.Contains(body, []byte("demo.js")) {
		t.Errorf("the page does not load demo.js:\n%s", body)
	}
	for _, path := range []string{"/index.html", "/ui/", "/../web.go", "/wsgate.d.ts", "/demo"} {
		if res, _ := get(t, srv, "GET", path, nil); res.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
}

func TestDashboardServesItsFiles(t *testing.T) {
	srv := httptest.NewServer(Dashboard())
	defer srv.Close()
	res, _ := get(t, srv, "GET", "/ui", nil)
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q, want 301 to /ui/", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := get(t, srv, "GET", "/ui/", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" || !bytes.Contains(body, []byte("dashboard.js")) {
		t.Fatalf("GET /ui/: %d %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self';") {
		t.Errorf("dashboard CSP %q", csp)
	}
	if res, _ := get(t, srv, "GET", "/", nil); res.StatusCode != 404 {
		t.Errorf("GET /: %d, want 404 (the dashboard lives under /ui/)", res.StatusCode)
	}
}

// TestReferencesResolve follows every src, href and ES import from each
// page and checks that the handler serves it, so a renamed file cannot
// leave a page half broken.
func TestReferencesResolve(t *testing.T) {
	ref := regexp.MustCompile(`(?:src|href)="([^":]+)"|(?:from|import) '(\./[^']+)'`)
	for name, c := range map[string]struct {
		h    http.Handler
		page string
	}{"demo": {Demo(), "/"}, "dashboard": {Dashboard(), DashboardPath}} {
		srv := httptest.NewServer(c.h)
		seen := map[string]bool{}
		queue := []string{c.page}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			if seen[p] {
				continue
			}
			seen[p] = true
			res, body := get(t, srv, "GET", p, nil)
			if res.StatusCode != 200 {
				t.Errorf("%s: GET %s: %d", name, p, res.StatusCode)
				continue
			}
			dir := p[:strings.LastIndex(p, "/")+1]
			for _, m := range ref.FindAllSubmatch(body, -1) {
				r := string(m[1]) + string(m[2])
				queue = append(queue, dir+strings.TrimPrefix(r, "./"))
			}
		}
		srv.Close()
		if len(seen) < 4 {
			t.Errorf("%s: only %d files reached from the page: %v", name, len(seen), seen)
		}
	}
}

func TestConditionalGzipHeadAndMethods(t *testing.T) {
	srv := httptest.NewServer(Demo())
	defer srv.Close()
	res, plain := get(t, srv, "GET", "/wsgate.js", nil)
	etag := res.Header.Get("ETag")
	if res, body := get(t, srv, "GET", "/wsgate.js", map[string]string{"If-None-Match": etag}); res.StatusCode != 304 || len(body) != 0 {
		t.Errorf("If-None-Match %s: %d, %d bytes; want 304, empty", etag, res.StatusCode, len(body))
	}
	if res, _ := get(t, srv, "GET", "/wsgate.js", map[string]string{"If-None-Match": `"other", W/` + etag}); res.StatusCode != 304 {
		t.Errorf("weak match in a list: %d, want 304", res.StatusCode)
	}
	if res, _ := get(t, srv, "GET", "/wsgate.js", map[string]string{"If-None-Match": `"other"`}); res.StatusCode != 200 {
		t.Errorf("If-None-Match other: %d, want 200", res.StatusCode)
	}

	res, gz := get(t, srv, "GET", "/wsgate.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if res.Header.Get("Content-Encoding") != "gzip" || len(gz) >= len(plain) {
		t.Fatalf("gzip: encoding %q, %d bytes of %d", res.Header.Get("Content-Encoding"), len(gz), len(plain))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if unz, _ := io.ReadAll(zr); !bytes.Equal(unz, plain) {
		t.Error("gzip body does not decompress to the file")
	}
	if res, _ := get(t, srv, "GET", "/wsgate.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 still got gzip")
	}

	res, body := get(t, srv, "HEAD", "/", nil)
	if res.StatusCode != 200 || len(body) != 0 || res.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD /: %d, %d bytes, Content-Length %q", res.StatusCode, len(body), res.Header.Get("Content-Length"))
	}
	res, _ = get(t, srv, "POST", "/", nil)
	if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}
