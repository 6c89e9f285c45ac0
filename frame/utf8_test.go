package frame

import (
	"testing"
	"unicode/utf8"
)

var utf8Vectors = []struct {
	name  string
	in    string
	valid bool
}{
	{"empty", "", true},
	{"ascii", "Hello, world", true},
	{"ascii long", "0123456789abcdefghijklmnopqrstuvwxyz", true},
	{"2-byte", "\xc2\x80\xdf\xbf", true},
	{"3-byte", "\xe0\xa0\x80\xef\xbf\xbf\xe2\x82\xac", true},
	{"4-byte", "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80", true},
	{"kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true},
	{"before surrogates", "\xed\x9f\xbf", true},
	{"after surrogates", "\xee\x80\x80", true},
	{"BOM and noncharacters", "\xef\xbb\xbf\xef\xbf\xbe\xef\xbf\xbf", true},
	{"mixed", "abc\xce\xbadef\xf0\x9f\x98\x80ghijklmnop", true},
	{"overlong slash 2", "\xc0\xaf", false},
	{"overlong slash 3", "\xe0\x80\xaf", false},
	{"overlong slash 4", "\xf0\x80\x80\xaf", false},
	{"overlong max 2", "\xc1\xbf", false},
	{"overlong max 3", "\xe0\x9f\xbf", false},
	{"overlong max 4", "\xf0\x8f\xbf\xbf", false},
	{"surrogate low", "\xed\xa0\x80", false},
	{"surrogate high", "\xed\xbf\xbf", false},
	{"surrogate pair", "\xed\xa0\x80\xed\xb0\x80", false},
	{"above max", "\xf4\x90\x80\x80", false},
	{"f5", "\xf5\x80\x80\x80", false},
	{"ff", "\xff", false},
	{"fe", "\xfe", false},
	{"lone continuation", "a\x80b", false},
	{"truncated 2", "\xce", false},
	{"truncated 3", "\xe2\x82", false},
	{"truncated 4", "\xf0\x9f\x98", false},
	{"truncated then ascii", "\xe2\x82a", false},
	{"invalid after long ascii", "0123456789abcdef\xff", false},
	{"5-byte form", "\xf8\x88\x80\x80\x80", false},
}

func TestUTF8Vectors(t *testing.T) {
	for _, v := range utf8Vectors {
		if got := ValidUTF8([]byte(v.in)); got != v.valid {
			t.Errorf("%s: ValidUTF8(%q)=%v want %v", v.name, v.in, got, v.valid)
		}
		if utf8.ValidString(v.in) != v.valid {
			t.Errorf("%s: vector disagrees with unicode/utf8", v.name)
		}
		// Every 2-way and byte-by-byte split gives the same answer.
		for i := 0; i <= len(v.in); i++ {
			var s UTF8State
			ok := s.Feed([]byte(v.in[:i])) && s.Feed([]byte(v.in[i:])) && s.Complete()
			if ok != v.valid {
				t.Errorf("%s split %d: %v", v.name, i, ok)
			}
		}
		var s UTF8State
		ok := true
		for i := 0; i < len(v.in) && ok; i++ {
			ok = s.Feed([]byte{v.in[i]})
		}
		if ok && s.Complete() != v.valid || !ok && v.valid {
			t.Errorf("%s bytewise: ok=%v complete=%v", v.name, ok, s.Complete())
		}
	}
}

// TestUTF8FeedEarly checks Feed fails on the first impossible byte and stays
// failed.
func TestUTF8FeedEarly(t *testing.T) {
	var s UTF8State
	if !s.Feed([]byte("ok \xed")) || s.Complete() {
		t.Fatal("prefix of a valid sequence rejected or complete")
	}
	if s.Feed([]byte("\xa0")) {
		t.Fatal("surrogate second byte accepted")
	}
	if s.Feed([]byte("a")) || s.Complete() {
		t.Fatal("reject state not sticky")
	}
}

// TestUTF8AllPrefixes compares with unicode/utf8 for all 1- and 2-byte
// inputs and a sweep of 3- and 4-byte leads.
func TestUTF8AllPrefixes(t *testing.T) {
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			p := []byte{byte(a), byte(b)}
			if ValidUTF8(p) != utf8.Valid(p) {
				t.Fatalf("%x: mismatch", p)
			}
			for _, c := range []byte{0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0} {
				q := []byte{byte(a), byte(b), c}
				if ValidUTF8(q) != utf8.Valid(q) {
					t.Fatalf("%x: mismatch", q)
				}
				q = append(q, 0x80)
				if ValidUTF8(q) != utf8.Valid(q) {
					t.Fatalf("%x: mismatch", q)
				}
			}
		}
	}
}
