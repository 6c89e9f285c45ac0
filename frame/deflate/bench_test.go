package deflate

import (
	"fmt"
	"testing"

	"github.com/wsgate/wsgate/frame"
)

var benchSizes = []int{128, 1 << 10, 16 << 10}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkCompress: stateless Compress of JSON-like payloads into a reused
// buffer. MB/s counts uncompressed bytes.
func BenchmarkCompress(b *testing.B) {
	for _, cfg := range []struct {
		name        string
		level, bits int
	}{{"l1", 1, 15}, {"l6", 6, 15}, {"w10", 1, 10}} {
		for _, size := range benchSizes {
			payload := testPayload(kindJSON, size, 1)
			b.Run(cfg.name+"/"+sizeName(size), func(b *testing.B) {
				dst := Compress(nil, payload, cfg.level, cfg.bits)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				clk, n := startCPU(int64(size)), 0
				for b.Loop() {
					dst = Compress(dst[:0], payload, cfg.level, cfg.bits)
					n++
				}
				clk.report(b, n)
				b.ReportMetric(float64(len(dst))/float64(size), "ratio")
			})
		}
	}
}

// BenchmarkDecompress: stateless Decompress into a reused buffer. MB/s
// counts decompressed bytes.
func BenchmarkDecompress(b *testing.B) {
	for _, size := range benchSizes {
		payload := testPayload(kindJSON, size, 1)
		comp := Compress(nil, payload, 1, 15)
		b.Run(sizeName(size), func(b *testing.B) {
			dst := make([]byte, 0, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			clk, n := startCPU(int64(size)), 0
			for b.Loop() {
				var err error
				if dst, err = Decompress(dst[:0], comp, 1<<20); err != nil {
					b.Fatal(err)
				}
				n++
			}
			clk.report(b, n)
		})
	}
}

// BenchmarkTakeover: context-takeover Compressor and Decompressor on a
// stream of similar 1 KiB messages.
func BenchmarkTakeover(b *testing.B) {
	const size = 1 << 10
	msgs := make([][]byte, 64)
	for i := range msgs {
		msgs[i] = testPayload(kindJSON, size, uint64(i))
	}
	b.Run("Compressor/1KiB", func(b *testing.B) {
		c := NewCompressor(1, 15)
		defer c.Close()
		var dst []byte
		total, i := 0, 0
		b.SetBytes(size)
		b.ReportAllocs()
		clk := startCPU(size)
		for b.Loop() {
			dst = c.Compress(dst[:0], msgs[i%len(msgs)])
			total += len(dst)
			i++
		}
		clk.report(b, i)
		b.ReportMetric(float64(total)/float64(i*size), "ratio")
	})
	b.Run("Decompressor/1KiB", func(b *testing.B) {
		c := NewCompressor(1, 15)
		stream := make([][]byte, 4096)
		for i := range stream {
			stream[i] = c.Compress(nil, msgs[i%len(msgs)])
		}
		c.Close()
		var d Decompressor
		defer d.Close()
		dst := make([]byte, 0, size)
		i, n := 0, 0
		b.SetBytes(size)
		b.ReportAllocs()
		clk := startCPU(size)
		for b.Loop() {
			if i == len(stream) { // restart the stream
				d.Close()
				i = 0
			}
			var err error
			if dst, err = d.Decompress(dst[:0], stream[i], 1<<20); err != nil {
				b.Fatal(err)
			}
			i++
			n++
		}
		clk.report(b, n)
	})
}

// BenchmarkPrepared: one 1 KiB broadcast to 1000 receivers that all
// negotiated permessage-deflate. "prepared" compresses once and hands the
// same frame to everyone; "per-receiver" compresses and frames for each.
// ns/op is per broadcast.
func BenchmarkPrepared(b *testing.B) {
	const receivers = 1000
	payload := testPayload(kindJSON, 1<<10, 1)
	b.Run("prepared", func(b *testing.B) {
		b.SetBytes(int64(len(payload) * receivers))
		b.ReportAllocs()
		clk, n := startCPU(int64(len(payload)*receivers)), 0
		for b.Loop() {
			p := NewPrepared(frame.OpText, payload, nil)
			for r := range receivers {
				if f := p.Frame(true, 15); len(f) == 0 {
					b.Fatal(r)
				}
			}
			n++
		}
		clk.report(b, n)
	})
	b.Run("per-receiver", func(b *testing.B) {
		var comp, wire []byte
		b.SetBytes(int64(len(payload) * receivers))
		b.ReportAllocs()
		clk, n := startCPU(int64(len(payload)*receivers)), 0
		for b.Loop() {
			for range receivers {
				comp = Compress(comp[:0], payload, 1, 15)
				wire = frame.AppendFrame(wire[:0], true, frame.RSV1, frame.OpText, comp)
			}
			n++
		}
		clk.report(b, n)
	})
}

// BenchmarkNegotiate: parse a typical browser offer and write the answer.
func BenchmarkNegotiate(b *testing.B) {
	offer := []byte("permessage-deflate; client_max_window_bits")
	buf := make([]byte, 0, 128)
	var n Negotiator
	b.ReportAllocs()
	for b.Loop() {
		n.Reset(nil)
		n.Offer(offer)
		p, _ := n.Accepted()
		buf = AppendResponse(buf[:0], p)
	}
}
