package deflate

import (
	"fmt"
	"testing"
)

func negotiate(opts *Options, lines ...string) (Params, bool) {
	var n Negotiator
	n.Reset(opts)
	for _, l := range lines {
		n.Offer([]byte(l))
	}
	return n.Accepted()
}

func TestNegotiatorTable(t *testing.T) {
	def := Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
	with := func(f func(*Params)) Params { p := def; f(&p); return p }
	takeover := &Options{ContextTakeover: true}
	cases := []struct {
		name  string
		opts  *Options
		lines []string
		want  Params
		ok    bool
		resp  string
	}{
		{"plain", nil, []string{"permessage-deflate"}, def, true,
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"client bits no value", nil, []string{"permessage-deflate; client_max_window_bits"},
			with(func(p *Params) { p.ClientMaxWindowBitsNoValue = true }), true,
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"client bits 10", nil, []string{"permessage-deflate; client_max_window_bits=10"},
			with(func(p *Params) { p.ClientMaxWindowBits = 10 }), true,
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=10"},
		{"server bits quoted", nil, []string{`permessage-deflate; server_max_window_bits="10"`},
			with(func(p *Params) { p.ServerMaxWindowBits = 10 }), true,
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"},
		{"quoted with escape", nil, []string{`permessage-deflate; server_max_window_bits="1\2"`},
			with(func(p *Params) { p.ServerMaxWindowBits = 12 }), true, ""},
		{"all params", nil, []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=15"},
			with(func(p *Params) { p.ServerMaxWindowBits, p.ClientMaxWindowBits = 8, 15 }), true, ""},
		{"case and spaces", nil, []string{" Permessage-Deflate ;\tServer_Max_Window_Bits = 11 ; CLIENT_MAX_WINDOW_BITS "},
			with(func(p *Params) { p.ServerMaxWindowBits, p.ClientMaxWindowBitsNoValue = 11, true }), true, ""},
		{"server bits no value", nil, []string{"permessage-deflate; server_max_window_bits"}, Params{}, false, ""},
		{"server bits 16", nil, []string{"permessage-deflate; server_max_window_bits=16"}, Params{}, false, ""},
		{"server bits 7", nil, []string{"permessage-deflate; server_max_window_bits=7"}, Params{}, false, ""},
		{"leading zero", nil, []string{"permessage-deflate; server_max_window_bits=09"}, Params{}, false, ""},
		{"leading zero 010", nil, []string{"permessage-deflate; client_max_window_bits=010"}, Params{}, false, ""},
		{"not a number", nil, []string{"permessage-deflate; client_max_window_bits=1a"}, Params{}, false, ""},
		{"empty quoted", nil, []string{`permessage-deflate; client_max_window_bits=""`}, Params{}, false, ""},
		{"negative", nil, []string{"permessage-deflate; client_max_window_bits=-9"}, Params{}, false, ""},
		{"flag with value", nil, []string{"permessage-deflate; server_no_context_takeover=1"}, Params{}, false, ""},
		{"flag with quoted value", nil, []string{`permessage-deflate; client_no_context_takeover=""`}, Params{}, false, ""},
		{"unknown param", nil, []string{"permessage-deflate; foo"}, Params{}, false, ""},
		{"duplicate flag", nil, []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, Params{}, false, ""},
		{"duplicate bits", nil, []string{"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"}, Params{}, false, ""},
		{"missing value after =", nil, []string{"permessage-deflate; server_max_window_bits="}, Params{}, false, ""},
		{"unterminated quote", nil, []string{`permessage-deflate; server_max_window_bits="10`}, Params{}, false, ""},
		{"fallback in one line", nil, []string{"permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=9"},
			with(func(p *Params) { p.ServerMaxWindowBits = 9 }), true, ""},
		{"fallback across lines", nil, []string{"foo, permessage-deflate; bar", "permessage-deflate; client_max_window_bits"},
			with(func(p *Params) { p.ClientMaxWindowBitsNoValue = true }), true, ""},
		{"first wins", nil, []string{"permessage-deflate; server_max_window_bits=12", "permessage-deflate"},
			with(func(p *Params) { p.ServerMaxWindowBits = 12 }), true, ""},
		{"first wins in line", nil, []string{"permessage-deflate; client_max_window_bits=9, permessage-deflate"},
			with(func(p *Params) { p.ClientMaxWindowBits = 9 }), true, ""},
		{"other extension first", nil, []string{"x-webkit-deflate-frame; max_window_bits=10, permessage-deflate"}, def, true, ""},
		{"comma in quoted other", nil, []string{`foo; bar="a,permessage-deflate", permessage-deflate; server_max_window_bits=13`},
			with(func(p *Params) { p.ServerMaxWindowBits = 13 }), true, ""},
		{"broken then good", nil, []string{`permessage-deflate; =1, permessage-deflate`}, def, true, ""},
		{"empty elements", nil, []string{" , ,permessage-deflate,"}, def, true, ""},
		{"only other", nil, []string{"foo; permessage-deflate"}, Params{}, false, ""},
		{"empty", nil, []string{""}, Params{}, false, ""},
		{"garbage", nil, []string{";;;=,,\"\\"}, Params{}, false, ""},
		{"takeover plain", takeover, []string{"permessage-deflate"}, Params{}, true, "permessage-deflate"},
		{"takeover client flag", takeover, []string{"permessage-deflate; client_no_context_takeover"},
			Params{ClientNoContextTakeover: true}, true, "permessage-deflate; client_no_context_takeover"},
		{"takeover server flag", takeover, []string{"permessage-deflate; server_no_context_takeover; server_max_window_bits=9"},
			Params{ServerNoContextTakeover: true, ServerMaxWindowBits: 9}, true,
			"permessage-deflate; server_no_context_takeover; server_max_window_bits=9"},
	}
	for _, c := range cases {
		got, ok := negotiate(c.opts, c.lines...)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: %q -> %+v, %v; want %+v, %v", c.name, c.lines, got, ok, c.want, c.ok)
			continue
		}
		if !ok {
			continue
		}
		resp := string(AppendResponse(nil, got))
		if c.resp != "" && resp != c.resp {
			t.Errorf("%s: response %q, want %q", c.name, resp, c.resp)
		}
		if _, err := ParseResponse([]byte(resp)); err != nil {
			t.Errorf("%s: response %q does not parse: %v", c.name, resp, err)
		}
	}
}

// TestNegotiateMatrix offers every parameter combination from a client,
// negotiates in both server modes and checks the client accepts the answer.
func TestNegotiateMatrix(t *testing.T) {
	bitsVals := []int{0, 8, 9, 10, 11, 12, 13, 14, 15}
	for _, takeover := range []bool{false, true} {
		opts := &Options{ContextTakeover: takeover}
		for _, sb := range bitsVals {
			for cb := -1; cb <= 15; cb++ { // -1: no value, 0: absent
				if cb > 0 && cb < 8 {
					continue
				}
				for flags := range 4 {
					offer := Params{ServerNoContextTakeover: flags&1 != 0, ClientNoContextTakeover: flags&2 != 0,
						ServerMaxWindowBits: sb, ClientMaxWindowBits: max(cb, 0), ClientMaxWindowBitsNoValue: cb == -1}
					// The same offer after an unacceptable one, on a second line.
					line := AppendOffer([]byte("permessage-deflate; server_max_window_bits=99, "), offer)
					name := fmt.Sprintf("takeover=%v %s", takeover, line)
					got, ok := negotiate(opts, "foo", string(line))
					if !ok {
						t.Fatalf("%s: declined", name)
					}
					want := offer
					if !takeover {
						want.ServerNoContextTakeover, want.ClientNoContextTakeover = true, true
					}
					if got != want {
						t.Fatalf("%s: accepted %+v, want %+v", name, got, want)
					}
					resp, err := ParseResponse(AppendResponse(nil, got))
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if err := ValidateResponse(offer, resp); err != nil {
						t.Fatalf("%s: client rejects %+v: %v", name, resp, err)
					}
					got.ClientMaxWindowBitsNoValue = false
					if resp != got {
						t.Fatalf("%s: response parses to %+v, want %+v", name, resp, got)
					}
				}
			}
		}
	}
}

func TestParseResponse(t *testing.T) {
	cases := []struct {
		in   string
		want Params
		err  error
	}{
		{"permessage-deflate", Params{}, nil},
		{"permessage-deflate; server_no_context_takeover; client_max_window_bits=9", Params{ServerNoContextTakeover: true, ClientMaxWindowBits: 9}, nil},
		{`permessage-deflate; server_max_window_bits="15"`, Params{ServerMaxWindowBits: 15}, nil},
		{"permessage-deflate; client_max_window_bits", Params{}, ErrBadValue},
		{"permessage-deflate; server_max_window_bits=3", Params{}, ErrBadValue},
		{"permessage-deflate; client_no_context_takeover=x", Params{}, ErrBadValue},
		{"permessage-deflate; mystery", Params{}, ErrUnknownParam},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", Params{}, ErrDuplicateParam},
		{"permessage-deflate, permessage-deflate", Params{}, ErrUnknownExtension},
		{"foo", Params{}, ErrUnknownExtension},
		{"", Params{}, ErrSyntax},
		{"permessage-deflate;", Params{}, ErrSyntax},
		{"permessage-deflate x", Params{}, ErrSyntax},
	}
	for _, c := range cases {
		got, err := ParseResponse([]byte(c.in))
		if err != c.err || (err == nil && got != c.want) {
			t.Errorf("ParseResponse(%q) = %+v, %v; want %+v, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestValidateResponse(t *testing.T) {
	cases := []struct {
		offer, resp Params
		ok          bool
	}{
		{Params{}, Params{}, true},
		{Params{}, Params{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 10}, true},
		{Params{}, Params{ClientMaxWindowBits: 10}, false},                                // not offered
		{Params{ClientMaxWindowBitsNoValue: true}, Params{ClientMaxWindowBits: 10}, true}, // offered without value
		{Params{ClientMaxWindowBits: 10}, Params{ClientMaxWindowBits: 11}, false},         // above offer
		{Params{ClientMaxWindowBits: 10}, Params{ClientMaxWindowBits: 9}, true},           // below offer
		{Params{ServerMaxWindowBits: 10}, Params{}, false},                                // must be answered
		{Params{ServerMaxWindowBits: 10}, Params{ServerMaxWindowBits: 12}, false},         // above offer
		{Params{ServerNoContextTakeover: true}, Params{}, false},                          // must be answered
		{Params{ServerNoContextTakeover: true}, Params{ServerNoContextTakeover: true}, true},
	}
	for _, c := range cases {
		if err := ValidateResponse(c.offer, c.resp); (err == nil) != c.ok {
			t.Errorf("ValidateResponse(%+v, %+v) = %v, want ok=%v", c.offer, c.resp, err, c.ok)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	var nilOpts *Options
	cases := []struct {
		o               *Options
		level, threshld int
	}{
		{nilOpts, DefaultLevel, DefaultThreshold},
		{&Options{}, DefaultLevel, DefaultThreshold},
		{&Options{Level: 9, Threshold: 1}, 9, 1},
		{&Options{Level: 12, Threshold: -1}, DefaultLevel, 0},
	}
	for _, c := range cases {
		if l, th := c.o.EffectiveLevel(), c.o.EffectiveThreshold(); l != c.level || th != c.threshld {
			t.Errorf("%+v: level %d threshold %d, want %d %d", c.o, l, th, c.level, c.threshld)
		}
	}
}

func TestNegotiatorAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	line := []byte(`foo; a="x,y", permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits; server_max_window_bits="10"`)
	buf := make([]byte, 0, 256)
	var n Negotiator
	if a := testing.AllocsPerRun(100, func() {
		n.Reset(nil)
		n.Offer(line)
		p, _ := n.Accepted()
		buf = AppendResponse(buf[:0], p)
	}); a != 0 {
		t.Errorf("negotiation allocates %.1f times", a)
	}
}
