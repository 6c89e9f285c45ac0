package deflate

import (
	"bytes"
	"testing"
)

func validBits(b int) bool { return b == 0 || (b >= MinWindowBits && b <= MaxWindowBits) }

// FuzzNegotiate feeds arbitrary header lines (split at '\n') to the server
// negotiation and to ParseResponse: no panics, accepted parameters in range,
// and every response round-trips through ParseResponse and satisfies
// ValidateResponse for the offer it answers.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate",
		"permessage-deflate; client_max_window_bits",
		`permessage-deflate; server_max_window_bits="10"; client_max_window_bits=9`,
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
		"permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=9",
		"foo, permessage-deflate; bar\npermessage-deflate; client_max_window_bits",
		`foo; bar="a,\"b", permessage-deflate; server_max_window_bits=13`,
		"permessage-deflate; client_no_context_takeover; client_no_context_takeover",
		"permessage-deflate; server_no_context_takeover=1",
		" , ;=\"\\",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, takeover bool) {
		opts := &Options{ContextTakeover: takeover}
		var n Negotiator
		n.Reset(opts)
		lines := bytes.Split(data, []byte("\n"))
		for _, l := range lines {
			n.Offer(l)
		}
		p, ok := n.Accepted()
		if ok {
			if !validBits(p.ServerMaxWindowBits) || !validBits(p.ClientMaxWindowBits) {
				t.Fatalf("accepted out-of-range bits: %+v", p)
			}
			if !takeover && (!p.ServerNoContextTakeover || !p.ClientNoContextTakeover) {
				t.Fatalf("default mode accepted context takeover: %+v", p)
			}
			if p.ClientMaxWindowBitsNoValue && p.ClientMaxWindowBits != 0 {
				t.Fatalf("client_max_window_bits both with and without value: %+v", p)
			}
			resp := AppendResponse(nil, p)
			got, err := ParseResponse(resp)
			if err != nil {
				t.Fatalf("response %q does not parse: %v", resp, err)
			}
			q := p
			q.ClientMaxWindowBitsNoValue = false
			if got != q {
				t.Fatalf("response %q parses to %+v, want %+v", resp, got, q)
			}
			// The offer as the client meant it is the accepted one before
			// the server's policy; in default mode the flags may be added.
			offer := p
			if !takeover {
				offer.ServerNoContextTakeover, offer.ClientNoContextTakeover = false, false
			}
			if err := ValidateResponse(offer, got); err != nil {
				t.Fatalf("client rejects %q: %v", resp, err)
			}
			// Re-offering what was accepted gives the same answer.
			var n2 Negotiator
			n2.Reset(opts)
			n2.Offer(AppendOffer(nil, p))
			if p2, ok2 := n2.Accepted(); !ok2 || p2 != p {
				t.Fatalf("re-offer of %+v gives %+v, %v", p, p2, ok2)
			}
		}
		if rp, err := ParseResponse(data); err == nil {
			if !validBits(rp.ServerMaxWindowBits) || !validBits(rp.ClientMaxWindowBits) || rp.ClientMaxWindowBitsNoValue {
				t.Fatalf("ParseResponse(%q) = %+v", data, rp)
			}
			if again, err := ParseResponse(AppendResponse(nil, rp)); err != nil || again != rp {
				t.Fatalf("ParseResponse round trip of %+v: %+v, %v", rp, again, err)
			}
		}
	})
}

// FuzzDecompress: Decompress and the Decompressor never panic, never return
// more than limit bytes and never grow dst past limit+1; Compress output
// always round-trips.
func FuzzDecompress(f *testing.F) {
	for i, s := range []string{"", "Hello, Hello, Hello", "\x00\x01\x02"} {
		f.Add(Compress(nil, []byte(s), 1, 15), uint32(100))
		f.Add(Compress(nil, []byte(s), 9, 8+i), uint32(3))
	}
	f.Add(Compress(nil, testPayload(kindJSON, 3000, 1), 1, 15), uint32(1000))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, uint32(5))
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, uint32(4))
	f.Add([]byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, uint32(5))
	f.Add([]byte{0x02, 0x00}, uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, lim uint32) {
		limit := int64(lim%(1<<18)) + 1
		out, err := Decompress(nil, data, limit)
		if int64(len(out)) > limit || int64(cap(out)) > limit+1 {
			t.Fatalf("Decompress: len %d cap %d with limit %d (err %v)", len(out), cap(out), limit, err)
		}
		if err != nil && err != ErrTooBig && err != ErrCorrupt {
			t.Fatalf("Decompress: unexpected error %v", err)
		}
		if err == nil {
			if again, err := Decompress(nil, data, 0); err != nil || !bytes.Equal(again, out) {
				t.Fatalf("Decompress without limit disagrees: %v", err)
			}
		}
		var d Decompressor
		for range 2 { // the same bytes twice continue one stream
			out, err := d.Decompress(nil, data, limit)
			if int64(len(out)) > limit || int64(cap(out)) > limit+1 {
				t.Fatalf("Decompressor: len %d cap %d with limit %d", len(out), cap(out), limit)
			}
			if err != nil && err != ErrTooBig && err != ErrCorrupt {
				t.Fatalf("Decompressor: unexpected error %v", err)
			}
		}
		d.Close()
		if len(data) <= 1<<16 {
			comp := Compress(nil, data, int(lim%10), int(lim%9)+7)
			if back, err := Decompress(nil, comp, int64(len(data))); err != nil || !bytes.Equal(back, data) {
				t.Fatalf("Compress round trip: %v", err)
			}
		}
	})
}
