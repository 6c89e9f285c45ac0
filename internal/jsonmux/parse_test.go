package jsonmux

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
)

func TestMuxParse(t *testing.T) {
	for _, tc := range []struct {
		in             string
		typ            uint8
		room, id, data string
		err            string
		hasID, hasData bool
	}{
		{in: `{"type":"join","room":"a"}`, typ: cmdJoin, room: "a"},
		{in: "\t{ \"type\" :\n\"leave\" , \"room\":\"a.b\", \"id\": -1.5e3 }\r\n", typ: cmdLeave, room: "a.b", id: "-1.5e3", hasID: true},
		{in: `{"type":"publish","room":"r","data":{"a":[1,{"b":null}],"c":"}"},"id":"x"}`, typ: cmdPublish, room: "r",
			data: `{"a":[1,{"b":null}],"c":"}"}`, hasData: true, id: `"x"`, hasID: true},
		{in: `{"type":"publish","room":"r","data":[]}`, typ: cmdPublish, room: "r", data: `[]`, hasData: true},
		{in: `{"type":"publish","room":"r","data":""}`, typ: cmdPublish, room: "r", data: `""`, hasData: true},
		{in: `{"type":"join","type":"leave","room":"a","extra":{"x":[true,false]}}`, typ: cmdLeave, room: "a"},
		{in: `{"\u0074ype":"\u006a\u006fin","room":"\u0061\/b"}`, typ: cmdJoin, room: "a/b"},
		{in: `{"type":"publish","room":"r","data":"\ud83d\ude00 \ud800"}`, typ: cmdPublish, room: "r", data: `"\ud83d\ude00 \ud800"`, hasData: true},
		{in: `{"type":"join","room":"` + strings.Repeat("\\u0061", 128) + `"}`, typ: cmdJoin, room: strings.Repeat("a", 128)},
		{in: `{"type":"join","room":"` + strings.Repeat("\\u0061", 129) + `"}`, typ: cmdJoin, room: strings.Repeat("a", 129)}, // hub.ValidName refuses it later
		{in: `{"type":"publish","room":"r"}`, typ: cmdPublish, room: "r", err: msgNoData},
		{in: `{"type":"join"}`, typ: cmdJoin, err: msgRoom},
		{in: `{"type":"join","room":1}`, err: msgRoom},
		{in: `{"type":"join","room":"a","id":true}`, err: msgID},
		{in: `{"type":"join","room":"a","id":"` + strings.Repeat("i", 127) + `"}`, err: msgID},
		{in: `{"type":"JOIN","room":"a"}`, room: "a", err: msgType},
		{in: `{}`, err: msgType},
		{in: ``, err: msgMalformed},
		{in: `{`, err: msgMalformed},
		{in: `{"type":"join","room":"a"}}`, err: msgMalformed},
		{in: `{"type":"join" "room":"a"}`, err: msgMalformed},
		{in: `{"type":"join",,"room":"a"}`, err: msgMalformed},
		{in: `{"type":"join","room":"a\x01"}`, err: msgMalformed},
		{in: `{"type":"join","room":"a\q"}`, err: msgMalformed},
		{in: `{"type":"join","room":"a\u12"}`, err: msgMalformed},
		{in: `{"type":"join","room":"a","x":[1,]}`, err: msgMalformed},
		{in: `{"type":"join","room":"a","x":-}`, err: msgMalformed},
		{in: `{"type":"join","room":"a","x":1.}`, err: msgMalformed},
		{in: `{"type":"join","room":"a","x":1e}`, err: msgMalformed},
		{in: `{"type":"join","room":"a","x":tru}`, err: msgMalformed},
		{in: `{"type":"join","room":"a","x":[}`, err: msgMalformed},
		{in: `{"type":"join","room":"a","x":{"k"}}`, err: msgMalformed},
		{in: `{"type":"join","room":"a","x":` + strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1) + `}`, err: msgMalformed},
		{in: `{"type":"join","room":"a","x":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`, typ: cmdJoin, room: "a"},
	} {
		var m command
		err := m.parse([]byte(tc.in))
		short := tc.in[:min(len(tc.in), 60)]
		if err != tc.err {
			t.Errorf("%s: error %q, want %q", short, err, tc.err)
			continue
		}
		if err == msgMalformed {
			continue
		}
		if m.typ != tc.typ || string(m.room) != tc.room || string(m.id) != tc.id || string(m.data) != tc.data ||
			(m.id != nil) != tc.hasID || (m.data != nil) != tc.hasData {
			t.Errorf("%s: got typ %d room %q id %q data %q", short, m.typ, m.room, m.id, m.data)
		}
	}
}

