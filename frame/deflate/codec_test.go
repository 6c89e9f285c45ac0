package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"testing"

	"github.com/wsgate/wsgate/frame"
)

// roundTripSizes covers Autobahn 12.x/13.x payload sizes (16 B .. 1 MiB)
// plus the edges of the flate window and block sizes.
var roundTripSizes = []int{0, 1, 16, 64, 125, 126, 128, 256, 1000, 1024, 4096, 16384,
	32767, 32768, 32769, 65535, 65536, 65537, 131072, 262144, 1 << 20}

// roundTripConfigs are the (level, window bits) pairs every size is tested
// with; sizes over 64 KiB use bigConfigs only, to keep the test fast.
var (
	roundTripConfigs = []struct{ level, bits int }{{1, 8}, {1, 9}, {1, 10}, {1, 11}, {1, 12}, {1, 13}, {1, 14},
		{1, 15}, {2, 15}, {5, 15}, {6, 15}, {7, 15}, {9, 15}}
	bigConfigs = []struct{ level, bits int }{{1, 15}, {9, 15}, {1, 8}, {1, 12}}
)

func TestCompressRoundTrip(t *testing.T) {
	var comp, plain []byte
	for _, size := range roundTripSizes {
		configs := roundTripConfigs
		if raceEnabled {
			configs = bigConfigs
		}
		if size > 65537 {
			if raceEnabled && size != 1<<20 {
				continue
			}
			configs = bigConfigs
			if raceEnabled {
				configs = configs[:1]
			}
		}
		for _, kind := range []payloadKind{kindRandom, kindJSON, kindBinary} {
			payload := testPayload(kind, size, 1)
			for _, cfg := range configs {
				name := fmt.Sprintf("%s/%d/w%d/l%d", kind, size, cfg.bits, cfg.level)
				comp = Compress(comp[:0], payload, cfg.level, cfg.bits)
				if bytes.HasSuffix(comp, []byte(syncTail)) && size > 0 {
					t.Fatalf("%s: sync tail not removed", name)
				}
				var err error
				plain, err = Decompress(plain[:0], comp, int64(size))
				if err != nil {
					t.Fatalf("%s: Decompress: %v", name, err)
				}
				if !bytes.Equal(plain, payload) {
					t.Fatalf("%s: round trip mismatch", name)
				}
				if got := stdInflate(t, comp); !bytes.Equal(got, payload) {
					t.Fatalf("%s: stdlib inflate mismatch", name)
				}
				if kind == kindJSON && size >= 1024 && len(comp) > size/2 {
					t.Errorf("%s: compressible payload only shrank to %d", name, len(comp))
				}
			}
		}
	}
}

func TestCompressAppends(t *testing.T) {
	prefix := []byte("prefix")
	payload := testPayload(kindJSON, 500, 2)
	out := Compress(append([]byte(nil), prefix...), payload, 1, 15)
	if !bytes.HasPrefix(out, prefix) {
		t.Fatal("Compress clobbered dst")
	}
	plain, err := Decompress(append([]byte(nil), prefix...), out[len(prefix):], 0)
	if err != nil || !bytes.Equal(plain[len(prefix):], payload) || !bytes.HasPrefix(plain, prefix) {
		t.Fatalf("Decompress append: %v", err)
	}
}

func TestEmptyMessage(t *testing.T) {
	if got := Compress(nil, nil, 1, 15); !bytes.Equal(got, []byte{0}) {
		t.Errorf("Compress(empty) = %x, want 00", got)
	}
	for bits := MinWindowBits; bits < MaxWindowBits; bits++ {
		if got := Compress(nil, nil, 1, bits); len(got) > 2 {
			t.Errorf("Compress(empty, w%d) = %x", bits, got)
		}
	}
	// RFC 7692 7.2.3.6: both encodings of an empty message are valid.
	for _, in := range [][]byte{{0x00}, {0x02, 0x00}} {
		out, err := Decompress(nil, in, 10)
		if err != nil || len(out) != 0 {
			t.Errorf("Decompress(%x) = %q, %v", in, out, err)
		}
		var d Decompressor
		for range 3 {
			out, err := d.Decompress(nil, in, 10)
			if err != nil || len(out) != 0 {
				t.Errorf("Decompressor.Decompress(%x) = %q, %v", in, out, err)
			}
		}
		d.Close()
	}
}

