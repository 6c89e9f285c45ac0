package frame

import "encoding/binary"

// UTF8State is the state of a streaming UTF-8 validator. The zero value is
// the start state. Feed it the bytes of a text message in as many pieces as
// they arrive; it fails on the first byte that cannot be part of valid UTF-8
// (overlong forms, surrogates U+D800-U+DFFF, code points above U+10FFFF,
// stray continuation bytes, C0, C1, F5-FF), then call Complete at the end.
type UTF8State uint32

// DFA states. The validator is a table-driven automaton over the
// well-formed byte sequences of Unicode Table 3-7.
const (
	utf8Accept  UTF8State = iota // between code points
	utf8Reject                   // invalid; sticky
	utf8Need1                    // one more 80-BF
	utf8Need2                    // two more 80-BF
	utf8Need3                    // three more 80-BF
	utf8AfterE0                  // next A0-BF (no overlong 3-byte)
	utf8AfterED                  // next 80-9F (no surrogates)
	utf8AfterF0                  // next 90-BF (no overlong 4-byte)
	utf8AfterF4                  // next 80-8F (nothing above U+10FFFF)
	utf8States
)

// utf8DFA[state<<8|byte] is the next state. It is built once and only read.
var utf8DFA = buildUTF8DFA()

func buildUTF8DFA() *[int(utf8States) << 8]UTF8State {
	t := new([int(utf8States) << 8]UTF8State)
	for i := range t {
		t[i] = utf8Reject
	}
	set := func(s UTF8State, lo, hi int, next UTF8State) {
		for b := lo; b <= hi; b++ {
			t[int(s)<<8|b] = next
		}
	}
	set(utf8Accept, 0x00, 0x7F, utf8Accept)
	set(utf8Accept, 0xC2, 0xDF, utf8Need1)
	set(utf8Accept, 0xE0, 0xE0, utf8AfterE0)
	set(utf8Accept, 0xE1, 0xEC, utf8Need2)
	set(utf8Accept, 0xED, 0xED, utf8AfterED)
	set(utf8Accept, 0xEE, 0xEF, utf8Need2)
	set(utf8Accept, 0xF0, 0xF0, utf8AfterF0)
	set(utf8Accept, 0xF1, 0xF3, utf8Need3)
	set(utf8Accept, 0xF4, 0xF4, utf8AfterF4)
	set(utf8Need1, 0x80, 0xBF, utf8Accept)
	set(utf8Need2, 0x80, 0xBF, utf8Need1)
	set(utf8Need3, 0x80, 0xBF, utf8Need2)
	set(utf8AfterE0, 0xA0, 0xBF, utf8Need1)
	set(utf8AfterED, 0x80, 0x9F, utf8Need1)
	set(utf8AfterF0, 0x90, 0xBF, utf8Need2)
	set(utf8AfterF4, 0x80, 0x8F, utf8Need2)
	return t
}

// Feed advances the validator over p. It returns false as soon as p makes
// the byte sequence invalid; the state then stays invalid.
func (s *UTF8State) Feed(p []byte) bool {
	st := *s
	if st == utf8Reject {
		return false
	}
	t := utf8DFA
	i := 0
	for i < len(p) {
		if st == utf8Accept {
			// ASCII fast path: 8 bytes at a time, then byte by byte.
			for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
				i += 8
			}
			for i < len(p) && p[i] < 0x80 {
				i++
			}
			if i == len(p) {
				break
			}
		}
		st = t[int(st)<<8|int(p[i])]
		if st == utf8Reject {
			*s = utf8Reject
			return false
		}
		i++
	}
	*s = st
	return true
}

// Complete reports whether the bytes fed so far end between code points,
// that is, form valid UTF-8 on their own.
func (s UTF8State) Complete() bool { return s == utf8Accept }

// ValidUTF8 reports whether p is entirely valid UTF-8. It agrees with
// unicode/utf8.Valid.
func ValidUTF8(p []byte) bool {
	var s UTF8State
	return s.Feed(p) && s.Complete()
}
