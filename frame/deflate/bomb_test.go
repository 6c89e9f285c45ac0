package deflate

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/klauspost/compress/flate"
)

// makeBomb returns a permessage-deflate payload (tail removed) of about
// 1 MB that inflates to 16 x 64 MiB = 1 GiB of zeros (64 MiB under -race). DEFLATE cannot do
// better than about 1032:1, so a 1 GiB bomb cannot be smaller than ~1 MB.
// It compresses 128 MiB of zeros in two sync-flushed segments; the second
// segment only refers back into zeros, so repeating it keeps inflating
// zeros.
func makeBomb(t testing.TB) (bomb []byte, size int64) {
	t.Helper()
	seg := 64 << 20
	if raceEnabled {
		seg = 4 << 20 // a 64 MiB bomb: the race detector slows compression 10x
	}
	var out bytes.Buffer
	w, err := flate.NewWriter(&out, 5)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	var ends [2]int
	for s := range ends {
		for range seg / len(zeros) {
			w.Write(zeros)
		}
		w.Flush()
		ends[s] = out.Len()
	}
	first, second := out.Bytes()[:ends[0]], out.Bytes()[ends[0]:ends[1]]
	bomb = append(bomb, first...)
	for range 15 {
		bomb = append(bomb, second...)
	}
	return bomb[:len(bomb)-len(syncTail)], 16 * int64(seg)
}

// TestDecompressionBomb feeds a 1 GiB bomb to Decompress and the
// Decompressor with a 64 KiB limit: both fail with ErrTooBig, and the heap
// grows by less than 1 MiB.
func TestDecompressionBomb(t *testing.T) {
	bomb, size := makeBomb(t)
	t.Logf("bomb: %d bytes inflating to %d (ratio %d:1)", len(bomb), size, size/int64(len(bomb)))
	if !testing.Short() && !raceEnabled {
		// Prove the bomb is real: stream it through a reader, counting.
		in := io.MultiReader(bytes.NewReader(bomb), bytes.NewReader([]byte(finalTail)))
		n, err := io.Copy(io.Discard, flate.NewReader(in))
		if err != nil || n != size {
			t.Fatalf("bomb inflates to %d bytes (%v), want %d", n, err, size)
		}
	}
	const limit = 64 << 10
	small := Compress(nil, []byte("warm up the pool"), 1, 15)
	var d Decompressor
	defer d.Close()
	for _, c := range []struct {
		name string
		fn   func() ([]byte, error)
	}{
		{"Decompress", func() ([]byte, error) { return Decompress(nil, bomb, limit) }},
		{"Decompressor", func() ([]byte, error) { return d.Decompress(nil, bomb, limit) }},
	} {
		if _, err := Decompress(nil, small, 0); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, err := c.fn()
		runtime.ReadMemStats(&after)
		if err != ErrTooBig {
			t.Fatalf("%s: err = %v, want ErrTooBig", c.name, err)
		}
		total := after.TotalAlloc - before.TotalAlloc
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("%s: TotalAlloc +%d bytes, HeapAlloc %+d bytes, cap(dst) %d", c.name, total, heap, cap(out))
		if total >= 1<<20 || heap >= 1<<20 {
			t.Errorf("%s: allocated %d bytes (heap %+d) on a bomb with a %d limit", c.name, total, heap, limit)
		}
		if cap(out) > limit+1 {
			t.Errorf("%s: dst capacity %d past limit %d", c.name, cap(out), limit)
		}
	}
}
