package deflate

import (
	"bytes"
	"sync"
	"testing"

	"github.com/wsgate/wsgate/frame"
)

// collector is a frame.Handler keeping copies of what it receives.
type collector struct {
	ops        []frame.Opcode
	compressed []bool
	payloads   [][]byte
}

func (c *collector) OnMessage(op frame.Opcode, compressed bool, payload []byte) error {
	c.ops = append(c.ops, op)
	c.compressed = append(c.compressed, compressed)
	c.payloads = append(c.payloads, append([]byte(nil), payload...))
	return nil
}

func (c *collector) OnControl(op frame.Opcode, payload []byte) error {
	return c.OnMessage(op, false, payload)
}

// decodeServerFrames decodes unmasked frames as a client with
// permessage-deflate negotiated.
func decodeServerFrames(t *testing.T, wire []byte) *collector {
	t.Helper()
	var d frame.Decoder
	d.Init(nil, true, true)
	defer d.Release()
	var c collector
	if err := d.Feed(append([]byte(nil), wire...), &c); err != nil {
		t.Fatalf("decoding %x...: %v", wire[:min(len(wire), 16)], err)
	}
	return &c
}

func TestPreparedVariants(t *testing.T) {
	payload := testPayload(kindJSON, 5000, 11)
	orig := append([]byte(nil), payload...)
	p := NewPrepared(frame.OpText, payload, nil)
	payload[0] = 'X' // NewPrepared copied it
	plain := p.Frame(false, 0)
	if plain[0] != 0x81 {
		t.Fatalf("plain frame byte 0 = %#x, want 0x81", plain[0])
	}
	if c := decodeServerFrames(t, plain); c.compressed[0] || !bytes.Equal(c.payloads[0], orig) {
		t.Fatal("plain frame payload differs")
	}
	if !bytes.Equal(p.Payload(), orig) {
		t.Fatal("Payload differs")
	}
	for bits := 0; bits <= MaxWindowBits; bits++ {
		if bits > 0 && bits < MinWindowBits {
			continue
		}
		f := p.Frame(true, bits)
		if f[0] != 0xC1 {
			t.Fatalf("w%d: byte 0 = %#x, want FIN|RSV1|text 0xC1", bits, f[0])
		}
		if len(f) >= len(plain) {
			t.Fatalf("w%d: compressed frame %d bytes, plain %d", bits, len(f), len(plain))
		}
		if again := p.Frame(true, bits); &again[0] != &f[0] {
			t.Fatalf("w%d: frame rebuilt", bits)
		}
		c := decodeServerFrames(t, f)
		if !c.compressed[0] || c.ops[0] != frame.OpText {
			t.Fatalf("w%d: decoded op %v compressed %v", bits, c.ops[0], c.compressed[0])
		}
		out, err := Decompress(nil, c.payloads[0], 1<<20)
		if err != nil || !bytes.Equal(out, orig) {
			t.Fatalf("w%d: %v", bits, err)
		}
	}
	if f0, f15 := p.Frame(true, 0), p.Frame(true, 15); &f0[0] != &f15[0] {
		t.Error("window bits 0 and 15 built separately")
	}
}

func TestPreparedUncompressedCases(t *testing.T) {
	cases := []struct {
		name    string
		op      frame.Opcode
		payload []byte
		opts    *Options
	}{
		{"under default threshold", frame.OpText, testPayload(kindJSON, DefaultThreshold-1, 1), nil},
		{"under custom threshold", frame.OpBinary, testPayload(kindJSON, 999, 1), &Options{Threshold: 1000}},
		{"control", frame.OpPing, testPayload(kindJSON, 125, 1), &Options{Threshold: -1}},
		{"incompressible", frame.OpBinary, testPayload(kindRandom, 4000, 1), nil},
		{"empty", frame.OpText, nil, &Options{Threshold: -1}},
	}
	for _, c := range cases {
		p := NewPrepared(c.op, c.payload, c.opts)
		plain := p.Frame(false, 15)
		for _, bits := range []int{0, 8, 15} {
			if f := p.Frame(true, bits); &f[0] != &plain[0] {
				t.Errorf("%s: w%d frame compressed", c.name, bits)
			}
		}
		if got := decodeServerFrames(t, plain); got.compressed[0] || got.ops[0] != c.op || !bytes.Equal(got.payloads[0], c.payload) {
			t.Errorf("%s: plain frame decodes wrong", c.name)
		}
	}
	// At the threshold it compresses.
	p := NewPrepared(frame.OpText, testPayload(kindJSON, DefaultThreshold, 1), nil)
	if f := p.Frame(true, 15); f[0]&frame.RSV1 == 0 {
		t.Error("payload of exactly the threshold not compressed")
	}
}

func TestPreparedConcurrent(t *testing.T) {
	p := NewPrepared(frame.OpBinary, testPayload(kindBinary, 50000, 3), &Options{Level: 6})
	const workers = 8
	var wg sync.WaitGroup
	results := make([][MaxWindowBits + 1][]byte, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				bits := MinWindowBits + (i+w)%8
				results[w][bits] = p.Frame(true, bits)
			}
		}()
	}
	wg.Wait()
	for bits := MinWindowBits; bits <= MaxWindowBits; bits++ {
		for w := 1; w < workers; w++ {
			if &results[w][bits][0] != &results[0][bits][0] {
				t.Fatalf("w%d: workers got different frames", bits)
			}
		}
	}
}

// TestFragmentedCompressed splits a compressed message into frames (RSV1
// on the first only), decodes them with the frame Decoder and inflates.
func TestFragmentedCompressed(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for _, size := range []int{16, 1000, 70000, 1 << 20} {
		if raceEnabled && size > 70000 {
			continue
		}
		payload := testPayload(kindJSON, size, 4)
		comp := Compress(nil, payload, 1, 15)
		for _, frag := range []int{1, 7, 125, 4096, len(comp)} {
			var wire []byte
			for off := 0; off < len(comp) || off == 0; off += frag {
				end := min(off+frag, len(comp))
				op, rsv := frame.OpContinuation, byte(0)
				if off == 0 {
					op, rsv = frame.OpText, frame.RSV1
				}
				wire = frame.AppendMaskedFrame(wire, end == len(comp), rsv, op, key, comp[off:end])
				if end == len(comp) {
					break
				}
			}
			var d frame.Decoder
			d.Init(&frame.Limits{MaxMessage: int64(len(comp))}, false, true)
			var c collector
			// Feed in pieces so frames also split across reads.
			for off := 0; off < len(wire); off += 3000 {
				if err := d.Feed(wire[off:min(off+3000, len(wire))], &c); err != nil {
					t.Fatalf("size %d frag %d: %v", size, frag, err)
				}
			}
			d.Release()
			if len(c.payloads) != 1 || !c.compressed[0] || c.ops[0] != frame.OpText {
				t.Fatalf("size %d frag %d: got %d messages", size, frag, len(c.payloads))
			}
			out, err := Decompress(nil, c.payloads[0], int64(size))
			if err != nil || !bytes.Equal(out, payload) || !frame.ValidUTF8(out) {
				t.Fatalf("size %d frag %d: %v", size, frag, err)
			}
		}
	}
}
