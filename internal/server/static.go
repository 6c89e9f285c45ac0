package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"

	"github.com/wsgate/wsgate/web"
)

// The demo chat at the root of the WebSocket listener (dev mode only).
// The listener is not net/http: a request that is not an upgrade, for one
// of the demo's paths, is answered from the event loop with bytes the
// demo's http.Handler produced once at start-up, and the connection is
// closed after the response.

// staticSite is a few paths' recorded responses.
type staticSite struct {
	pages map[string]*staticPage
}

// staticPage is one path's responses: by method and encoding, and the
// 304 for a request that names the current ETag.
type staticPage struct {
	etag        string
	get, getGz  []byte
	head, headG []byte
	notModified []byte
}

// demoPaths are the paths web.Demo serves.
var demoPaths = []string{"/", "/demo.js", "/demo.css", "/wsgate.js"}

// newDemoSite records the demo's responses.
func newDemoSite() *staticSite {
	h := web.Demo()
	s := &staticSite{pages: map[string]*staticPage{}}
	for _, p := range demoPaths {
		pg := &staticPage{}
		pg.get, pg.etag = record(h, "GET", p, "", "")
		pg.getGz, _ = record(h, "GET", p, "gzip", "")
		pg.head, _ = record(h, "HEAD", p, "", "")
		pg.headG, _ = record(h, "HEAD", p, "gzip", "")
		pg.notModified, _ = record(h, "GET", p, "", pg.etag)
		s.pages[p] = pg
	}
	return s
}

// record runs one request through h and returns the whole HTTP/1.1
// response (with Connection: close) and its ETag.
func record(h http.Handler, method, path, acceptEncoding, ifNoneMatch string) ([]byte, string) {
	req := httptest.NewRequest(method, path, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(rec.Code) + " " + http.StatusText(rec.Code) + "\r\n")
	hdr := rec.Header()
	keys := make([]string, 0, len(hdr))
	for k := range hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range hdr[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(rec.Body.Bytes())
	return b.Bytes(), hdr.Get("ETag")
}

// response returns the recorded answer to a raw request, or nil when the
// request is not for the site: not GET or HEAD, an upgrade, or another
// path.
func (s *staticSite) response(req []byte) []byte {
	line, _, _ := bytes.Cut(req, []byte("\r\n"))
	method, rest, _ := bytes.Cut(line, []byte(" "))
	target, _, _ := bytes.Cut(rest, []byte(" "))
	path, _, _ := bytes.Cut(target, []byte("?"))
	head := string(method) == "HEAD"
	if (!head && string(method) != "GET") || len(headerValue(req, "upgrade")) > 0 {
		return nil
	}
	pg := s.pages[string(path)]
	if pg == nil {
		return nil
	}
	if inm := headerValue(req, "if-none-match"); len(inm) > 0 && bytes.Contains(inm, []byte(pg.etag)) {
		return pg.notModified
	}
	gz := acceptsGzip(headerValue(req, "accept-encoding"))
	switch {
	case head && gz:
		return pg.headG
	case head:
		return pg.head
	case gz:
		return pg.getGz
	}
	return pg.get
}

// acceptsGzip reports whether an Accept-Encoding value admits gzip (named
// without a q of 0).
func acceptsGzip(v []byte) bool {
	for len(v) > 0 {
		var e []byte
		e, v, _ = bytes.Cut(v, []byte(","))
		name, params, _ := bytes.Cut(bytes.TrimSpace(e), []byte(";"))
		if !bytes.EqualFold(bytes.TrimSpace(name), []byte("gzip")) {
			continue
		}
		q, ok := bytes.CutPrefix(bytes.ReplaceAll(params, []byte(" "), nil), []byte("q="))
		if !ok {
			return true
		}
		f, err := strconv.ParseFloat(string(q), 64)
		return err == nil && f > 0
	}
	return false
}

// serveStatic answers a plain HTTP request for the site, if it is one,
// and closes the connection after the response; it reports whether it
// did.
func (c *conn) serveStatic(site *staticSite, req []byte) bool {
	resp := site.response(req)
	if resp == nil {
		return false
	}
	s := c.srv()
	c.setReason(reasonHTTP)
	c.storeState(stateRejected) // nothing more is read; the wheel closes it if the client does not
	_ = c.Write(resp)
	c.ShutdownWrite()
	s.eng.Schedule(&c.Conn, s.cfg.CloseTimeout)
	return true
}
