package sockjs

import (
	"bytes"
	"strconv"
	"time"
)

// Content types of SockJS responses.
const (
	ctPlain      = "text/plain; charset=UTF-8"
	ctJSON       = "application/json; charset=UTF-8"
	ctJavaScript = "application/javascript; charset=UTF-8"
	ctHTML       = "text/html; charset=UTF-8"
	ctEventSrc   = "text/event-stream"
)

// Header values for caching.
const (
	noCache = "no-store, no-cache, no-transform, must-revalidate, max-age=0"
	// cacheSeconds is how long cacheable answers (the iframe page, OPTIONS)
	// may be kept: one year, as the protocol recommends.
	cacheSeconds = 365 * 24 * 60 * 60
	cacheYear    = "public, max-age=31536000"
)

// headFlags select optional headers.
type headFlags uint16

const (
	hNoCache   headFlags = 1 << iota // Cache-Control: no-store, ...
	hCacheYear                       // Cache-Control: public, max-age=...; Expires
	hCORS                            // Access-Control-Allow-Origin and friends
	hCORSES                          // the EventSource flavour ("null" origin is "*")
	hCookie                          // JSESSIONID when the endpoint wants it
	hStream                          // the body follows until the response ends
	hMaxAge                          // Access-Control-Max-Age (OPTIONS)
	hNoSniff                         // X-Content-Type-Options: nosniff
)

// head describes a response head for AppendHead.
type head struct {
	status int
	ctype  string
	flags  headFlags
	// length is the Content-Length of a one-shot response (ignored with
	// hStream, and for 204 and 304 which have no body).
	length int
	// allow is the Allow header of a 405, or the
	// Access-Control-Allow-Methods of an OPTIONS answer.
	allow string
	etag  []byte
}

var statusText = map[int]string{
	200: "OK", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
	403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
	413: "Payload Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
	503: "Service Unavailable",
}

// AppendStatusResponse appends a complete plain-text response with the
// given status and body that closes the connection, for the errors a
// server answers before it knows the endpoint (ErrorStatus of a parse
// error, 404 outside every endpoint).
func AppendStatusResponse(dst []byte, status int, body string) []byte {
	dst = appendStatusLine(dst, 1, status)
	dst = append(dst, "Content-Type: "+ctPlain+"\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
	return append(dst, body...)
}

func appendStatusLine(dst []byte, minor, status int) []byte {
	dst = append(dst, "HTTP/1."...)
	dst = append(dst, byte('0'+minor), ' ')
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText[status]...)
	return append(dst, '\r', '\n')
}

