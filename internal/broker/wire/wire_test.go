package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// wireCases are shared by the round-trip test, the fuzz seeds and the
// benchmarks.
var wireCases = []Message{
	{},
	{Kind: Room, Target: "chat", Payload: []byte("hello")},
	{Kind: Room, Flags: JSON, Origin: "0123456789abcdef", Seq: 1<<63 + 5, Publisher: "alice", Target: "chat.a", Payload: []byte(`{"x":1}`)},
	{Kind: User, Flags: Binary, Origin: "n1", Publisher: "", Target: "auth0|42", Payload: []byte{0, 1, 2, 255}},
	{Kind: Queue, Flags: Binary | JSON | 0x80, Origin: "n2", Publisher: "bob", Target: "/queue/jobs", Payload: bytes.Repeat([]byte("x"), 70000)},
	{Kind: Room, Origin: strings.Repeat("o", 200), Publisher: strings.Repeat("p", 300), Target: strings.Repeat("t", 128)},
	{Kind: User, Origin: "n1", Publisher: "ann", Target: "bob", Dest: "/user/queue/inbox", Payload: []byte("hi")},
}

func sameMessage(a, b Message) bool {
	return a.Kind == b.Kind && a.Flags == b.Flags && a.Origin == b.Origin && a.Seq == b.Seq && a.Publisher == b.Publisher &&
		a.Target == b.Target && a.Dest == b.Dest && bytes.Equal(a.Payload, b.Payload)
}

func TestWireRoundTrip(t *testing.T) {
	for i, m := range wireCases {
		enc := AppendMessage([]byte("prefix"), &m)
		if got := len(enc) - len("prefix"); got != EncodedLen(&m) {
			t.Errorf("case %d: encoded %d bytes, EncodedLen says %d", i, got, EncodedLen(&m))
		}
		got, err := Decode(enc[len("prefix"):])
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !sameMessage(got, m) {
			t.Errorf("case %d: decoded %+v, want %+v", i, got, m)
		}
	}
}

// TestWireNoCopy proves Decode returns views of its input.
func TestWireNoCopy(t *testing.T) {
	m := wireCases[2]
	enc := AppendMessage(nil, &m)
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	enc[len(enc)-1] = '!'
	if got.Payload[len(got.Payload)-1] != '!' {
		t.Fatal("payload was copied")
	}
	if cap(got.Payload) != len(got.Payload) {
		t.Fatal("payload capacity reaches past the message")
	}
}

// TestWireSkipsOptionalFields builds a message with header fields that no
// decoder knows yet, as a later version might send, and checks they are
// skipped.
func TestWireSkipsOptionalFields(t *testing.T) {
	var hdr []byte
	for _, s := range []string{"node", "pub", "room"} {
		hdr = binary.AppendUvarint(hdr, uint64(len(s)))
		hdr = append(hdr, s...)
	}
	hdr = binary.AppendUvarint(hdr, 2) // tag: a history offset, say
	hdr = binary.AppendUvarint(hdr, 3)
	hdr = binary.AppendUvarint(hdr, 123456)
	hdr = binary.AppendUvarint(hdr, 300) // a tag above one byte
	hdr = binary.AppendUvarint(hdr, 0)
	b := append([]byte{Version, byte(Room), 0, 0, 0, 0, 0, 0, 0, 0, 7}, binary.AppendUvarint(nil, uint64(len(hdr)))...)
	b = append(append(b, hdr...), "body"...)
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Message{Kind: Room, Seq: 7, Origin: "node", Publisher: "pub", Target: "room", Payload: []byte("body")}
	if !sameMessage(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
}

func TestWireErrors(t *testing.T) {
	good := AppendMessage(nil, &wireCases[2])
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short", good[:3], ErrTruncated},
		{"version", append([]byte{2}, good[1:]...), ErrVersion},
		{"kind", append([]byte{Version, byte(numKinds)}, good[2:]...), ErrMalformed},
		{"header past end", good[:14], ErrTruncated},
		{"varint overflow", fixed(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1), ErrMalformed},
		{"field past header", fixed(2, 5, 'a'), ErrTruncated},
		{"header ends in fields", fixed(1, 0), ErrTruncated},
		{"bad optional field", fixed(5, 0, 0, 0, 1, 9), ErrTruncated},
	}
	for _, tc := range cases {
		if _, err := Decode(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Every strict prefix of a good message fails or, when it cuts only
	// the payload, decodes to a shorter payload.
	for i := range good {
		m, err := Decode(good[:i])
		if err == nil && !bytes.HasPrefix(wireCases[2].Payload, m.Payload) {
			t.Fatalf("prefix %d decoded to payload %q", i, m.Payload)
		}
	}
}

// fixed is a message start (version, kind room, no flags, seq 0)
// followed by rest.
func fixed(rest ...byte) []byte {
	return append([]byte{Version, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, rest...)
}

func TestSetSeq(t *testing.T) {
	m := wireCases[3]
	enc := AppendMessage(nil, &m)
	SetSeq(enc, 42)
	got, err := Decode(enc)
	if err != nil || got.Seq != 42 {
		t.Fatalf("seq %d, %v", got.Seq, err)
	}
	got.Seq = m.Seq
	if !sameMessage(got, m) {
		t.Fatalf("SetSeq changed more than seq: %+v", got)
	}
}

func TestWireAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	m := wireCases[2]
	buf := make([]byte, 0, 256)
	enc := AppendMessage(nil, &m)
	if a := testing.AllocsPerRun(1000, func() { buf = AppendMessage(buf[:0], &m) }); a != 0 {
		t.Errorf("AppendMessage: %v allocs", a)
	}
	if a := testing.AllocsPerRun(1000, func() { _, _ = Decode(enc) }); a != 0 {
		t.Errorf("Decode: %v allocs", a)
	}
}
