// Package web holds wsgate's browser side, embedded in the binary: the
// JavaScript client of the /ws endpoint (wsgate.js), a demo chat built on
// it, and the admin dashboard.
//
// Demo serves the chat at the root of the WebSocket listener (dev mode);
// Dashboard serves the dashboard under DashboardPath on the admin listener.
// Both answer GET and HEAD with exact content types, an ETag per file and
// Cache-Control: no-cache (a browser revalidates and gets 304 while the
// binary is unchanged), gzip when the client accepts it, and a Content
// Security Policy that admits only the page's own scripts and styles.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed wsgate.js demo dashboard
var files embed.FS

// DashboardPath is where Dashboard expects to be mounted: it serves
// DashboardPath and everything under it, and redirects the path without
// the final slash to it.
const DashboardPath = "/ui/"

// Content Security Policies: the demo may connect to a /ws endpoint on
// another host (?ws=), the dashboard only to its own origin.
const (
	demoCSP      = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	dashboardCSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// asset is one file ready to serve.
type asset struct {
	body, gz    []byte // gz is nil when compression does not pay
	contentType string
	etag        string
}

// site is a set of assets by URL path.
type site struct {
	assets map[string]*asset
	csp    string
	prefix string // the mount path, for the redirect from prefix without its slash
}

// Demo returns the handler of the demo chat: / (the page), /demo.js,
// /demo.css and /wsgate.js. Other paths get 404.
func Demo() http.Handler { return newSite(demoCSP, "", demoRoutes()) }

// demoRoutes maps the demo's URL paths to its embedded files.
func demoRoutes() map[string]string {
	return map[string]string{
		"/":          "demo/index.html",
		"/demo.js":   "demo/demo.js",
		"/demo.css":  "demo/demo.css",
		"/wsgate.js": "wsgate.js",
	}
}

// Dashboard returns the handler of the dashboard, mounted at
// DashboardPath: /ui/ (the page), /ui/dashboard.js, /ui/dashboard.css;
// /ui redirects to /ui/. The page reads GET /metrics, /api/stats and
// /api/rooms of the same listener, with the API key the user types in.
func Dashboard() http.Handler {
	p := DashboardPath
	return newSite(dashboardCSP, strings.TrimSuffix(p, "/"), map[string]string{
		p:                   "dashboard/index.html",
		p + "dashboard.js":  "dashboard/dashboard.js",
		p + "dashboard.css": "dashboard/dashboard.css",
		p + "metrics.js":    "dashboard/metrics.js",
		p + "chart.js":      "dashboard/chart.js",
	})
}

// newSite loads the embedded files that routes name by URL path.
func newSite(csp, prefix string, routes map[string]string) *site {
	s := &site{assets: make(map[string]*asset, len(routes)), csp: csp, prefix: prefix}
	for url, name := range routes {
		body, err := fs.ReadFile(files, name)
		if err != nil {
			panic("web: embedded file missing: " + name) // the embed pattern and the routes disagree
		}
		s.assets[url] = newAsset(name, body)
	}
	return s
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	a := &asset{body: body, contentType: contentType(name), etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	if len(body) >= 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
		}
	}
	return a
}

// contentType names the media type of an embedded file by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return "application/octet-stream"
	}
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if s.prefix != "" && r.URL.Path == s.prefix {
		http.Redirect(w, r, s.prefix+"/", http.StatusMovedPermanently)
		return
	}
	a, ok := s.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Vary", "Accept-Encoding")
	if strings.HasPrefix(a.contentType, "text/html") {
		h.Set("Content-Security-Policy", s.csp)
		h.Set("X-Frame-Options", "DENY")
	}
	if etagMatch(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header names etag (or *).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip
// (named without a q of 0).
func acceptsGzip(header string) bool {
	for _, e := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(e), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		f, err := strconv.ParseFloat(q, 64)
		return err == nil && f > 0
	}
	return false
}
