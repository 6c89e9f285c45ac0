package auth

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzExtract feeds arbitrary header, protocol and query values to the
// extractors: no panic, tokens are sub-slices or unescaped copies with no
// separators, and the protocol iterator never yields the marker or the
// token.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{"Bearer a.b.c", "bearer, tok, chat", "access_token=a%2Eb&x=1", "bearer", ",,,", "%", "access_token=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := []byte(s)
		if tok, ok := BearerToken(in); ok && len(tok) > 0 {
			if bytes.ContainsAny(tok, " \t") || !bytes.Contains(in, tok) {
				t.Fatalf("BearerToken(%q) = %q", s, tok)
			}
		}
		tok, found := ProtocolToken(in)
		it := ProtocolsOf(in)
		for p, ok := it.Next(); ok; p, ok = it.Next() {
			if len(p) == 0 || bytes.ContainsRune(p, ',') || strings.EqualFold(string(p), ProtocolMarker) {
				t.Fatalf("Protocols(%q) yielded %q", s, p)
			}
			if found && len(tok) > 0 && bytes.Equal(p, tok) && bytes.Count(in, tok) == 1 {
				t.Fatalf("Protocols(%q) yielded the token %q", s, p)
			}
		}
		out, _, err := AppendQueryToken(nil, in)
		if err == nil && len(out) > len(in) {
			t.Fatalf("unescaped token longer than the query: %q", out)
		}
		var c TokenCollector
		c.Query(in)
		c.Protocol(in)
		c.Header(in)
		c.Token()
	})
}

// FuzzPatterns checks that matching never panics, that a compiled
// pattern matches itself when it has no wildcards, and that the string
// and byte forms agree.
func FuzzPatterns(f *testing.F) {
	f.Add("chat.*", "chat.x")
	f.Add("team.*.general", "team.a.general")
	f.Add("a*b*c", "axbyc")
	f.Add(">", "a.b")
	f.Add("x.**", "x.y.z")
	f.Fuzz(func(t *testing.T, pat, room string) {
		ps, err := CompilePatterns([]string{pat})
		if err != nil {
			return
		}
		if ps.Match(room) != matchAny(ps, []byte(room)) {
			t.Fatalf("string and byte forms disagree on %q %q", pat, room)
		}
		if !strings.ContainsAny(pat, "*>") && !ps.Match(pat) {
			t.Fatalf("literal pattern %q does not match itself", pat)
		}
	})
}
