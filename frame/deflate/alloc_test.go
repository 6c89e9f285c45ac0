package deflate

import (
	"testing"

	"github.com/wsgate/wsgate/frame"
)

// TestSteadyStateAllocs: with reused buffers, compressing, decompressing
// and handing out prepared frames allocate nothing.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	payload := testPayload(kindJSON, 16<<10, 1)
	comp := make([]byte, 0, 32<<10)
	plain := make([]byte, 0, 32<<10)
	for _, bits := range []int{15, 10, 8} {
		for _, level := range []int{1, 6, 9} {
			comp = Compress(comp[:0], payload, level, bits) // warm the pool
			if a := testing.AllocsPerRun(100, func() { comp = Compress(comp[:0], payload, level, bits) }); a != 0 {
				t.Errorf("Compress l%d w%d: %.1f allocs", level, bits, a)
			}
		}
		var err error
		if a := testing.AllocsPerRun(100, func() { plain, err = Decompress(plain[:0], comp, 1<<20) }); a != 0 || err != nil {
			t.Errorf("Decompress w%d: %.1f allocs, %v", bits, a, err)
		}
		var grown []byte // grows in the warm-up run only
		if a := testing.AllocsPerRun(100, func() { grown, err = Decompress(grown[:0], comp, 1<<20) }); a != 0 || err != nil {
			t.Errorf("Decompress w%d into nil: %.1f allocs, %v", bits, a, err)
		}
	}

	// Context takeover: a stream of different messages.
	c := NewCompressor(1, 15)
	defer c.Close()
	msgs := make([][]byte, 202)
	for i := range msgs {
		msgs[i] = c.Compress(nil, testPayload(kindJSON, 1000+i, uint64(i)))
	}
	i := 0
	if a := testing.AllocsPerRun(100, func() {
		comp = c.Compress(comp[:0], payload)
	}); a != 0 {
		t.Errorf("Compressor.Compress: %.1f allocs", a)
	}
	var d Decompressor
	defer d.Close()
	var err error
	var grown []byte // grows in the warm-up run only
	if a := testing.AllocsPerRun(200, func() {
		grown, err = d.Decompress(grown[:0], msgs[i], 1<<20)
		i++
	}); a != 0 || err != nil {
		t.Errorf("Decompressor.Decompress: %.1f allocs, %v", a, err)
	}

	p := NewPrepared(frame.OpText, payload, nil)
	p.Frame(true, 15)
	if a := testing.AllocsPerRun(100, func() { _ = p.Frame(true, 15); _ = p.Frame(false, 0) }); a != 0 {
		t.Errorf("Prepared.Frame: %.1f allocs", a)
	}
}
