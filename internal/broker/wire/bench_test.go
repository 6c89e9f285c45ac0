package wire

import (
	"fmt"
	"testing"
)

func BenchmarkAppendMessage(b *testing.B) {
	for _, size := range []int{64, 1024, 16384} {
		m := Message{Kind: Room, Flags: JSON, Origin: "0123456789abcdef", Publisher: "alice", Target: "chat.a", Payload: make([]byte, size)}
		buf := make([]byte, 0, EncodedLen(&m))
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				buf = AppendMessage(buf[:0], &m)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{64, 1024, 16384} {
		m := Message{Kind: Room, Flags: JSON, Origin: "0123456789abcdef", Publisher: "alice", Target: "chat.a", Payload: make([]byte, size)}
		enc := AppendMessage(nil, &m)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := Decode(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendSubject(b *testing.B) {
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendSubject(buf[:0], "wsgate", Room, "chat.lobby-42")
	}
}
