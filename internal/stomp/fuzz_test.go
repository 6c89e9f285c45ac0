package stomp

import (
	"strconv"
	"strings"
	"testing"
)

// fuzzConfig maps a fuzzed byte to a parser configuration: the escaping
// version in the low two bits, the limits in the next two.
func fuzzConfig(sel byte) parseConfig {
	cfg := parseConfig{ver: [4]Version{V12, V11, V10, V12}[sel&3]}
	switch (sel >> 2) & 3 {
	case 1:
		cfg.lim = &Limits{MaxFrame: 64, MaxHeaderLine: 16, MaxHeaders: 3, MaxBody: 20}
	case 2:
		lim := DefaultLimits()
		cfg.lim = &lim
	case 3:
		cfg.lim = &Limits{MaxFrame: 100}
	}
	return cfg
}

// FuzzParser parses arbitrary bytes whole, byte by byte and split at every
// offset, and requires the same frames, heart-beats and error each time.
// Frames that parse are encoded again with AppendFrame and must parse back
// to themselves.
func FuzzParser(f *testing.F) {
	for _, c := range append(validCases(), errorCases()...) {
		f.Add(byte(0), []byte(c.stream))
		f.Add(byte(5), []byte(c.stream))
	}
	for _, ex := range specExamples() {
		f.Add(byte(0), []byte(ex.wire))
	}
	f.Add(byte(4), []byte("SEND\nab:defgh\r\nk:v\n\nxyz\x00\n"))
	f.Add(byte(1), []byte("SEND\nk:\\r\\n\n\n\x00"))
	f.Add(byte(2), []byte("SEND\nk:\\t\n\n\x00"))
	f.Fuzz(func(t *testing.T, sel byte, stream []byte) {
		cfg := fuzzConfig(sel)
		whole := parseWhole(cfg, stream)
		if whole.err != nil && whole.buffered {
			t.Fatalf("buffer kept after error %v", whole.err)
		}
		for _, e := range whole.events {
			if e.hb {
				continue
			}
			if !e.cmd.Valid() || (e.body != "" && !e.cmd.AllowsBody()) {
				t.Fatalf("bad frame delivered: %v", e)
			}
			if cfg.lim != nil && cfg.lim.MaxBody > 0 && len(e.body) > cfg.lim.MaxBody {
				t.Fatalf("body over the limit: %v", e)
			}
			checkReencode(t, cfg, e)
		}
		if r := parseBytewise(cfg, stream); !sameResult(r, whole) {
			t.Fatalf("byte by byte:\n got %v\nwant %v", r, whole)
		}
		if len(stream) > 512 {
			return
		}
		for i := 0; i <= len(stream); i++ {
			if r := parseChunks(cfg, stream, i); !sameResult(r, whole) {
				t.Fatalf("split at %d:\n got %v\nwant %v", i, r, whole)
			}
		}
	})
}

// checkReencode encodes a parsed frame with AppendFrame and parses it
// again (without limits: encoding may grow headers). The result must be the
// same frame, plus the content-length AppendFrame adds after the headers.
func checkReencode(t *testing.T, cfg parseConfig, e event) {
	t.Helper()
	if e.cmd.Escaped() && cfg.ver != V12 {
		return // AppendFrame escapes as 1.2 does; 1.0 and 1.1 read that differently
	}
	var headers []Header
	for _, h := range e.headers {
		if !e.cmd.Escaped() && strings.HasSuffix(h[1], "\r") {
			return // unescaped, a value's trailing CR would read as part of the EOL
		}
		headers = append(headers, Header{h[0], h[1]})
	}
	wire := AppendFrame(nil, e.cmd, headers, []byte(e.body))
	want := e
	if e.cmd.AllowsBody() {
		want.headers = append(want.headers[:len(want.headers):len(want.headers)],
			[2]string{HeaderContentLength, strconv.Itoa(len(e.body))})
	}
	r := parseWhole(parseConfig{ver: V12}, wire)
	if r.err != nil || len(r.events) != 1 || !sameEvent(r.events[0], want) {
		t.Fatalf("re-encoded %v as %q: parsed %v", e, wire, r)
	}
}
