package deflate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"runtime"
	"testing"
)

// takeoverSizes mixes empty messages, window-sized ones and big ones: the
// sizes where a context-takeover reader could lose track of the stream.
var takeoverSizes = []int{100, 0, 100, 32768, 0, 65536, 1, 32767, 32769, 200000, 0, 16, 5000, 100}

func TestContextTakeoverRoundTrip(t *testing.T) {
	for _, cfg := range []struct{ level, bits int }{{1, 15}, {5, 15}, {9, 15}, {1, 9}, {1, 8}, {1, 12}} {
		c := NewCompressor(cfg.level, cfg.bits)
		var d Decompressor
		var stream []byte // every message plus its tail: one DEFLATE stream
		var want []byte
		for i, size := range takeoverSizes {
			payload := testPayload(kindJSON, size, uint64(i%3)) // repeats: takeover helps
			comp := c.Compress(nil, payload)
			out, err := d.Decompress(nil, comp, int64(size))
			if err != nil || !bytes.Equal(out, payload) {
				t.Fatalf("l%d w%d msg %d (size %d): %v", cfg.level, cfg.bits, i, size, err)
			}
			stream = append(append(stream, comp...), syncTail...)
			want = append(want, payload...)
		}
		if got := stdInflate(t, stream[:len(stream)-4]); !bytes.Equal(got, want) {
			t.Fatalf("l%d w%d: stdlib reading the whole stream disagrees", cfg.level, cfg.bits)
		}
		c.Close()
		c.Close()
		d.Close()
	}
}

func TestContextTakeoverShrinks(t *testing.T) {
	c := NewCompressor(1, 15)
	defer c.Close()
	msg := testPayload(kindJSON, 600, 9)
	first := len(c.Compress(nil, msg))
	second := len(c.Compress(nil, msg))
	if second*4 > first {
		t.Errorf("repeated message: first %d bytes, second %d: no context takeover?", first, second)
	}
	if stateless := len(Compress(nil, msg, 1, 15)); stateless != first {
		t.Errorf("first takeover message %d bytes, stateless %d", first, stateless)
	}
}

// TestDecompressorStdlibStream reads a context-takeover stream made by
// compress/flate (one writer for the connection, flushed per message), as
// zlib-based clients send it.
func TestDecompressorStdlibStream(t *testing.T) {
	for _, level := range []int{1, 6, 9} {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, level)
		var d Decompressor
		for i, size := range takeoverSizes {
			payload := testPayload(kindJSON, size, uint64(i%2))
			comp := stdDeflate(t, w, &buf, payload)
			out, err := d.Decompress(nil, comp, 0)
			if err != nil || !bytes.Equal(out, payload) {
				t.Fatalf("level %d msg %d size %d: %v", level, i, size, err)
			}
		}
		d.Close()
	}
}

// TestDecompressorFinalBlock: a peer ending a message with BFINAL starts a
// fresh stream with the next message.
func TestDecompressorFinalBlock(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, 6)
	var d Decompressor
	defer d.Close()
	for i := range 4 {
		payload := testPayload(kindJSON, 1000, uint64(i))
		buf.Reset()
		w.Reset(&buf)
		w.Write(payload)
		w.Close()
		out, err := d.Decompress(nil, buf.Bytes(), 0)
		if err != nil || !bytes.Equal(out, payload) {
			t.Fatalf("msg %d: %v", i, err)
		}
	}
}

// TestHeldMemory measures what a context-takeover Compressor and
// Decompressor keep per connection and checks CompressorMemory and
// DecompressorMemory (the numbers in the package doc) within 25%.
func TestHeldMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures memory (not meaningful under -race)")
	}
	const n = 16
	msg := testPayload(kindJSON, 2000, 1)
	measure := func(name string, want int, open func() func()) {
		runtime.GC()
		runtime.GC() // empties the pools (and their victim caches)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		closers := make([]func(), n)
		for i := range closers {
			closers[i] = open()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
		t.Logf("%-28s %8d bytes (%4d KiB) held per connection", name, per, per>>10)
		if per < int64(want)*3/4 || per > int64(want)*5/4 {
			t.Errorf("%s: measured %d bytes, documented %d", name, per, want)
		}
		for _, c := range closers {
			c()
		}
	}
	for level := 1; level <= 9; level++ {
		for _, bits := range []int{15, 12, 8} {
			if bits < 15 && level > 1 {
				continue
			}
			measure(fmt.Sprintf("Compressor level %d window %d", level, bits), CompressorMemory(level, bits), func() func() {
				c := NewCompressor(level, bits)
				c.Compress(nil, msg)
				return c.Close
			})
		}
	}
	comp := Compress(nil, msg, 1, 15)
	measure("Decompressor", DecompressorMemory, func() func() {
		d := new(Decompressor)
		if _, err := d.Decompress(nil, comp, 0); err != nil {
			t.Fatal(err)
		}
		return d.Close
	})
}
