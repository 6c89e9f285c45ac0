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
	t := utf8DFA
	for len(p) > 0 {
		if st == utf8Accept && len(p) >= 4 {
			var ok bool
			if p, ok = validFast(p); !ok {
				*s = utf8Reject
				return false
			}
			continue
		}
		if st == utf8Reject {
			break
		}
		st = t[int(st)<<8|int(p[0])]
		p = p[1:]
	}
	*s = st
	return st != utf8Reject
}

// utf8Lead describes a valid lead byte: the sequence length n (0 = invalid,
// 1 = ASCII) and the range lo..hi allowed for the second byte, which is
// what excludes overlongs, surrogates and code points above U+10FFFF.
type utf8Lead struct{ n, lo, hi uint8 }

// utf8Leads is indexed by the first byte of a sequence. Built once, only read.
var utf8Leads = buildUTF8Leads()

func buildUTF8Leads() *[256]utf8Lead {
	t := new([256]utf8Lead)
	for b := range t {
		var l utf8Lead
		switch {
		case b < 0x80:
			l = utf8Lead{1, 0, 0xFF}
		case b >= 0xC2 && b <= 0xDF:
			l = utf8Lead{2, 0x80, 0xBF}
		case b == 0xE0:
			l = utf8Lead{3, 0xA0, 0xBF}
		case b == 0xED:
			l = utf8Lead{3, 0x80, 0x9F}
		case b >= 0xE1 && b <= 0xEF:
			l = utf8Lead{3, 0x80, 0xBF}
		case b == 0xF0:
			l = utf8Lead{4, 0x90, 0xBF}
		case b >= 0xF1 && b <= 0xF3:
			l = utf8Lead{4, 0x80, 0xBF}
		case b == 0xF4:
			l = utf8Lead{4, 0x80, 0x8F}
		default:
			l = utf8Lead{0, 0xFF, 0} // empty range: always fails
		}
		t[b] = l
	}
	return t
}

// validFast validates whole code points from the start of p while at least
// four bytes remain, so no sequence can be cut by the end of p. It returns
// the unvalidated rest (shorter than four bytes) or ok=false.
func validFast(p []byte) (rest []byte, ok bool) {
	const hi8 = 0x8080808080808080
	leads := utf8Leads
	p = p[:len(p):len(p)] // cap == len: reslicing need not track capacity
	for len(p) >= 4 {
		c := p[0]
		if c < 0x80 {
			// In an ASCII run: skip 16 bytes at a time. Runs of multi-byte
			// runes (CJK, emoji) do not pay for this check.
			// Comparing with > rather than >= keeps the resliced pointer
			// inside the array, which spares the compiler a fix-up.
			p = p[1:]
			for len(p) > 32 {
				q := p[:32:32] // lets the compiler drop the bounds checks
				w := binary.LittleEndian.Uint64(q[0:8]) | binary.LittleEndian.Uint64(q[8:16]) |
					binary.LittleEndian.Uint64(q[16:24]) | binary.LittleEndian.Uint64(q[24:32])
				if w&hi8 != 0 {
					break
				}
				p = p[32:]
			}
			for len(p) > 8 && binary.LittleEndian.Uint64(p)&hi8 == 0 {
				p = p[8:]
			}
			continue
		}
		l := leads[c]
		if b1 := p[1]; b1 < l.lo || b1 > l.hi {
			return p, false
		}
		switch l.n {
		case 2:
			p = p[2:]
		case 3:
			if p[2]&0xC0 != 0x80 {
				return p, false
			}
			p = p[3:]
		default:
			if p[2]&0xC0 != 0x80 || p[3]&0xC0 != 0x80 {
				return p, false
			}
			p = p[4:]
		}
	}
	return p, true
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
