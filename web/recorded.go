package web

import (
	"bytes"
	"github.com/wsgate/wsgate/internal/reqhead"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
)

// Recorded is a few paths' HTTP/1.1 responses, recorded once from a
// handler, for a listener that is not net/http (the gateway's event loop)
// to answer plain requests with: each response is complete, with
// Connection: close, and is looked up from the raw request head without
// parsing it into an http.Request.
type Recorded struct {
	pages map[string]*recordedPage
}

// recordedPage is one path's responses: by method and encoding, and the
// 304 for a request that names the current ETag.
type recordedPage struct {
	etag        string
	get, getGz  []byte
	head, headG []byte
	notModified []byte
}

// RecordDemo records the responses of Demo for each of its paths.
func RecordDemo() *Recorded {
	var paths []string
	for p := range demoRoutes() {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return Record(Demo(), paths...)
}

// Record runs GET and HEAD requests for each path through h (with and
// without gzip, and with the ETag the first answer gave) and keeps the
// responses.
func Record(h http.Handler, paths ...string) *Recorded {
	r := &Recorded{pages: make(map[string]*recordedPage, len(paths))}
	for _, p := range paths {
		pg := &recordedPage{}
		pg.get, pg.etag = record(h, "GET", p, "", "")
		pg.getGz, _ = record(h, "GET", p, "gzip", "")
		pg.head, _ = record(h, "HEAD", p, "", "")
		pg.headG, _ = record(h, "HEAD", p, "gzip", "")
		pg.notModified, _ = record(h, "GET", p, "", pg.etag)
		r.pages[p] = pg
	}
	return r
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

// Response returns the recorded answer to a raw request head, or nil when
// the request is not one of the recorded: not GET or HEAD, an upgrade, or
// another path. A request naming the current ETag gets 304; one that
// accepts gzip, the compressed body.
func (r *Recorded) Response(req []byte) []byte {
	line, _, _ := bytes.Cut(req, []byte("\r\n"))
	method, rest, _ := bytes.Cut(line, []byte(" "))
	target, _, _ := bytes.Cut(rest, []byte(" "))
	path, _, _ := bytes.Cut(target, []byte("?"))
	head := string(method) == "HEAD"
	if (!head && string(method) != "GET") || len(reqhead.Value(req, "upgrade")) > 0 {
		return nil
	}
	pg := r.pages[string(path)]
	if pg == nil {
		return nil
	}
	if inm := reqhead.Value(req, "if-none-match"); len(inm) > 0 && bytes.Contains(inm, []byte(pg.etag)) {
		return pg.notModified
	}
	gz := acceptsGzip(string(reqhead.Value(req, "accept-encoding")))
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
