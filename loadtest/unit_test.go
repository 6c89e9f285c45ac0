package loadtest

import (
	"bytes"
	"strings"
	"testing"
)

func TestStampRoundTrip(t *testing.T) {
	p := newPayload(100, 3)
	putStamp(p, 1234567890123456789, 0xdeadbeef, 42)
	ts, id, seq, ok := parseStamp(p)
	if !ok || ts != 1234567890123456789 || id != 0xdeadbeef || seq != 42 {
		t.Errorf("parse = %d %x %d %v", ts, id, seq, ok)
	}
	for _, bad := range [][]byte{p[:41], []byte(strings.Repeat("x", 50)), append([]byte("W"), bytes.Repeat([]byte("g"), 41)...)} {
		if _, _, _, ok := parseStamp(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
	if len(newPayload(1, 1)) != stampLen {
		t.Error("payload shorter than the stamp")
	}
}

func TestSeqTracker(t *testing.T) {
	var tr seqTracker
	want := []struct {
		seq uint64
		res seqResult
	}{{1, seqNew}, {2, seqNew}, {2, seqDuplicate}, {5, seqNew}, {4, seqReordered}, {4, seqDuplicate},
		{3, seqReordered}, {200, seqNew}, {100, seqReordered}, {200, seqDuplicate}}
	for _, w := range want {
		if got := tr.observe(w.seq); got != w.res {
			t.Errorf("observe(%d) = %d, want %d", w.seq, got, w.res)
		}
	}
	if tr.unique != 7 {
		t.Errorf("unique %d, want 7", tr.unique)
	}
}

func TestParseIPRange(t *testing.T) {
	ips, err := ParseIPRange("127.0.0.2-127.0.0.40, 10.0.0.1")
	if err != nil || len(ips) != 40 || ips[0].String() != "127.0.0.2" || ips[38].String() != "127.0.0.40" || ips[39].String() != "10.0.0.1" {
		t.Fatalf("got %v %v", ips, err)
	}
	for _, bad := range []string{"127.0.0.9-127.0.0.1", "x", "::1", "10.0.0.0-10.255.0.0"} {
		if _, err := ParseIPRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigShares(t *testing.T) {
	ips, _ := ParseIPRange("127.0.0.2-127.0.0.6")
	total, all := 0, map[string]bool{}
	for w := 0; w < 3; w++ {
		c := &Config{Workers: 3, WorkerIndex: w, SourceIPs: ips}
		total += c.share(10)
		for _, ip := range c.ipShare() {
			all[ip.String()] = true
		}
	}
	if total != 10 || len(all) != 5 {
		t.Errorf("shares sum %d, ips %d", total, len(all))
	}
}

func TestRoleSpread(t *testing.T) {
	e := &env{cfg: &Config{StalledFraction: 0.1, SlowFraction: 0.2}}
	var n [3]int
	for i := 0; i < 1000; i++ {
		n[e.role(i)]++
	}
	if n[roleStalled] != 100 || n[roleSlow] != 200 {
		t.Errorf("roles %v", n)
	}
}

func TestConfigValidateListsEveryProblem(t *testing.T) {
	c := &Config{Scenario: "nope", Duration: 2 * MaxDuration, Conns: -1, InFlight: 1, Publishers: 1, Workers: 1}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"unknown scenario", "no target", "--conns", "--duration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestMainUsageAndBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(nil, &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), "usage") {
		t.Errorf("no args: %d %q", code, errb.String())
	}
	errb.Reset()
	if code := Main([]string{"echo", "--threshold", "zz<1", "ws://127.0.0.1:1/"}, &out, &errb); code != ExitUsage {
		t.Errorf("bad threshold: code %d", code)
	}
	if code := Main([]string{"echo", "--duration", "5h", "ws://127.0.0.1:1/"}, &out, &errb); code != ExitUsage {
		t.Errorf("duration over the cap: code %d", code)
	}
}

func TestReorderArgs(t *testing.T) {
	got := reorder([]string{"ws://a", "--conns", "5", "--deflate", "ws://b", "--json=x"})
	want := "--conns 5 --deflate --json=x ws://a ws://b"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v", got)
	}
}
