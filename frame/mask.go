package frame

import (
	"encoding/binary"
	"math/bits"
)

// Mask XORs b in place with the masking key, starting at key byte pos%4, and
// returns the key position after b, (pos+len(b))%4, to continue masking a
// payload delivered in pieces. Masking twice with the same key and position
// restores the original bytes.
func Mask(b []byte, key [4]byte, pos int) int {
	pos &= 3
	end := (pos + len(b)) & 3
	if len(b) < 8 {
		for i := range b {
			b[i] ^= key[pos&3]
			pos++
		}
		return end
	}
	// Rotate the key so that key byte pos lines up with b[0], then widen it.
	k32 := bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*pos)
	k64 := uint64(k32) | uint64(k32)<<32
	for len(b) >= 32 {
		v0 := binary.LittleEndian.Uint64(b[0:8]) ^ k64
		v1 := binary.LittleEndian.Uint64(b[8:16]) ^ k64
		v2 := binary.LittleEndian.Uint64(b[16:24]) ^ k64
		v3 := binary.LittleEndian.Uint64(b[24:32]) ^ k64
		binary.LittleEndian.PutUint64(b[0:8], v0)
		binary.LittleEndian.PutUint64(b[8:16], v1)
		binary.LittleEndian.PutUint64(b[16:24], v2)
		binary.LittleEndian.PutUint64(b[24:32], v3)
		b = b[32:]
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(k64 >> (8 * i))
	}
	return end
}
