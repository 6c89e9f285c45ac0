package sockjs

import (
	"strconv"
	"testing"

	"github.com/wsgate/wsgate/poller"
)

// nullStream drops what it gets, as a socket that takes everything would.
type nullStream struct{}

func (nullStream) Send(b *poller.Buf) { b.Release() }
func (nullStream) Write([]byte)       {}
func (nullStream) Flush()             {}
func (nullStream) End(bool)           {}

// streamingSessions opens n xhr-streaming sessions (HTTP/1.1, chunked) on
// an endpoint whose response limit is never reached.
func streamingSessions(tb testing.TB, n int, transport string) []*Session {
	h := newHarness(&testing.T{}, Options{ResponseLimit: 1 << 62})
	h.h.echo = false
	out := make([]*Session, n)
	var p Parser
	for i := range out {
		method := "POST"
		if transport != "xhr_streaming" {
			method = "GET"
		}
		raw := method + " /echo/0/s" + strconv.Itoa(i) + "/" + transport + "?c=cb HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
		req, _, err := p.Parse([]byte(raw))
		if err != nil {
			tb.Fatal(err)
		}
		rt, _ := h.ep.Match(req.Path)
		r := &Receiver{}
		if h.ep.Serve(req, rt, nullStream{}, r) != ResultReceiving || r.Session() == nil {
			tb.Fatal("not attached")
		}
		out[i] = r.Session()
	}
	return out
}

// TestDeliveryAllocs: a message already encoded costs a session nothing
// to deliver, whatever the streaming transport.
func TestDeliveryAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	for _, tr := range []string{"xhr_streaming", "eventsource", "htmlfile"} {
		sessions := streamingSessions(t, 4, tr)
		m := NewMessage([]byte("hello, room"))
		m.form(sessions[0].recv.wire) // built once per message, not per session
		allocs := testing.AllocsPerRun(1000, func() {
			for _, s := range sessions {
				s.SendMessage(m)
			}
		})
		m.Release()
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per delivery round, want 0", tr, allocs)
		}
	}
}

// TestEncodeAllocs: encoding a message, steady state, allocates nothing
// (the Message and its wire buffers come from pools).
func TestEncodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	payload := []byte(`{"text":"héllo \u2028 wörld","n":12345}`)
	allocs := testing.AllocsPerRun(1000, func() {
		m := NewMessage(payload)
		m.form(wireXHRChunked)
		m.form(wireEventSourceChunked)
		m.Release()
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per message, want 0", allocs)
	}
}

// BenchmarkBroadcast sends one message to 1000 xhr-streaming sessions:
// the escaping is paid once per message, each session costs one shared
// reference.
func BenchmarkBroadcast(b *testing.B) {
	sessions := streamingSessions(b, 1000, "xhr_streaming")
	payload := []byte(`{"type":"message","room":"lobby","data":"some text with \"quotes\" and ünïcode"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m := NewMessage(payload)
		for _, s := range sessions {
			s.SendMessage(m)
		}
		m.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(sessions)), "ns/delivery")
}

// BenchmarkQuote measures the escaping alone.
func BenchmarkQuote(b *testing.B) {
	payload := []byte(`{"type":"message","room":"lobby","data":"some text with \"quotes\" and ünïcode"}`)
	var dst []byte
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendQuote(dst[:0], payload)
	}
}