// FuzzMuxCommand checks the in-place parser against encoding/json: it
// accepts exactly the inputs json.Unmarshal accepts as an object (valid
// UTF-8, not nested deeper than maxJSONDepth), and finds the same values.
func FuzzMuxCommand(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","room":"a"}`, `{"type":"publish","room":"r","data":{"a":[1,2.5e-3,"x"]},"id":7}`,
		`{"ty\u0070e":"leave","room":"a\/b","id":"\ud83d\ude00"}`, ` {"data":null,"data":[true,false]} `,
		`{"a":{"b":{"c":[[],{}]}}}`, `[1]`, `"x"`, `{"x":1}x`, `{"x":"\u00"}`, `{"room":"é"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !utf8.Valid(in) || bytes.Count(in, []byte("["))+bytes.Count(in, []byte("{")) >= maxJSONDepth {
			return
		}
		var m command
		msg := m.parse(bytes.Clone(in)) // parse decodes the room in place
		var obj map[string]json.RawMessage
		jerr := json.Unmarshal(in, &obj)
		if jerr == nil && obj == nil {
			jerr = json.Unmarshal([]byte("x"), &obj) // "null" is not an object
		}
		if (msg == msgMalformed) != (jerr != nil) {
			t.Fatalf("%q: parse says %q, encoding/json says %v", in, msg, jerr)
		}
		if jerr != nil {
			return
		}
		if d, ok := obj["data"]; ok != (m.data != nil) || (ok && !bytes.Equal(d, m.data)) {
			t.Fatalf("%q: data %q, encoding/json %q", in, m.data, d)
		}
		var room string
		r, hasRoom := obj["room"]
		if hasRoom && json.Unmarshal(r, &room) == nil && msg != msgID {
			if string(m.room) != room {
				t.Fatalf("%q: room %q, encoding/json %q", in, m.room, room)
			}
		}
		var typ string
		if ty, ok := obj["type"]; ok && json.Unmarshal(ty, &typ) == nil && msg == "" {
			if want := map[string]uint8{"join": cmdJoin, "leave": cmdLeave, "publish": cmdPublish}[typ]; want != m.typ {
				t.Fatalf("%q: type %d, encoding/json %q", in, m.typ, typ)
			}
		}
	})
}

// FuzzMuxJSONValue checks isJSONValue against json.Valid.
func FuzzMuxJSONValue(f *testing.F) {
	for _, s := range []string{`1`, ` -0.5E+7 `, `"a\"b"`, `[1,[2,{"x":null}]]`, `{"a":}`, `01`, `1 2`, `"\u00zz"`, ``, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !utf8.Valid(in) || bytes.Count(in, []byte("["))+bytes.Count(in, []byte("{")) >= maxJSONDepth {
			return
		}
		if got, want := isJSONValue(in), json.Valid(in); got != want {
			t.Fatalf("isJSONValue(%q) = %v, json.Valid = %v", in, got, want)
		}
	})
}

// FuzzMuxEnvelope builds envelopes for arbitrary payloads: the frame's
// length is exact, the payload is one JSON object, and its data decodes
// back to the payload.
func FuzzMuxEnvelope(f *testing.F) {
	for _, s := range []string{`{"a":1}`, ` 7 `, `plain`, "ctl \x00\x1f \"q\" \\ é \u2028", ``, "\xff\xfe"} {
		f.Add([]byte(s), false, "alice")
		f.Add([]byte(s), true, "")
	}
	f.Fuzz(func(t *testing.T, payload []byte, binary bool, user string) {
		op := frame.OpBinary
		if !binary {
			if !utf8.Valid(payload) {
				return
			}
			op = frame.OpText
		}
		if !utf8.ValidString(user) {
			user = "" // user ids are checked names
		}
		fb, hdr := fanout.FrameBuf(0, op, payload)
		defer fb.Release()
		j := fanout.Job{Buf: fb, Hdr: hdr, Room: "room.1", FromUser: user}
		env, envHdr := Envelope(&j, nil)
		defer env.Release()
		h, n := frameHeaderLen(t, env.B)
		if h != envHdr || h+n != len(env.B) {
			t.Fatalf("header %d (recorded %d), length %d, buffer %d", h, envHdr, n, len(env.B))
		}
		var got struct {
			Type, Room, From, Encoding string
			Data                       json.RawMessage
		}
		if err := json.Unmarshal(env.B[h:], &got); err != nil || !json.Valid(env.B[h:]) {
			t.Fatalf("envelope %q: %v", env.B[h:], err)
		}
		if got.Type != "message" || got.Room != "room.1" || got.From != user {
			t.Fatalf("envelope %q", env.B[h:])
		}
		var data []byte
		switch {
		case binary:
			var s string
			_ = json.Unmarshal(got.Data, &s)
			data, _ = base64.StdEncoding.DecodeString(s)
			if got.Encoding != "base64" {
				t.Fatalf("binary without encoding: %q", env.B[h:])
			}
		case isJSONValue(payload):
			data = bytes.TrimSpace(payload)
			got.Data = bytes.TrimSpace(got.Data)
			if !bytes.Equal(got.Data, data) {
				t.Fatalf("JSON payload %q became %q", payload, got.Data)
			}
			return
		default:
			var s string
			_ = json.Unmarshal(got.Data, &s)
			data = []byte(s)
		}
		if !bytes.Equal(data, payload) {
			t.Fatalf("payload %q came back as %q", payload, data)
		}
	})
}

// frameHeaderLen decodes an unmasked final frame header.
func frameHeaderLen(t *testing.T, b []byte) (hdr, n int) {
	t.Helper()
	switch l := int(b[1] & 0x7f); l {
	case 126:
		return 4, int(b[2])<<8 | int(b[3])
	case 127:
		v := 0
		for _, c := range b[2:10] {
			v = v<<8 | int(c)
		}
		return 10, v
	default:
		return 2, l
	}
}

func TestJSONStringLen(t *testing.T) {
	for _, s := range []string{"", "abc", "\"\\", "\x00\x1f\x7f", "é€😀", "\xff", "a\xe2\x82", "\u2028"} {
		if got, want := jsonStringLen(s), len(appendJSONString(nil, s)); got != want {
			t.Errorf("jsonStringLen(%q) = %d, want %d", s, got, want)
		}
	}
}
