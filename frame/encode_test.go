package frame

import (
	"bytes"
	"testing"
)

func TestHeaderSize(t *testing.T) {
	cases := []struct {
		n      int
		masked bool
		want   int
	}{
		{0, false, 2}, {125, false, 2}, {126, false, 4}, {0xFFFF, false, 4},
		{0x10000, false, 10}, {1 << 40, false, 10},
		{0, true, 6}, {125, true, 6}, {126, true, 8}, {0x10000, true, 14},
	}
	for _, c := range cases {
		if got := HeaderSize(c.n, c.masked); got != c.want {
			t.Errorf("HeaderSize(%d,%v)=%d want %d", c.n, c.masked, got, c.want)
		}
		var key *[4]byte
		if c.masked {
			key = &[4]byte{1, 2, 3, 4}
		}
		if c.n <= 1<<20 {
			if got := len(AppendHeader(nil, true, 0, OpBinary, c.n, key)); got != c.want {
				t.Errorf("len(AppendHeader(%d,%v))=%d want %d", c.n, c.masked, got, c.want)
			}
		}
	}
}

func TestAppendHeaderBytes(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"text fin", AppendHeader(nil, true, 0, OpText, 5, nil), "\x81\x05"},
		{"binary nofin", AppendHeader(nil, false, 0, OpBinary, 0, nil), "\x02\x00"},
		{"rsv1 wire", AppendHeader(nil, true, RSV1, OpText, 1, nil), "\xc1\x01"},
		{"rsv1 3-bit", AppendHeader(nil, true, 0x4, OpText, 1, nil), "\xc1\x01"},
		{"len126", AppendHeader(nil, true, 0, OpBinary, 126, nil), "\x82\x7e\x00\x7e"},
		{"len65536", AppendHeader(nil, true, 0, OpBinary, 65536, nil), "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"},
		{"masked", AppendHeader(nil, true, 0, OpPing, 2, &[4]byte{9, 8, 7, 6}), "\x89\x82\x09\x08\x07\x06"},
		{"close", AppendClose(nil, CloseNormal, "ok"), "\x88\x04\x03\xe8ok"},
		{"close nostatus", AppendClose(nil, CloseNoStatus, "ignored"), CompiledCloseEmpty},
		{"compiled normal", AppendClose(nil, CloseNormal, ""), CompiledCloseNormal},
		{"compiled away", AppendClose(nil, CloseGoingAway, ""), CompiledCloseGoingAway},
		{"compiled restart", AppendClose(nil, CloseServiceRestart, ""), CompiledCloseRestart},
		{"compiled ping", AppendFrame(nil, true, 0, OpPing, nil), CompiledPing},
		{"compiled pong", AppendFrame(nil, true, 0, OpPong, nil), CompiledPong},
	}
	for _, c := range cases {
		if string(c.got) != c.want {
			t.Errorf("%s: got %q want %q", c.name, c.got, c.want)
		}
	}
}

func TestAppendCloseCutsReason(t *testing.T) {
	reason := string(bytes.Repeat([]byte("é"), 100)) // 200 bytes, 2-byte runes
	f := AppendClose(nil, CloseGoingAway, reason)
	if n := int(f[1]); n > MaxControlPayload || n != len(f)-2 {
		t.Fatalf("payload length %d, frame %d", n, len(f))
	}
	code, r, err := ParseClose(f[2:])
	if err != nil || code != CloseGoingAway {
		t.Fatalf("ParseClose: %v %v", code, err)
	}
	if len(r) != 122 { // 123 would cut a rune in half
		t.Fatalf("reason length %d", len(r))
	}
}

func TestAppendMaskedFrame(t *testing.T) {
	payload := []byte("Hello, masked world: 0123456789abcdef")
	orig := append([]byte(nil), payload...)
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	f := AppendMaskedFrame([]byte("prefix"), true, 0, OpText, key, payload)
	if !bytes.Equal(payload, orig) {
		t.Fatal("payload modified")
	}
	f = f[len("prefix"):]
	hs := HeaderSize(len(payload), true)
	if f[1]&0x80 == 0 || !bytes.Equal(f[hs-4:hs], key[:]) {
		t.Fatalf("bad header %x", f[:hs])
	}
	body := f[hs:]
	for i := range body {
		if body[i]^key[i%4] != orig[i] {
			t.Fatalf("byte %d not masked", i)
		}
	}
}

func maskSlow(b []byte, key [4]byte, pos int) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return (pos + len(b)) % 4
}

func TestMask(t *testing.T) {
	key := [4]byte{0x01, 0x23, 0x45, 0x67}
	src := make([]byte, 200)
	for i := range src {
		src[i] = byte(i*7 + 3)
	}
	for n := 0; n <= 100; n++ {
		for pos := 0; pos < 8; pos++ {
			a := append([]byte(nil), src[:n]...)
			b := append([]byte(nil), src[:n]...)
			pa := Mask(a, key, pos)
			pb := maskSlow(b, key, pos)
			if pa != pb || !bytes.Equal(a, b) {
				t.Fatalf("n=%d pos=%d: got pos %d %x want pos %d %x", n, pos, pa, a, pb, b)
			}
		}
	}
	// Masking in pieces continues where the previous piece stopped.
	whole := append([]byte(nil), src...)
	Mask(whole, key, 0)
	pieces := append([]byte(nil), src...)
	pos := 0
	for i := 0; i < len(pieces); {
		j := min(len(pieces), i+1+i%13)
		pos = Mask(pieces[i:j], key, pos)
		i = j
	}
	if !bytes.Equal(whole, pieces) {
		t.Fatal("piecewise masking differs")
	}
}
