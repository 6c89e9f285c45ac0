package sockjs

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// refQuote is an independent statement of SockJS's quoting: walk the
// UTF-16 code units, as the JavaScript reference server does.
func refQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	units := utf16.Encode([]rune(strings.ToValidUTF8(s, "\uFFFD")))
	for _, u := range units {
		switch {
		case u == '"':
			b.WriteString(`\"`)
		case u == '\\':
			b.WriteString(`\\`)
		case u == '\b':
			b.WriteString(`\b`)
		case u == '\t':
			b.WriteString(`\t`)
		case u == '\n':
			b.WriteString(`\n`)
		case u == '\f':
			b.WriteString(`\f`)
		case u == '\r':
			b.WriteString(`\r`)
		case u < 0x20, u >= 0xd800 && u <= 0xdfff, u >= 0x200c && u <= 0x200f,
			u >= 0x2028 && u <= 0x202f, u >= 0x2060 && u <= 0x206f, u >= 0xfff0:
			const hex = "0123456789abcdef"
			b.WriteString(`\u`)
			b.WriteByte(hex[u>>12])
			b.WriteByte(hex[u>>8&15])
			b.WriteByte(hex[u>>4&15])
			b.WriteByte(hex[u&15])
		default:
			b.WriteRune(rune(u))
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestQuoteEveryCodePoint(t *testing.T) {
	var in []byte
	for r := rune(0); r < 0x110000; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		if r > 0xffff && r%97 != 0 {
			continue // a sample of the astral planes
		}
		in = utf8.AppendRune(in[:0], r)
		in = append(in, 'x')
		if got, want := string(AppendQuote(nil, in)), refQuote(string(in)); got != want {
			t.Fatalf("U+%04X: got %s, want %s", r, got, want)
		}
	}
}

func TestQuoteCases(t *testing.T) {
	cases := map[string]string{
		"":                         `""`,
		"hello":                    `"hello"`,
		"a\"b\\c\n\x00\x7f/<>&":    `"a\"b\\c\n\u0000` + "\x7f" + `/<>&"`,
		"\u2028\u2029\u200d\ufeff": `"\u2028\u2029\u200d` + "\ufeff" + `"`,
		"😀":                        `"\ud83d\ude00"`,
		"bad\xffutf8\xc3":          `"bad\ufffdutf8\ufffd"`,
		"ümlaut é":                 `"ümlaut é"`,
	}
	for in, want := range cases {
		if got := string(AppendQuote(nil, []byte(in))); got != want {
			t.Errorf("AppendQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestQuoteRoundTrip decodes what AppendQuote wrote with the package's own
// JSON reader: valid UTF-8 comes back unchanged.
func TestQuoteRoundTrip(t *testing.T) {
	msgs := []string{"", "x", "\u2028 \uffff 😀 \x00\x1f \"\\", strings.Repeat("é€", 1000)}
	var body []byte
	body = append(body, '[')
	for i, m := range msgs {
		if i > 0 {
			body = append(body, ',')
		}
		body = AppendQuote(body, []byte(m))
	}
	body = append(body, ']')
	var got []string
	if _, err := ParseMessages(body, nil, func(m []byte) { got = append(got, string(m)) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != strings.Join(msgs, "|") {
		t.Fatalf("round trip: %q", got)
	}
}

func TestParseMessages(t *testing.T) {
	cases := []struct {
		body string
		want string
		err  error
	}{
		{`["a","b"]`, "a|b", nil},
		{` [ "a" , 1, true, null, {"k":[1]} ] `, `a|1|true|null|{"k":[1]}`, nil},
		{`[]`, "", nil},
		{`["\ud83d\ude00\ud800x\u00e9"]`, "😀\ufffdxé", nil},
		{``, "", ErrPayloadExpected},
		{`   `, "", ErrPayloadExpected},
		{`{"a":1}`, "", ErrPayloadExpected},
		{`"a"`, "", ErrPayloadExpected},
		{`["x`, "", ErrBrokenJSON},
		{`["a"]x`, "", ErrBrokenJSON},
		{`["a",]`, "", ErrBrokenJSON},
		{`["\q"]`, "", ErrBrokenJSON},
		{"[\"\x01\"]", "", ErrBrokenJSON},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), "", ErrBrokenJSON},
	}
	for _, c := range cases {
		var got []string
		_, err := ParseMessages([]byte(c.body), nil, func(m []byte) { got = append(got, string(m)) })
		if err != c.err || strings.Join(got, "|") != c.want {
			t.Errorf("ParseMessages(%q) = %q, %v; want %q, %v", c.body, got, err, c.want, c.err)
		}
	}
}

func TestParseWebSocketMessage(t *testing.T) {
	for in, want := range map[string]string{`["a","b"]`: "a|b", `"c"`: "c", ``: "", `[]`: ""} {
		var got []string
		if _, err := ParseWebSocketMessage([]byte(in), nil, func(m []byte) { got = append(got, string(m)) }); err != nil || strings.Join(got, "|") != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{`["a`, `x`, `"a" "b"`} {
		if _, err := ParseWebSocketMessage([]byte(in), nil, func([]byte) {}); err != ErrBrokenJSON {
			t.Errorf("%q: err %v", in, err)
		}
	}
}

func TestFormValue(t *testing.T) {
	form := []byte("a=1&d=%5B%22x+y%22%5D&%63=cb&bad=%zz")
	for name, want := range map[string]string{"d": `["x y"]`, "c": "cb", "a": "1", "bad": "%zz"} {
		if got, ok := FormValue(form, name, nil); !ok || string(got) != want {
			t.Errorf("%s = %q %v, want %q", name, got, ok, want)
		}
	}
	if _, ok := FormValue(form, "zz", nil); ok {
		t.Error("absent field found")
	}
}

func TestWireForms(t *testing.T) {
	m := NewMessage([]byte(`x"%<`))
	defer m.Release()
	want := map[wire]string{
		wireXHR:                `a["x\"%<"]` + "\n",
		wireXHRChunked:         "b\r\n" + `a["x\"%<"]` + "\n\r\n",
		wireEventSource:        `data: a["x\"%25<"]` + "\r\n\r\n",
		wireHTMLFile:           "<script>\np(\"a[\\\"x\\\\\\\"%\\u003c\\\"]\");\n</script>\r\n",
		wireWebSocket:          "\x81\x0a" + `a["x\"%<"]`,
		wireEventSourceChunked: "16\r\n" + `data: a["x\"%25<"]` + "\r\n\r\n\r\n",
	}
	for w, s := range want {
		b, n := m.form(w)
		if string(b.B) != s {
			t.Errorf("wire %d: %q, want %q", w, b.B, s)
		}
		if body := bodyLen(w, arrayOpen, m.quote, arrayClose); n != body {
			t.Errorf("wire %d: counted %d, want %d", w, n, body)
		}
		if again, _ := m.form(w); again != b {
			t.Errorf("wire %d built twice", w)
		}
	}
	var long [70000]byte
	for i := range long {
		long[i] = 'a'
	}
	if h := appendWSHeader(nil, 70000); !bytes.Equal(h, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70}) {
		t.Errorf("64-bit header %x", h)
	}
}
