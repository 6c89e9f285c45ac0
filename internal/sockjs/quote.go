package sockjs

import (
	"unicode/utf8"
)

// SockJS frames carry messages as JSON strings, and the JSON must survive
// every transport: a JavaScript string literal inside a <script> tag
// (htmlfile), a JSONP callback argument, an EventSource data line, and
// browsers that mangle certain code points. The reference server
// (sockjs-node) therefore escapes more than JSON requires. It first
// applies JavaScript's JSON.stringify, which writes \" and \\, the short
// escapes \b \t \n \f \r, \u00XX for every other control character
// below U+0020, and \uXXXX for an unpaired surrogate; it then rewrites as
// \uXXXX every UTF-16 code unit of the result that lies in one of these
// ranges:
//
//	U+0000–U+001F  control characters (already escaped by the first step)
//	U+200C–U+200F  zero-width non-joiner and joiner, direction marks
//	U+2028–U+202F  line and paragraph separators, embedding controls, NNBSP
//	U+2060–U+206F  word joiner, invisible operators, deprecated format chars
//	U+FFF0–U+FFFF  specials, including the noncharacters U+FFFE and U+FFFF
//	U+D800–U+DFFF  surrogates
//
// The last range matters more than it looks: JavaScript strings are
// UTF-16, so every code point above U+FFFF is a surrogate pair and comes
// out as two escapes (U+1F600 becomes \ud83d\ude00). Hex digits are lower
// case, as JavaScript's toString(16) writes them. DEL (U+007F), '/', '<'
// and every other code point pass through as UTF-8.
//
// Go byte strings may hold invalid UTF-8, which no JavaScript string can;
// each invalid byte is written as \ufffd.

const hexDigits = "0123456789abcdef"

// needsEscape reports whether the code point r is written as \uXXXX by
// SockJS's quoting (besides '"', '\\' and the short escapes).
func needsEscape(r rune) bool {
	switch {
	case r < 0x20:
		return true
	case r < 0x200c:
		return false
	case r <= 0x200f, r >= 0x2028 && r <= 0x202f, r >= 0x2060 && r <= 0x206f:
		return true
	case r >= 0xd800 && r <= 0xdfff:
		return true
	case r >= 0xfff0:
		return true // U+FFF0–U+FFFF, and everything above U+FFFF as a pair
	}
	return false
}

func appendU4(dst []byte, u uint16) []byte {
	return append(dst, '\\', 'u', hexDigits[u>>12], hexDigits[u>>8&0xf], hexDigits[u>>4&0xf], hexDigits[u&0xf])
}

// AppendQuote appends s as a SockJS JSON string, quotes included, escaped
// as described in the package's escaping notes, and returns the extended
// buffer. It allocates only when dst must grow.
func AppendQuote(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = appendU4(dst, uint16(c))
			}
			i++
			start = i
			continue
		}
		if c >= 0xc2 && c < 0xe0 { // two-byte sequences are never escaped
			if i+1 < len(s) && s[i+1]&0xc0 == 0x80 {
				i += 2
				continue
			}
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = appendU4(dst, 0xfffd)
			i++
			start = i
			continue
		}
		if !needsEscape(r) {
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		if r > 0xffff {
			r -= 0x10000
			dst = appendU4(dst, uint16(0xd800+(r>>10)))
			dst = appendU4(dst, uint16(0xdc00+(r&0x3ff)))
		} else {
			dst = appendU4(dst, uint16(r))
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSString appends frame, SockJS frame text that AppendQuote or the
// frame builders produced, escaped for the inside of a double-quoted
// JavaScript string literal (without the quotes): '"' and '\\' get a
// backslash, and '<' becomes \u003c so that no message can close the
// htmlfile transport's <script> element. Frame text holds no control
// characters and no line terminators (AppendQuote escaped them), so
// nothing else needs escaping.
func appendJSString(dst, frame []byte) []byte {
	start := 0
	for i, c := range frame {
		switch c {
		case '"', '\\':
			dst = append(dst, frame[start:i]...)
			dst = append(dst, '\\', c)
			start = i + 1
		case '<':
			dst = append(dst, frame[start:i]...)
			dst = append(dst, `\u003c`...)
			start = i + 1
		}
	}
	return append(dst, frame[start:]...)
}

// appendEventData appends frame escaped for an EventSource data line. The
// client runs decodeURI over each event, so '%' must travel as %25; CR,
// LF and NUL, which would end or corrupt the line, as %0D, %0A and %00
// (frame text never holds them raw, but the rule costs nothing).
func appendEventData(dst, frame []byte) []byte {
	start := 0
	for i, c := range frame {
		var esc string
		switch c {
		case '%':
			esc = "%25"
		case '\r':
			esc = "%0D"
		case '\n':
			esc = "%0A"
		case 0:
			esc = "%00"
		default:
			continue
		}
		dst = append(dst, frame[start:i]...)
		dst = append(dst, esc...)
		start = i + 1
	}
	return append(dst, frame[start:]...)
}
