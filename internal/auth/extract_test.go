package auth

import (
	"errors"
	"testing"
)

func TestBearerToken(t *testing.T) {
	cases := []struct {
		in    string
		tok   string
		found bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"BeArEr \t abc \t", "abc", true},
		{"  Bearer abc", "abc", true},
		{"Bearer", "", true},
		{"Bearer   ", "", true},
		{"Bearer a b", "", true},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
		{"Bear", "", false},
	}
	for _, c := range cases {
		tok, found := BearerToken([]byte(c.in))
		if string(tok) != c.tok || found != c.found {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", c.in, tok, found, c.tok, c.found)
		}
	}
}

func TestAppendQueryToken(t *testing.T) {
	cases := []struct {
		in    string
		tok   string
		found bool
		err   error
	}{
		{"access_token=abc", "abc", true, nil},
		{"user=x&access_token=a.b.c&y=1", "a.b.c", true, nil},
		{"access_token=a%2Eb%2ec", "a.b.c", true, nil},
		{"access_token=a+b", "a b", true, nil},
		{"x=1", "", false, nil},
		{"", "", false, nil},
		{"access_tokenx=1", "", false, nil},
		{"access_token", "", true, ErrMalformed},
		{"access_token=", "", true, ErrMalformed},
		{"access_token=a%2", "", true, ErrMalformed},
		{"access_token=a%zz", "", true, ErrMalformed},
		{"access_token=a&access_token=b", "", true, ErrMalformed},
	}
	for _, c := range cases {
		tok, found, err := AppendQueryToken([]byte("keep"), []byte(c.in))
		if found != c.found || !errors.Is(err, c.err) && err != c.err {
			t.Errorf("AppendQueryToken(%q): found %v err %v; want %v %v", c.in, found, err, c.found, c.err)
			continue
		}
		want := "keep"
		if err == nil {
			want += c.tok
		}
		if string(tok) != want {
			t.Errorf("AppendQueryToken(%q) = %q, want %q", c.in, tok, want)
		}
	}
}

func TestProtocolToken(t *testing.T) {
	cases := []struct {
		in     string
		tok    string
		found  bool
		protos []string
	}{
		{"bearer, abc.def", "abc.def", true, nil},
		{"chat.v1, bearer, abc, stomp", "abc", true, []string{"chat.v1", "stomp"}},
		{"Bearer,abc", "abc", true, nil},
		{" \tbearer ,\t abc ", "abc", true, nil},
		{"chat.v1", "", false, []string{"chat.v1"}},
		{"chat.v1, stomp", "", false, []string{"chat.v1", "stomp"}},
		{"bearer", "", true, nil},
		{"bearer,", "", true, nil},
		{"chat, , bearer, t", "t", true, []string{"chat"}},
		{"bearerx, abc", "", false, []string{"bearerx", "abc"}},
		// Two tokens in one value are ambiguous: found, but empty (malformed).
		{"bearer, good, bearer, junk", "", true, nil},
		{"", "", false, nil},
	}
	for _, c := range cases {
		tok, found := ProtocolToken([]byte(c.in))
		if string(tok) != c.tok || found != c.found {
			t.Errorf("ProtocolToken(%q) = %q, %v; want %q, %v", c.in, tok, found, c.tok, c.found)
		}
		var got []string
		it := ProtocolsOf([]byte(c.in))
		for p, ok := it.Next(); ok; p, ok = it.Next() {
			got = append(got, string(p))
		}
		if len(got) != len(c.protos) {
			t.Errorf("Protocols(%q) = %q, want %q", c.in, got, c.protos)
			continue
		}
		for i := range got {
			if got[i] != c.protos[i] {
				t.Errorf("Protocols(%q) = %q, want %q", c.in, got, c.protos)
			}
		}
	}
}

func TestTokenCollectorPrecedence(t *testing.T) {
	type offer struct{ kind, v string }
	cases := []struct {
		name   string
		offers []offer
		tok    string
		src    Source
		err    error
	}{
		{"nothing", nil, "", SourceNone, ErrNoToken},
		{"query", []offer{{"q", "access_token=q1"}}, "q1", SourceQuery, nil},
		{"protocol over query", []offer{{"q", "access_token=q1"}, {"p", "bearer, p1"}}, "p1", SourceProtocol, nil},
		{"header over all", []offer{{"q", "access_token=q1"}, {"h", "Bearer h1"}, {"p", "bearer, p1"}}, "h1", SourceHeader, nil},
		{"header first then query", []offer{{"h", "Bearer h1"}, {"q", "access_token=q1"}}, "h1", SourceHeader, nil},
		{"malformed header is not rescued", []offer{{"q", "access_token=q1"}, {"h", "Bearer "}}, "", SourceHeader, ErrMalformed},
		{"malformed query is not no-token", []offer{{"q", "access_token=%zz"}}, "", SourceQuery, ErrMalformed},
		{"bad query, good header", []offer{{"q", "access_token=%zz"}, {"h", "Bearer h1"}}, "h1", SourceHeader, nil},
		{"basic auth ignored", []offer{{"h", "Basic eDp5"}, {"q", "access_token=q1"}}, "q1", SourceQuery, nil},
		{"two bearer headers", []offer{{"h", "Bearer a"}, {"h", "Bearer b"}}, "", SourceHeader, ErrMalformed},
		{"protocol without token", []offer{{"p", "chat, bearer"}}, "", SourceProtocol, ErrMalformed},
		{"protocol without marker", []offer{{"p", "chat"}}, "", SourceNone, ErrNoToken},
	}
	var c TokenCollector
	for _, tc := range cases {
		c.Reset()
		for _, o := range tc.offers {
			switch o.kind {
			case "q":
				c.Query([]byte(o.v))
			case "h":
				c.Header([]byte(o.v))
			case "p":
				c.Protocol([]byte(o.v))
			}
		}
		tok, src, err := c.Token()
		if string(tok) != tc.tok || src != tc.src || err != tc.err {
			t.Errorf("%s: Token() = %q, %v, %v; want %q, %v, %v", tc.name, tok, src, err, tc.tok, tc.src, tc.err)
		}
	}
}

func TestTokenCollectorCopiesAndDoesNotAllocate(t *testing.T) {
	var c TokenCollector
	hdr := []byte("Bearer abc.def.ghi")
	c.Header(hdr)
	copy(hdr, "XXXXXXXXXXXXXXXXXX") // the hook's slice is reused after the call
	if tok, _, _ := c.Token(); string(tok) != "abc.def.ghi" {
		t.Fatalf("token not copied: %q", tok)
	}
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	q := []byte("user=a&access_token=a%2Eb.c")
	h := []byte("Bearer abc.def.ghi")
	p := []byte("chat, bearer, tok.en.x")
	n := testing.AllocsPerRun(1000, func() {
		c.Reset()
		c.Query(q)
		c.Protocol(p)
		c.Header(h)
		if tok, _, err := c.Token(); err != nil || len(tok) == 0 {
			t.Fatal("no token")
		}
		it := ProtocolsOf(p)
		for _, ok := it.Next(); ok; _, ok = it.Next() {
		}
	})
	if n != 0 {
		t.Errorf("extraction allocates %v times per handshake", n)
	}
}

func TestChallenge(t *testing.T) {
	if Challenge(ErrNoToken) != "Bearer" || Challenge(ErrExpired) != `Bearer error="invalid_token"` {
		t.Error("Challenge values")
	}
}
