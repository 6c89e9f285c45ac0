package frame

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// fuzzConfig maps a fuzzed byte to a decoder configuration.
func fuzzConfig(sel byte) decodeConfig {
	cfg := decodeConfig{client: sel&1 != 0, allowRSV1: sel&2 != 0}
	switch (sel >> 2) & 3 {
	case 1:
		cfg.lim = &Limits{MaxFrame: 64, MaxMessage: 100}
	case 2:
		cfg.lim = &Limits{MaxMessage: DefaultMaxMessage}
	case 3:
		cfg.lim = &Limits{MaxFrame: 125}
	}
	return cfg
}

// FuzzDecoder feeds arbitrary bytes whole, byte by byte and split at every
// offset (short inputs) and requires the same callbacks and error each time.
func FuzzDecoder(f *testing.F) {
	for _, c := range append(validCases(), errorCases()...) {
		if len(c.stream) > 1024 {
			continue
		}
		var sel byte
		if c.cfg.client {
			sel |= 1
		}
		if c.cfg.allowRSV1 {
			sel |= 2
		}
		f.Add(sel, c.stream)
	}
	f.Add(byte(4), cat(cf(false, 0, OpText, "0123456789"), cf(true, 0, OpContinuation, string(bytes.Repeat([]byte("x"), 95)))))
	f.Add(byte(1), sf(true, 0, OpText, "\xe2\x82"))
	f.Fuzz(func(t *testing.T, sel byte, stream []byte) {
		cfg := fuzzConfig(sel)
		whole := decodeWhole(cfg, stream)
		if whole.err != nil && whole.buffered {
			t.Fatalf("buffer kept after error %v", whole.err)
		}
		for _, e := range whole.events {
			if !e.ctl && e.op == OpText && !e.compressed && !utf8.ValidString(e.payload) {
				t.Fatalf("invalid UTF-8 text delivered: %q", e.payload)
			}
			if e.ctl && len(e.payload) > MaxControlPayload {
				t.Fatalf("control payload %d bytes", len(e.payload))
			}
		}
		if r := decodeBytewise(cfg, stream); !sameResult(r, whole) {
			t.Fatalf("byte by byte:\n got %v\nwant %v", r, whole)
		}
		if len(stream) > 512 {
			return
		}
		for i := 0; i <= len(stream); i++ {
			if r := decodeChunks(cfg, stream, i); !sameResult(r, whole) {
				t.Fatalf("split at %d:\n got %v\nwant %v", i, r, whole)
			}
		}
	})
}

// FuzzUTF8 compares the validator with unicode/utf8.Valid, fed whole and in
// two pieces.
func FuzzUTF8(f *testing.F) {
	for _, v := range utf8Vectors {
		f.Add([]byte(v.in), uint8(len(v.in)/2))
	}
	f.Fuzz(func(t *testing.T, p []byte, cut uint8) {
		want := utf8.Valid(p)
		if got := ValidUTF8(p); got != want {
			t.Fatalf("ValidUTF8(%q)=%v, utf8.Valid=%v", p, got, want)
		}
		i := min(int(cut), len(p))
		var s UTF8State
		got := s.Feed(p[:i]) && s.Feed(p[i:]) && s.Complete()
		if got != want {
			t.Fatalf("split %d of %q: %v want %v", i, p, got, want)
		}
	})
}

// FuzzRoundTrip encodes a message as fragments (with a ping in between),
// in both roles, and decodes it back.
func FuzzRoundTrip(f *testing.F) {
	f.Add(true, false, uint16(0), []byte("Hello, world"), []byte{1, 2, 3, 4})
	f.Add(false, true, uint16(3), []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), []byte{0xff, 0, 0, 0})
	f.Add(true, true, uint16(200), bytes.Repeat([]byte("ab"), 300), []byte{9})
	f.Add(true, false, uint16(1), []byte("\xed\xa0\x80"), []byte{})
	f.Fuzz(func(t *testing.T, text, compressed bool, fragSize uint16, payload, keyBytes []byte) {
		var key [4]byte
		copy(key[:], keyBytes)
		op := OpBinary
		if text {
			op = OpText
		}
		var rsv byte
		if compressed {
			rsv = RSV1
		}
		n := int(fragSize)
		if n == 0 {
			n = len(payload) + 1
		}
		var srv, cli []byte
		first := true
		for rest := payload; first || len(rest) > 0; first = false {
			part := rest[:min(n, len(rest))]
			rest = rest[len(part):]
			fop, frsv := op, rsv
			if !first {
				fop, frsv = OpContinuation, 0
			}
			srv = AppendFrame(srv, len(rest) == 0, frsv, fop, part)
			cli = AppendMaskedFrame(cli, len(rest) == 0, frsv, fop, key, part)
			if !first && len(rest) > 0 {
				srv = AppendFrame(srv, true, 0, OpPing, part[:min(len(part), 125)])
				cli = AppendMaskedFrame(cli, true, 0, OpPing, key, part[:min(len(part), 125)])
			}
		}
		for _, client := range []bool{true, false} {
			stream := cli
			if client {
				stream = srv
			}
			cfg := decodeConfig{client: client, allowRSV1: true}
			r := decodeChunks(cfg, stream, len(stream)/2)
			if text && !compressed && !utf8.Valid(payload) {
				if r.err != ErrInvalidUTF8 {
					t.Fatalf("invalid text: err %v", r.err)
				}
				continue
			}
			if r.err != nil || len(r.events) == 0 {
				t.Fatalf("client=%v: err %v events %d", client, r.err, len(r.events))
			}
			last := r.events[len(r.events)-1]
			if last.ctl || last.op != op || last.compressed != compressed || last.payload != string(payload) {
				t.Fatalf("client=%v: got %v", client, last)
			}
		}
	})
}