// TestRFCExamples decodes the examples of RFC 7692 section 7.2.3.
func TestRFCExamples(t *testing.T) {
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	cases := []struct {
		name string
		in   []byte
	}{
		{"7.2.3.1 literal", hello},
		{"7.2.3.3 no compression", []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}},
		{"7.2.3.5 bfinal", []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}},
		{"7.2.3.4 two blocks", []byte{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}},
	}
	for _, c := range cases {
		out, err := Decompress(nil, c.in, 100)
		if err != nil || string(out) != "Hello" {
			t.Errorf("%s: Decompress = %q, %v", c.name, out, err)
		}
	}
	// 7.2.3.2: the second "Hello" refers back to the first (context takeover).
	var d Decompressor
	defer d.Close()
	for i, in := range [][]byte{hello, {0xf2, 0x00, 0x11, 0x00, 0x00}} {
		out, err := d.Decompress(nil, in, 100)
		if err != nil || string(out) != "Hello" {
			t.Fatalf("7.2.3.2 message %d: %q, %v", i, out, err)
		}
	}
}

func TestDecompressLimit(t *testing.T) {
	for _, size := range []int{2, 100, 4095, 4096, 4097, 65536, 100000} {
		payload := testPayload(kindJSON, size, 3)
		comp := Compress(nil, payload, 1, 15)
		if out, err := Decompress(nil, comp, int64(size)); err != nil || !bytes.Equal(out, payload) {
			t.Fatalf("size %d at limit: %v", size, err)
		}
		out, err := Decompress([]byte("x"), comp, int64(size-1))
		var pe *frame.ProtocolError
		if !errors.Is(err, ErrTooBig) || !errors.As(err, &pe) || pe.Code != frame.CloseMessageTooBig {
			t.Fatalf("size %d over limit: err %v", size, err)
		}
		if string(out) != "x" {
			t.Fatalf("size %d: dst not restored on error: %q", size, out)
		}
		if cap(out) > 1+size+1 && cap(out) > 2*readChunkSize {
			t.Errorf("size %d: dst grew to %d past limit", size, cap(out))
		}
		var d Decompressor
		if _, err := d.Decompress(nil, comp, int64(size-1)); err != ErrTooBig {
			t.Fatalf("Decompressor size %d over limit: %v", size, err)
		}
		if _, err := d.Decompress(nil, comp, 0); err != ErrTooBig {
			t.Fatalf("Decompressor error not sticky: %v", err)
		}
		d.Close()
	}
}

func TestDecompressCorrupt(t *testing.T) {
	good := Compress(nil, testPayload(kindJSON, 3000, 4), 1, 15)
	cases := map[string][]byte{
		"reserved btype":   {0x07},
		"truncated":        good[:len(good)/2],
		"bad stored nlen":  {0x00, 0x05, 0x00, 0x00, 0x00, 'H', 'e', 'l', 'l', 'o', 0x00},
		"distance too far": {0x02, 0x20, 0x01, 0x00}, // fixed block starting with a back-reference
		"garbage":          bytes.Repeat([]byte{0xff}, 40),
		"stored block cut": {0x00, 0x0a, 0x00, 0xf5, 0xff, 'a', 'b'}, // LEN 10, 2 bytes
	}
	for name, in := range cases {
		if _, err := Decompress(nil, in, 1<<20); err != ErrCorrupt {
			t.Errorf("%s: Decompress err = %v, want ErrCorrupt", name, err)
		}
		var d Decompressor
		if _, err := d.Decompress(nil, in, 1<<20); err != ErrCorrupt {
			t.Errorf("%s: Decompressor err = %v, want ErrCorrupt", name, err)
		}
		d.Close()
	}
}

// TestDecompressStdlib decodes streams made by compress/flate, the way zlib
// based peers (browsers, Node's ws) produce them, at every level.
func TestDecompressStdlib(t *testing.T) {
	var buf bytes.Buffer
	for _, level := range []int{flate.HuffmanOnly, 1, 6, 9} {
		w, _ := flate.NewWriter(&buf, level)
		for _, size := range roundTripSizes {
			if size > 65537 && level != 1 {
				continue
			}
			payload := testPayload(kindJSON, size, 5)
			w.Reset(&buf)
			comp := stdDeflate(t, w, &buf, payload)
			out, err := Decompress(nil, comp, int64(size))
			if err != nil || !bytes.Equal(out, payload) {
				t.Fatalf("level %d size %d: %v", level, size, err)
			}
			// Same message closed with a final block (RFC 7692 7.2.3.5).
			buf.Reset()
			w.Reset(&buf)
			w.Write(payload)
			w.Close()
			out, err = Decompress(nil, buf.Bytes(), int64(size))
			if err != nil || !bytes.Equal(out, payload) {
				t.Fatalf("level %d size %d bfinal: %v", level, size, err)
			}
		}
	}
}
