package stats

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestThresholds(t *testing.T) {
	s := &Snapshot{
		Elapsed:  10,
		Counters: Counters{MsgsIn: 5000, Expected: 1000, Lost: 5, Errors: 1, Connected: 7},
		Latency:  map[string]*Hist{"message": histOf(10*time.Millisecond, 20*time.Millisecond, 80*time.Millisecond)},
	}
	cases := map[string]bool{
		"p99<50ms": false, "p99<100ms": true, "p50<=21ms": true, "max<1s": true, "p50 < 15": false,
		"errors<1": false, "errors<=1": true, "loss<1%": true, "loss<0.1%": false, "loss<5": false,
		"rate>400": true, "rate>=600": false, "conns>=7": true,
	}
	for expr, pass := range cases {
		th, err := ParseThreshold(expr)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		if r := th.Check(s); r.Pass != pass {
			t.Errorf("%q: pass=%v (%s), want %v", expr, r.Pass, r.Describe(), pass)
		}
	}
	for _, bad := range []string{"p99", "foo<1", "p99<abc", "<5"} {
		if _, err := ParseThreshold(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParsePercentileThresholds(t *testing.T) {
	h := NewHist()
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond) // 1 µs .. 10 ms
	}
	s := &Snapshot{Latency: map[string]*Hist{"message": h, "handshake": histOf(3 * time.Millisecond)}}
	cases := []struct {
		expr, metric string
		q            float64
		pass         bool
	}{
		{"p95<9.6ms", "p95", 95, true},
		{"p95<9ms", "p95", 95, false},
		{"p99.95 < 10ms", "p99.95", 99.95, true},
		{"p99.95<9.99ms", "p99.95", 99.95, false},
		{"p999<=10ms", "p99.9", 99.9, true},
		{"p9999>9ms", "p99.99", 99.99, true},
		{"p50<5100us", "p50", 50, true},
		{"p50>=4.9ms", "p50", 50, true},
		{"hs_p99.9<4", "hs_p99.9", 99.9, true},
		{"hs_p99.9<2ms", "hs_p99.9", 99.9, false},
	}
	for _, c := range cases {
		th, err := ParseThreshold(c.expr)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		r := th.Check(s)
		if th.Metric != c.metric || th.q != c.q || r.Pass != c.pass || r.Unit != "ms" || !strings.Contains(r.Describe(), " ms") {
			t.Errorf("%q: metric %s q %v pass %v (%s); want %s %v %v", c.expr, th.Metric, th.q, r.Pass, r.Describe(), c.metric, c.q, c.pass)
		}
	}
	for _, bad := range []string{"p101<1ms", "p-1<1ms", "pabc<1ms", "p<1ms", "p1e2<1ms", "errors<1%", "lost<x"} {
		if _, err := ParseThreshold(bad); !errors.Is(err, ErrBadThreshold) {
			t.Errorf("%q: err %v, want ErrBadThreshold", bad, err)
		}
	}
	th, _ := ParseThreshold("lost<=0.5%")
	r := th.Check(&Snapshot{Counters: Counters{Expected: 1000, Lost: 4}})
	if !r.Pass || r.Describe() != "lost = 0.4% of expected" {
		t.Errorf("lost%%: %+v %q", r, r.Describe())
	}
	th, _ = ParseThreshold("conns>=3")
	if r := th.Check(&Snapshot{Counters: Counters{Connected: 3}}); !r.Pass || r.Describe() != "connected = 3" {
		t.Errorf("conns alias: %+v %q", r, r.Describe())
	}
}
