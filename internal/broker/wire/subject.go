package wire

import (
	"errors"
	"strings"
)

// MaxSubjectLen bounds the NATS subjects the broker makes; it refuses a
// name whose subject would be longer. NATS servers refuse protocol lines
// over 4 KiB by default.
const MaxSubjectLen = 2048

// Subjects. A room, user or queue name maps to one subject:
//
//	<prefix>.r.<name>   room
//	<prefix>.u.<name>   user
//	<prefix>.q.<name>   queue
//
// and the nodes talk among themselves on <prefix>.nodes.*.
//
// The name keeps its dots, so that room chat.a is the readable subject
// wsgate.r.chat.a and a NATS tool can watch wsgate.r.chat.> for a family of
// rooms. Within each dot-separated part, the bytes A-Z a-z 0-9 _ - : @
// stand for themselves; every other byte, '~' included, becomes '~' and
// two upper-case hex digits (so '*', '>', spaces, '$' and non-ASCII never
// reach NATS raw). An empty part, which NATS forbids (a leading, trailing
// or doubled dot, or the empty name), becomes a lone '~'. The mapping is
// one-to-one and UnescapeName reverses it.

const hexDigits = "0123456789ABCDEF"

func plainByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '-' || c == ':' || c == '@'
}

// AppendEscaped appends the subject form of name to dst.
func AppendEscaped(dst []byte, name string) []byte {
	start := 0 // start of the current part
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '.' {
			continue
		}
		part := name[start:i]
		if part == "" {
			dst = append(dst, '~')
		}
		for j := 0; j < len(part); j++ {
			if c := part[j]; plainByte(c) {
				dst = append(dst, c)
			} else {
				dst = append(dst, '~', hexDigits[c>>4], hexDigits[c&15])
			}
		}
		if i < len(name) {
			dst = append(dst, '.')
		}
		start = i + 1
	}
	return dst
}

// EscapeName returns the subject form of name (see Subjects above).
func EscapeName(name string) string {
	return string(AppendEscaped(make([]byte, 0, len(name)+8), name))
}

// ErrBadSubject: UnescapeName or ParseSubject met a subject that no name
// maps to.
var ErrBadSubject = errors.New("wire: not a wsgate subject")

// UnescapeName reverses EscapeName.
func UnescapeName(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	first := true
	for part := range strings.SplitSeq(s, ".") {
		if !first {
			b.WriteByte('.')
		}
		first = false
		if err := unescapePart(&b, part); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

func unescapePart(b *strings.Builder, part string) error {
	switch part {
	case "":
		return ErrBadSubject
	case "~":
		return nil
	}
	for i := 0; i < len(part); i++ {
		c := part[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		if c != '~' || i+2 >= len(part) {
			return ErrBadSubject
		}
		hi, lo := unhex(part[i+1]), unhex(part[i+2])
		if hi < 0 || lo < 0 {
			return ErrBadSubject
		}
		v := byte(hi<<4 | lo)
		if plainByte(v) || v == '.' {
			return ErrBadSubject // not what EscapeName writes
		}
		b.WriteByte(v)
		i += 2
	}
	return nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

var kindTokens = [numKinds]string{Room: "r", User: "u", Queue: "q"}

// AppendSubject appends the subject of name of kind k under prefix.
func AppendSubject(dst []byte, prefix string, k Kind, name string) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, '.')
	dst = append(dst, kindTokens[k]...)
	dst = append(dst, '.')
	return AppendEscaped(dst, name)
}

// Subject returns the subject of name of kind k under prefix.
func Subject(prefix string, k Kind, name string) string {
	return string(AppendSubject(make([]byte, 0, len(prefix)+len(name)+12), prefix, k, name))
}

// ParseSubject reverses Subject.
func ParseSubject(prefix, subject string) (Kind, string, error) {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok || len(rest) < 3 || rest[1] != '.' {
		return 0, "", ErrBadSubject
	}
	for k, tok := range kindTokens {
		if rest[:1] == tok {
			name, err := UnescapeName(rest[2:])
			return Kind(k), name, err
		}
	}
	return 0, "", ErrBadSubject
}

// ValidPrefix reports whether p is a usable subject prefix: at most 200
// bytes in one or more dot-separated parts of A-Z a-z 0-9 _ - : @.
func ValidPrefix(p string) bool {
	if p == "" || len(p) > 200 {
		return false
	}
	for part := range strings.SplitSeq(p, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			if !plainByte(part[i]) {
				return false
			}
		}
	}
	return true
}
