package web

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"
)

// answer asks r with a raw request head and parses the recorded response
// with net/http.
func answer(t *testing.T, r *Recorded, head string) (*http.Response, []byte) {
	t.Helper()
	raw := r.Response([]byte(head))
	if raw == nil {
		return nil, nil
	}
	req, _ := http.NewRequest("GET", "/", nil)
	if bytes.HasPrefix([]byte(head), []byte("HEAD ")) {
		req.Method = "HEAD"
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
	if err != nil {
		t.Fatalf("%q: %v", head, err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Close {
		t.Errorf("%q: the response does not close the connection", head)
	}
	return res, body
}

// TestRecordDemo: the recorded responses are complete HTTP/1.1 answers,
// chosen from the raw request head by method, path, Accept-Encoding and
// If-None-Match; other requests are not the recording's.
func TestRecordDemo(t *testing.T) {
	r := RecordDemo()
	const host = "Host: localhost\r\n"
	res, page := answer(t, r, "GET /?user=ann HTTP/1.1\r\n"+host+"\r\n")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" || !bytes.Contains(page, []byte("demo.js")) {
		t.Fatalf("GET /: %d %v", res.StatusCode, res.Header)
	}
	etag := res.Header.Get("ETag")

	res, zipped := answer(t, r, "GET /wsgate.js HTTP/1.1\r\n"+host+"accept-encoding: br, GZIP;q=0.5\r\n\r\n")
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip accepted: %v", res.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if _, want := answer(t, r, "GET /wsgate.js HTTP/1.1\r\n"+host+"Accept-Encoding: gzip;q=0\r\n\r\n"); !bytes.Equal(plain, want) || len(want) == 0 {
		t.Fatal("the gzip body does not inflate to the plain one (or q=0 still got gzip)")
	}

	if res, body := answer(t, r, "HEAD /demo.css HTTP/1.1\r\n"+host+"\r\n"); res.StatusCode != 200 || len(body) != 0 || res.ContentLength <= 0 {
		t.Fatalf("HEAD: %d, %d bytes, length %d", res.StatusCode, len(body), res.ContentLength)
	}
	if res, _ := answer(t, r, "GET / HTTP/1.1\r\n"+host+"If-None-Match: "+etag+"\r\n\r\n"); res.StatusCode != 304 {
		t.Fatalf("If-None-Match with the ETag: %d", res.StatusCode)
	}
	for _, head := range []string{
		"POST / HTTP/1.1\r\n" + host + "\r\n",
		"GET /ws HTTP/1.1\r\n" + host + "\r\n",
		"GET / HTTP/1.1\r\n" + host + "Upgrade: websocket\r\n\r\n",
	} {
		if r.Response([]byte(head)) != nil {
			t.Errorf("%q answered from the recording", head)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for v, want := range map[string]bool{
		"gzip": true, "GZip": true, "deflate, gzip;q=0.1": true, "gzip; q=1": true,
		"": false, "br": false, "gzip;q=0": false, "gzip;q=0.000": false, "gzip;q=x": false,
	} {
		if got := acceptsGzip(v); got != want {
			t.Errorf("acceptsGzip(%q) = %v", v, got)
		}
	}
}
