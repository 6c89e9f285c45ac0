package wire

import (
	"strings"
	"testing"
)

func TestEscapeName(t *testing.T) {
	cases := []struct{ name, esc string }{
		{"chat", "chat"},
		{"chat.a", "chat.a"},
		{"a:b@c-d_e", "a:b@c-d_e"},
		{"~", "~7E"},
		{"a~b", "a~7Eb"},
		{"", "~"},
		{".", "~.~"},
		{".a", "~.a"},
		{"a.", "a.~"},
		{"a..b", "a.~.b"},
		{"a*b>c", "a~2Ab~3Ec"},
		{"user with space", "user~20with~20space"},
		{"$SYS", "~24SYS"},
		{"é", "~C3~A9"},
		{"auth0|42", "auth0~7C42"},
	}
	for _, tc := range cases {
		if got := EscapeName(tc.name); got != tc.esc {
			t.Errorf("EscapeName(%q) = %q, want %q", tc.name, got, tc.esc)
		}
		back, err := UnescapeName(tc.esc)
		if err != nil || back != tc.name {
			t.Errorf("UnescapeName(%q) = %q, %v; want %q", tc.esc, back, err, tc.name)
		}
	}
}

// TestEscapeRoundTrip runs every room-name character, in every position,
// and every byte value through the mapping and checks that the subject is
// one NATS accepts as a literal subject.
func TestEscapeRoundTrip(t *testing.T) {
	const roomChars = "ABCXYZabcxyz0189._-:@~"
	var names []string
	for _, a := range roomChars {
		for _, b := range roomChars {
			names = append(names, string(a), string(a)+string(b), "x"+string(a)+string(b)+"y", string(a)+"."+string(b))
		}
	}
	for c := range 256 {
		names = append(names, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b")
	}
	names = append(names, strings.Repeat(".", 128), strings.Repeat("~", 128), "chat.a.b:c@d~e-f_g")
	seen := make(map[string]string)
	for _, n := range names {
		subj := Subject("wsgate", Room, n)
		if !literalSubject(subj) {
			t.Fatalf("name %q: subject %q is not a literal NATS subject", n, subj)
		}
		if prev, dup := seen[subj]; dup && prev != n {
			t.Fatalf("names %q and %q share subject %q", prev, n, subj)
		}
		seen[subj] = n
		k, back, err := ParseSubject("wsgate", subj)
		if err != nil || k != Room || back != n {
			t.Fatalf("ParseSubject(%q) = %v %q %v, want room %q", subj, k, back, err, n)
		}
	}
}

// literalSubject checks NATS's rules for a publish subject: non-empty
// dot-separated tokens without wildcards or whitespace.
func literalSubject(s string) bool {
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>") {
			return false
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] < 0x21 || tok[i] > 0x7e {
				return false
			}
		}
	}
	return true
}

func TestUnescapeRejects(t *testing.T) {
	for _, s := range []string{"", "a..b", "a~", "a~7", "a~7e", "a~zz", "~41", "~2E", "a b", "a~~"} {
		if got, err := UnescapeName(s); err == nil {
			t.Errorf("UnescapeName(%q) = %q, want an error", s, got)
		}
	}
	for _, s := range []string{"other.r.x", "wsgate.x.y", "wsgate.r", "wsgate.r.", "wsgateXr.y"} {
		if _, _, err := ParseSubject("wsgate", s); err == nil {
			t.Errorf("ParseSubject(%q) succeeded", s)
		}
	}
}

func TestSubjectKinds(t *testing.T) {
	for k, want := range map[Kind]string{Room: "p.x.r.a.b", User: "p.x.u.a.b", Queue: "p.x.q.a.b"} {
		if got := Subject("p.x", k, "a.b"); got != want {
			t.Errorf("Subject(%v) = %q, want %q", k, got, want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("chat.a")
	f.Add("..~~")
	f.Fuzz(func(t *testing.T, name string) {
		esc := EscapeName(name)
		if !literalSubject(esc) {
			t.Fatalf("%q escapes to %q, not a literal subject", name, esc)
		}
		back, err := UnescapeName(esc)
		if err != nil || back != name {
			t.Fatalf("%q -> %q -> %q, %v", name, esc, back, err)
		}
	})
}
