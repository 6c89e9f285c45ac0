package frame

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// benchDecode decodes one masked text frame of n bytes per iteration. The
// frame is copied into the read buffer first (decoding unmasks in place), so
// the numbers include one memmove of the frame.
func benchDecode(b *testing.B, n int) {
	frame := cf(true, 0, OpText, strings.Repeat("abcdefgh", n/8))
	buf := make([]byte, len(frame))
	var d Decoder
	d.Init(&Limits{MaxMessage: 1 << 20}, false, false)
	var h countHandler
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, frame)
		if err := d.Feed(buf, &h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode64B decodes a complete masked 64-byte text frame.
func BenchmarkDecode64B(b *testing.B) { benchDecode(b, 64) }

// BenchmarkDecode1KiB decodes a complete masked 1 KiB text frame.
func BenchmarkDecode1KiB(b *testing.B) { benchDecode(b, 1<<10) }

// BenchmarkDecode64KiB decodes a complete masked 64 KiB text frame.
func BenchmarkDecode64KiB(b *testing.B) { benchDecode(b, 64<<10) }

// BenchmarkDecodeSplit1KiB decodes a 1 KiB text frame delivered in two Feed
// calls (pooled scratch copy).
func BenchmarkDecodeSplit1KiB(b *testing.B) {
	frame := cf(true, 0, OpText, strings.Repeat("abcdefgh", 128))
	buf := make([]byte, len(frame))
	var d Decoder
	d.Init(nil, false, false)
	var h countHandler
	cut := len(frame) / 2
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, frame)
		if err := d.Feed(buf[:cut], &h); err != nil {
			b.Fatal(err)
		}
		if err := d.Feed(buf[cut:], &h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFragmented decodes a 64 KiB binary message sent as 1024
// fragments of 64 bytes.
func BenchmarkDecodeFragmented(b *testing.B) {
	part := bytes.Repeat([]byte("x"), 64)
	var stream []byte
	for i := 0; i < 1024; i++ {
		op := OpContinuation
		if i == 0 {
			op = OpBinary
		}
		stream = AppendMaskedFrame(stream, i == 1023, 0, op, testKey, part)
	}
	buf := make([]byte, len(stream))
	var d Decoder
	d.Init(nil, false, false)
	var h countHandler
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, stream)
		if err := d.Feed(buf, &h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode appends unmasked (server) and masked (client) frames into
// a reused buffer.
func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{64, 1 << 10} {
		payload := bytes.Repeat([]byte("z"), n)
		dst := make([]byte, 0, 2*n)
		b.Run("server/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendFrame(dst[:0], true, 0, OpBinary, payload)
			}
		})
		b.Run("client/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendMaskedFrame(dst[:0], true, 0, OpBinary, testKey, payload)
			}
		})
	}
}

// BenchmarkMask masks buffers in place, starting at an odd key position.
func BenchmarkMask(b *testing.B) {
	for _, n := range []int{64, 1 << 10, 64 << 10} {
		buf := make([]byte, n)
		b.Run(sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				Mask(buf, testKey, 1)
			}
		})
	}
}

// BenchmarkUTF8 validates about 1 KiB of ASCII, of mixed text (ASCII with 2-
// and 3-byte runes) and of 4-byte runes.
func BenchmarkUTF8(b *testing.B) {
	inputs := []struct{ name, s string }{
		{"ascii", strings.Repeat("abcdefgh", 128)},
		{"mixed", strings.Repeat("héllo κόσμε €uro ", 64)},
		{"emoji", strings.Repeat("\xf0\x9f\x98\x80", 256)},
	}
	for _, in := range inputs {
		p := []byte(in.s)
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				var s UTF8State
				if !s.Feed(p) {
					b.Fatal("invalid")
				}
			}
		})
		// unicode/utf8.Valid on the same input, as a reference measured in
		// the same run (this machine is shared, absolute numbers drift).
		b.Run("stdlib-"+in.name, func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				utf8.Valid(p)
			}
		})
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + "KiB"
	default:
		return itoa(n) + "B"
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
