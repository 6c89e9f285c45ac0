package wire

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds Decode arbitrary bytes: it must not panic, and what it
// accepts must re-encode to a message that decodes the same.
func FuzzDecode(f *testing.F) {
	for _, m := range wireCases {
		if len(m.Payload) > 1000 {
			m.Payload = m.Payload[:1000]
		}
		f.Add(AppendMessage(nil, &m))
	}
	f.Add(fixed(5, 0, 0, 0, 1, 0, 'p'))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if len(m.Payload) > len(b) || len(m.Origin)+len(m.Publisher)+len(m.Target) > len(b) {
			t.Fatalf("decoded more than the input holds")
		}
		again, err := Decode(AppendMessage(nil, &m))
		if err != nil {
			t.Fatalf("re-encoded message fails: %v", err)
		}
		if !sameMessage(again, m) {
			t.Fatalf("round trip changed %+v to %+v", m, again)
		}
		if !bytes.HasSuffix(b, m.Payload) {
			t.Fatalf("payload is not the tail of the input")
		}
	})
}
