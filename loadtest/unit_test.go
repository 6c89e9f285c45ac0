package loadtest

import (
	"bytes"
	"strings"
	"testing"
)

func TestStampRoundTrip(t *testing.T) {
	p := newPayload(100, 3)
	putStamp(p, 1234567890123456789, 0xdeadbeef, 42)
	ts, id, seq, ok := parseStamp(p)
	if !ok || ts != 1234567890123456789 || id != 0xdeadbeef || seq != 42 {
		t.Errorf("parse = %d %x %d %v", ts, id, seq, ok)
	}
	for _, bad := range [][]byte{p[:41], []byte(strings.Repeat("x", 50)), append([]byte("W"), bytes.Repeat([]byte("g"), 41)...)} {
		if _, _, _, ok := parseStamp(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
	if len(newPayload(1, 1)) != stampLen {
		t.Error("payload shorter than the stamp")
	}
}

func TestSeqTracker(t *testing.T) {
	var tr seqTracker
	want := []struct {
		seq uint64
		res seqResult
	}{{1, seqNew}, {2, seqNew}, {2, seqDuplicate}, {5, seqNew}, {4, seqReordered}, {4, seqDuplicate},
		{3, seqReordered}, {200, seqNew}, {100, seqReordered}, {200, seqDuplicate}}
	for _, w := range want {
		if got := tr.observe(w.seq); got != w.res {
			t.Errorf("observe(%d) = %d, want %d", w.seq, got, w.res)
		}
	}
	if tr.unique != 7 {
		t.Errorf("unique %d, want 7", tr.unique)
	}
}

func TestParseIPRange(t *testing.T) {
	ips, err := ParseIPRange("127.0.0.2-127.0.0.40, 10.0.0.1")
	if err != nil || len(ips) != 40 || ips[0].String() != "127.0.0.2" || ips[38].String() != "127.0.0.40" || ips[39].String() != "10.0.0.1" {
		t.Fatalf("got %v %v", ips, err)
	}
	for _, bad := range []string{"127.0.0.9-127.0.0.1", "x", "::1", "10.0.0.0-10.255.0.0"} {
		if _, err := ParseIPRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigShares(t *testing.T) {
	ips, _ := ParseIPRange("127.0.0.2-127.0.0.6")
	total, all := 0, map[string]bool{}
	for w := 0; w < 3; w++ {
		c := &Config{Workers: 3, WorkerIndex: w, SourceIPs: ips}
		total += c.share(10)
		for _, ip := range c.ipShare() {
			all[ip.String()] = true
		}
	}
	if total != 10 || len(all) != 5 {
		t.Errorf("shares sum %d, ips %d", total, len(all))
	}
}

func TestRoleSpread(t *testing.T) {
	e := &env{cfg: &Config{StalledFraction: 0.1, SlowFraction: 0.2}}
	var n [3]int
	for i := 0; i < 1000; i++ {
		n[e.role(i)]++
	}
	if n[roleStalled] != 100 || n[roleSlow] != 200 {
		t.Errorf("roles %v", n)
	}
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	c := &Config{Scenario: "nope", Duration: 2 * MaxDuration, Conns: -1, InFlight: 1, Publishers: 1, Workers: 1}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"unknown scenario", "no target", "--conns", "--duration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestParseResponse(t *testing.T) {
	var key [24]byte
	var acc [28]byte
	var r rng
	r.seed(9)
	makeKey(&r, &key, &acc)
	// RFC 6455 sample.
	var sample [28]byte
	computeAccept([]byte("dGhlIHNhbXBsZSBub25jZQ=="), &sample)
	if string(sample[:]) != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept %s", sample)
	}
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + string(acc[:]) + "\r\n\r\nXX"
	resp, err := parseResponse([]byte(ok), &acc, false)
	if err != nil || resp.header != len(ok)-2 || resp.deflate {
		t.Errorf("ok response: %+v %v", resp, err)
	}
	defl := strings.Replace(ok, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n", 1)
	if resp, err := parseResponse([]byte(defl), &acc, true); err != nil || !resp.deflate {
		t.Errorf("deflate response: %+v %v", resp, err)
	}
	if _, err := parseResponse([]byte(defl), &acc, false); err != ErrBadExtension {
		t.Errorf("unoffered extension: %v", err)
	}
	cases := map[string]string{
		"HTTP/1.1 503 Busy\r\n\r\n": "http_503_service_unavailable",
		strings.Replace(ok, string(acc[:]), "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1): "protocol",
		"garbage\r\n\r\n": "protocol",
	}
	for in, kind := range cases {
		_, err := parseResponse([]byte(in), &acc, false)
		if got := FailureKind(err); got != kind {
			t.Errorf("%q: kind %s (%v), want %s", in, got, err, kind)
		}
	}
}

func TestTargetRequest(t *testing.T) {
	tg, err := ParseTarget("ws://example.com:9000/echo?x=1", "")
	if err != nil || tg.Addr != "example.com:9000" || tg.Path != "/echo?x=1" {
		t.Fatalf("%+v %v", tg, err)
	}
	req := string(tg.appendRequest(nil, []byte("dGhlIHNhbXBsZSBub25jZQ=="), true))
	for _, want := range []string{"GET /echo?x=1 HTTP/1.1\r\n", "Host: example.com:9000\r\n", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "permessage-deflate", "\r\n\r\n"} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
	if tg, _ := ParseTarget("wss://h/x", ""); !tg.TLS || tg.Addr != "h:443" {
		t.Errorf("wss target %+v", tg)
	}
	if _, err := ParseTarget("http2://h", ""); err == nil {
		t.Error("bad scheme accepted")
	}
}

func TestMainUsageAndBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(nil, &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), "usage") {
		t.Errorf("no args: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := Main([]string{"echo", "--threshold", "zz<1", "ws://127.0.0.1:1/"}, &out, &errb); code != ExitUsage {
		t.Errorf("bad threshold: code %d", code)
	}
	if code := Main([]string{"echo", "--duration", "5h", "ws://127.0.0.1:1/"}, &out, &errb); code != ExitUsage {
		t.Errorf("duration over the cap: code %d", code)
	}
}

func TestReorderArgs(t *testing.T) {
	got := reorder([]string{"ws://a", "--conns", "5", "--deflate", "ws://b", "--json=x"})
	want := "--conns 5 --deflate --json=x ws://a ws://b"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v", got)
	}
}
