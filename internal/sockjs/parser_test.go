package sockjs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// parsed is a comparable summary of a Request.
type parsed struct {
	Method, Path, Query, Origin, Cookie, CT, ACRH string
	Minor, CL                                     int
	Keep                                          bool
	Body                                          string
}

func summary(r *Request) parsed {
	return parsed{string(r.Method), string(r.Path), string(r.Query), string(r.Origin), string(r.Cookie),
		string(r.ContentType), string(r.ACRequestHeaders), r.Minor, r.ContentLength, r.KeepAlive(), string(r.Body)}
}

// parseAll feeds the pieces to a Parser one after another and returns
// every request and the first error.
func parseAll(p *Parser, pieces ...[]byte) ([]parsed, error) {
	var out []parsed
	for _, data := range pieces {
		for len(data) > 0 {
			req, n, err := p.Parse(data)
			if err != nil {
				return out, err
			}
			data = data[n:]
			if req == nil {
				if len(data) != 0 {
					return out, fmt.Errorf("nil request with %d bytes left", len(data))
				}
				break
			}
			out = append(out, summary(req))
		}
	}
	return out, nil
}

const pipelined = "POST /echo/a/b/xhr_send?x=1 HTTP/1.1\r\nHost: h\r\nOrigin: http://o\r\n" +
	"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\n[\"a\"]" +
	"GET /echo/info HTTP/1.0\r\nConnection: Keep-Alive\r\nCookie: JSESSIONID=x\r\n\r\n" +
	"POST /echo/a/b/xhr_send HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
	"3;ext=1\r\n[\"a\r\nB\r\n\", \"bcdef\"]\r\n0\r\nTrailer: x\r\n\r\n" +
	"OPTIONS /echo/a/b/xhr HTTP/1.1\nAccess-Control-Request-Headers: a, b\nConnection: close\n\n"

var pipelinedWant = []parsed{
	{Method: "POST", Path: "/echo/a/b/xhr_send", Query: "x=1", Origin: "http://o", CT: "text/plain", Minor: 1, CL: 5, Keep: true, Body: `["a"]`},
	{Method: "GET", Path: "/echo/info", Cookie: "JSESSIONID=x", Minor: 0, Keep: true},
	{Method: "POST", Path: "/echo/a/b/xhr_send", Minor: 1, Keep: true, Body: `["a", "bcdef"]`},
	{Method: "OPTIONS", Path: "/echo/a/b/xhr", ACRH: "a, b", Minor: 1},
}

func TestParserPipelined(t *testing.T) {
	var p Parser
	got, err := parseAll(&p, []byte(pipelined))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(pipelinedWant) {
		t.Fatalf("got  %+v\nwant %+v", got, pipelinedWant)
	}
}

// TestParserSplitEverywhere splits the pipelined requests at every pair
// of offsets: the result must not depend on how the bytes arrive.
func TestParserSplitEverywhere(t *testing.T) {
	in := []byte(pipelined)
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j += 7 {
			var p Parser
			got, err := parseAll(&p, in[:i], in[i:j], in[j:])
			if err != nil {
				t.Fatalf("split %d/%d: %v", i, j, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(pipelinedWant) {
				t.Fatalf("split %d/%d:\ngot  %+v\nwant %+v", i, j, got, pipelinedWant)
			}
			if p.Buffered() != 0 {
				t.Fatalf("split %d/%d: %d bytes left buffered", i, j, p.Buffered())
			}
		}
	}
}

func TestParserByteAtATime(t *testing.T) {
	var p Parser
	var pieces [][]byte
	for i := range len(pipelined) {
		pieces = append(pieces, []byte{pipelined[i]})
	}
	got, err := parseAll(&p, pieces...)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(pipelinedWant) {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestParserErrors(t *testing.T) {
	long := "GET /" + strings.Repeat("a", DefaultMaxHeader) + " HTTP/1.1\r\n\r\n"
	cases := []struct {
		in     string
		err    error
		status int
	}{
		{"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ErrTransferEncoding, 501},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", ErrTransferEncoding, 501},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ErrMalformed, 400},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY", ErrMalformed, 400},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", ErrBodyTooLarge, 413},
		{"POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", ErrBodyTooLarge, 413},
		{"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", ErrBadContentLength, 400},
		{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", ErrBadContentLength, 400},
		{"GET / HTTP/2.0\r\n\r\n", ErrMalformed, 400},
		{"GET nopath HTTP/1.1\r\n\r\n", ErrMalformed, 400},
		{"GET / HTTP/1.1\r\nBad Header\r\n\r\n", ErrMalformed, 400},
		{"\x16\x03\x01", ErrMalformed, 400},
		{long, ErrHeaderTooLarge, 431},
		{long[:DefaultMaxHeader+10], ErrHeaderTooLarge, 431},
	}
	for _, c := range cases {
		for _, split := range []int{len(c.in), 3} {
			var p Parser
			_, err := parseAll(&p, []byte(c.in[:min(split, len(c.in))]), []byte(c.in[min(split, len(c.in)):]))
			if err != c.err || ErrorStatus(err) != c.status {
				t.Errorf("%.40q split %d: err %v (status %d), want %v (%d)", c.in, split, err, ErrorStatus(err), c.err, c.status)
			}
		}
	}
}

// TestParserInPlace checks that a request arriving whole is not copied.
func TestParserInPlace(t *testing.T) {
	var p Parser
	in := []byte("POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
	req, n, err := p.Parse(in)
	if err != nil || req == nil || n != len(in) {
		t.Fatalf("Parse: %v %v %d", req, err, n)
	}
	if &req.Body[0] != &in[len(in)-2] || &req.Path[0] != &in[5] {
		t.Fatal("request fields do not point into the input")
	}
	if testing.AllocsPerRun(100, func() { p.Parse(in) }) != 0 {
		t.Fatal("parsing a whole request allocates")
	}
}

func FuzzParser(f *testing.F) {
	f.Add([]byte(pipelined), 5)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), 1)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		if split < 0 {
			split = -split
		}
		split %= len(in) + 1
		var whole, parts Parser
		a, errA := parseAll(&whole, in)
		b, errB := parseAll(&parts, in[:split], in[split:])
		if (errA == nil) != (errB == nil) || fmt.Sprint(a) != fmt.Sprint(b) {
			if errA != nil && errB != nil {
				return
			}
			t.Fatalf("whole: %+v %v\nsplit at %d: %+v %v", a, errA, split, b, errB)
		}
		_ = bytes.MinRead
	})
}