func appendHeader(dst []byte, name string, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

func appendHeaderString(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// chunkedFor reports whether a streaming response to req is chunked
// (HTTP/1.1) rather than delimited by closing the connection (HTTP/1.0).
func chunkedFor(req *Request) bool { return req.Minor >= 1 }

// appendHead appends the status line and headers of h answering req.
func (e *Endpoint) appendHead(dst []byte, req *Request, h *head) []byte {
	dst = appendStatusLine(dst, 1, h.status)
	if h.ctype != "" {
		dst = appendHeaderString(dst, "Content-Type", h.ctype)
	}
	switch {
	case h.flags&hNoCache != 0:
		dst = appendHeaderString(dst, "Cache-Control", noCache)
	case h.flags&hCacheYear != 0:
		dst = appendHeaderString(dst, "Cache-Control", cacheYear)
		dst = append(dst, "Expires: "...)
		dst = e.now().Add(cacheSeconds*time.Second).UTC().AppendFormat(dst, httpTime)
		dst = append(dst, '\r', '\n')
	}
	if h.flags&hMaxAge != 0 {
		dst = appendHeaderString(dst, "Access-Control-Max-Age", "31536000")
	}
	if h.allow != "" {
		if h.status == 405 {
			dst = appendHeaderString(dst, "Allow", h.allow)
		} else {
			dst = appendHeaderString(dst, "Access-Control-Allow-Methods", h.allow)
		}
	}
	if h.flags&(hCORS|hCORSES) != 0 {
		dst = appendCORS(dst, req, h.flags&hCORSES != 0)
	}
	if h.flags&hCookie != 0 && e.opts.CookieNeeded {
		dst = append(dst, "Set-Cookie: JSESSIONID="...)
		dst = append(dst, jsessionID(req.Cookie)...)
		dst = append(dst, "; path=/\r\n"...)
	}
	if h.flags&hNoSniff != 0 {
		dst = appendHeaderString(dst, "X-Content-Type-Options", "nosniff")
	}
	if h.etag != nil {
		dst = appendHeader(dst, "ETag", h.etag)
	}
	keep := req.KeepAlive()
	switch {
	case h.flags&hStream != 0:
		if chunkedFor(req) {
			dst = appendHeaderString(dst, "Transfer-Encoding", "chunked")
		} else {
			keep = false
		}
	case h.status == 204 || h.status == 304:
	default:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(h.length), 10)
		dst = append(dst, '\r', '\n')
	}
	switch {
	case !keep:
		dst = appendHeaderString(dst, "Connection", "close")
	case req.Minor == 0:
		dst = appendHeaderString(dst, "Connection", "keep-alive")
	}
	return append(dst, '\r', '\n')
}

// httpTime is the format of HTTP dates (RFC 9110, IMF-fixdate).
const httpTime = "Mon, 02 Jan 2006 15:04:05 GMT"

// appendCORS appends the CORS headers: the request's Origin echoed with
// credentials allowed, or "*" without credentials when there is none (for
// EventSource also when it is "null"), and the requested headers allowed.
func appendCORS(dst []byte, req *Request, eventSource bool) []byte {
	origin := req.Origin
	if len(origin) == 0 || eventSource && string(origin) == "null" {
		dst = appendHeaderString(dst, "Access-Control-Allow-Origin", "*")
	} else {
		dst = appendHeader(dst, "Access-Control-Allow-Origin", origin)
		dst = appendHeaderString(dst, "Access-Control-Allow-Credentials", "true")
	}
	dst = appendHeaderString(dst, "Vary", "Origin")
	if req.HasACRequestHeaders() {
		dst = appendHeader(dst, "Access-Control-Allow-Headers", req.ACRequestHeaders)
	}
	return dst
}

// jsessionID returns the JSESSIONID cookie of a Cookie header, or "dummy"
// when there is none or its value holds bytes a cookie may not.
func jsessionID(cookie []byte) []byte {
	for len(cookie) > 0 {
		var c []byte
		if i := bytes.IndexByte(cookie, ';'); i >= 0 {
			c, cookie = cookie[:i], cookie[i+1:]
		} else {
			c, cookie = cookie, nil
		}
		c = trimOWS(c)
		name, value, ok := bytes.Cut(c, []byte{'='})
		if !ok || string(trimOWS(name)) != "JSESSIONID" {
			continue
		}
		value = trimOWS(value)
		if len(value) == 0 || len(value) > 256 {
			break
		}
		for _, b := range value {
			// cookie-octet (RFC 6265): visible ASCII but '"', ',', ';', '\\'.
			if b < 0x21 || b > 0x7e || b == '"' || b == ',' || b == ';' || b == '\\' {
				return dummyCookie
			}
		}
		return value
	}
	return dummyCookie
}

var dummyCookie = []byte("dummy")

// htmlfilePrelude is the start of an htmlfile response; the callback
// goes between its two parts. Browsers need at least 1 KiB before they
// run anything, hence the padding the builder adds.
const (
	htmlfileHead = "<!doctype html>\n<html><head>\n" +
		"  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n" +
		"  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n" +
		"</head><body><h2>Don't panic!</h2>\n" +
		"  <script>\n    document.domain = document.domain;\n    var c = parent."
	htmlfileTail = ";\n    c.start();\n    function p(d) {c.message(d);};\n" +
		"    window.onload = function() {c.stop();};\n  </script>\n"
	htmlfileMin = 1024
)

// appendHTMLFilePrelude appends the htmlfile page for callback cb, padded
// with spaces past 1 KiB and ended by a blank line.
func appendHTMLFilePrelude(dst, cb []byte) []byte {
	start := len(dst)
	dst = append(dst, htmlfileHead...)
	dst = append(dst, cb...)
	dst = append(dst, htmlfileTail...)
	for len(dst)-start < htmlfileMin {
		dst = append(dst, ' ')
	}
	return append(dst, "\r\n\r\n"...)
}

// xhrStreamingPrelude is 2048 'h' and a newline: some browsers expose no
// part of a streaming XHR response before 2 KiB have arrived.
var xhrStreamingPrelude = append(bytes.Repeat([]byte{'h'}, 2048), '\n')

// appendJSONP appends the JSONP-polling body for frame text: the frame
// as a JavaScript string passed to the callback (behind an empty comment,
// so that no response can begin with bytes a plug-in would take for its
// own format), as one chunk when chunked. It also returns the counted
// length.
func appendJSONP(dst []byte, chunked bool, cb, text []byte) ([]byte, int) {
	n := 4 + len(cb) + 2 + jsLen(text) + 5
	if chunked {
		dst = strconv.AppendUint(dst, uint64(n), 16)
		dst = append(dst, '\r', '\n')
	}
	dst = append(dst, "/**/"...)
	dst = append(dst, cb...)
	dst = append(dst, '(', '"')
	dst = appendJSString(dst, text)
	dst = append(dst, "\");\r\n"...)
	if chunked {
		dst = append(dst, '\r', '\n')
	}
	return dst, n
}
