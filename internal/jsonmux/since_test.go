package jsonmux

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/fanout"
)

func TestParseSince(t *testing.T) {
	for _, tc := range []struct {
		in     string
		kind   uint8
		offset uint64
		epoch  string
		err    string
	}{
		{in: `{"type":"join","room":"a"}`},
		{in: `{"type":"join","room":"a","since":null}`},
		{in: `{"type":"join","room":"a","since":"last"}`, kind: sinceLast},
		{in: `{"type":"join","room":"a","since":"l\u0061st"}`, kind: sinceLast},
		{in: `{"type":"join","room":"a","since":{"offset":41,"epoch":"k3x9-2"}}`, kind: sinceOffset, offset: 41, epoch: "k3x9-2"},
		{in: `{"since": { "epoch" : "e" , "x":[1], "offset" : 0 } ,"type":"join","room":"a"}`, kind: sinceOffset, offset: 0, epoch: "e"},
		{in: `{"type":"join","room":"a","since":{"offset":9223372036854775807,"epoch":"\u0065"}}`, kind: sinceOffset, offset: 1<<63 - 1, epoch: "e"},
		{in: `{"type":"join","room":"a","since":{"offset":9223372036854775808,"epoch":"e"}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{"offset":1.5,"epoch":"e"}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{"offset":-1,"epoch":"e"}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{"offset":1e3,"epoch":"e"}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{"offset":"1","epoch":"e"}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{"offset":1}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{"epoch":"e"}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{"offset":1,"epoch":7}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{"offset":1,"epoch":"` + strings.Repeat("e", 65) + `"}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{}}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":"first"}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":3}`, err: msgSince},
		{in: `{"type":"join","room":"a","since":{"offset":1,"epoch":"e"`, err: msgMalformed},
		// since means nothing to other commands: ignored.
		{in: `{"type":"leave","room":"a","since":{"offset":1}}`},
	} {
		var m command
		err := m.parse([]byte(tc.in))
		if err != tc.err {
			t.Errorf("%s: error %q, want %q", tc.in, err, tc.err)
			continue
		}
		if err != "" {
			continue
		}
		if m.since.kind != tc.kind || m.since.offset != tc.offset || string(m.sinceEpoch) != tc.epoch {
			t.Errorf("%s: since %+v epoch %q", tc.in, m.since, m.sinceEpoch)
		}
	}
}

func TestEnvelopePosition(t *testing.T) {
	fb, hdr := fanout.FrameBuf(0, frame.OpText, []byte(`{"x":1}`))
	defer fb.Release()
	for _, tc := range []struct {
		offset uint64
		epoch  string
		want   string
	}{
		{0, "", `{"type":"message","room":"r","data":{"x":1},"from":"ann"}`},
		{1, "abc-1", `{"type":"message","room":"r","data":{"x":1},"from":"ann","offset":1,"epoch":"abc-1"}`},
		{1<<63 - 1, `q"`, `{"type":"message","room":"r","data":{"x":1},"from":"ann","offset":9223372036854775807,"epoch":"q\""}`},
	} {
		j := fanout.Job{Buf: fb, Hdr: hdr, Room: "r", FromUser: "ann", JSON: true, Offset: tc.offset, Epoch: tc.epoch}
		env, h := Envelope(&j, nil)
		if got := string(env.B[h:]); got != tc.want || !json.Valid(env.B[h:]) {
			t.Errorf("envelope %s, want %s", got, tc.want)
		}
		if hh, n := frameHeaderLen(t, env.B); hh != h || hh+n != len(env.B) {
			t.Errorf("frame length %d+%d for %d bytes", hh, n, len(env.B))
		}
		env.Release()
	}
}
