package deflate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// payloadKind names a family of test payloads.
type payloadKind int

const (
	kindRandom payloadKind = iota // incompressible binary
	kindJSON                      // compressible JSON-like text
	kindBinary                    // compressible binary (repeating structs)
)

func (k payloadKind) String() string {
	return [...]string{"random", "json", "binary"}[k]
}

// testPayload returns n deterministic bytes of kind k; seed varies them.
func testPayload(k payloadKind, n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, 0, n+64)
	switch k {
	case kindRandom:
		for len(b) < n {
			b = append(b, byte(r.Uint32()))
		}
	case kindJSON:
		users := []string{"alice", "bob", "carol", "dave", "eve", "mallory"}
		for i := 0; len(b) < n; i++ {
			b = fmt.Appendf(b, `{"id":%d,"user":%q,"room":"lobby-%d","ts":%d,"text":"hello number %d","ok":true},`,
				i, users[r.IntN(len(users))], r.IntN(8), 1700000000000+r.Int64N(1e6), r.IntN(1000))
		}
	case kindBinary:
		for len(b) < n {
			v := r.Uint32N(64)
			b = append(b, 0, 0, 0, byte(v), 0xAA, byte(v>>1), 1, 2, 3, 4, byte(r.Uint32N(4)), 0)
		}
	}
	return b[:n]
}

// stdInflate decompresses a permessage-deflate payload (tail removed) with
// the standard library, as a reference decoder.
func stdInflate(t testing.TB, compressed []byte) []byte {
	t.Helper()
	in := append(append([]byte(nil), compressed...), finalTail...)
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(in)))
	if err != nil {
		t.Fatalf("stdlib inflate: %v", err)
	}
	return out
}

// stdDeflate compresses one message with the standard library the way
// zlib-based peers do: sync flush, tail removed.
func stdDeflate(t testing.TB, w *flate.Writer, buf *bytes.Buffer, payload []byte) []byte {
	t.Helper()
	buf.Reset()
	if _, err := w.Write(payload); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.HasSuffix(b, []byte(syncTail)) {
		t.Fatalf("stdlib flush output %x lacks sync tail", b)
	}
	return append([]byte(nil), b[:len(b)-4]...)
}
