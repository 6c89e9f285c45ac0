package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseHistoryRules(t *testing.T) {
	rules, err := ParseHistoryRules(" chat.*=1000/10m , news.>=100/1h/2MiB,state.>=1,x=5/0/4KiB,")
	if err != nil {
		t.Fatal(err)
	}
	want := []HistoryRule{
		{Pattern: "chat.*", Count: 1000, MaxAge: 10 * time.Minute},
		{Pattern: "news.>", Count: 100, MaxAge: time.Hour, MaxBytes: 2 << 20},
		{Pattern: "state.>", Count: 1},
		{Pattern: "x", Count: 5, MaxBytes: 4 << 10},
	}
	if len(rules) != len(want) {
		t.Fatalf("got %+v", rules)
	}
	for i := range want {
		if rules[i] != want[i] {
			t.Errorf("rule %d: %+v, want %+v", i, rules[i], want[i])
		}
	}
	// String writes what Parse reads.
	var s []string
	for _, r := range rules {
		s = append(s, r.String())
	}
	again, err := ParseHistoryRules(strings.Join(s, ","))
	if err != nil || len(again) != len(rules) || again[1] != rules[1] || again[3] != rules[3] {
		t.Fatalf("round trip %q: %+v %v", strings.Join(s, ","), again, err)
	}
	for _, bad := range []string{"chat.*", "chat.*=0", "chat.*=x", "a.>.b=1", "a..b=1", "a b=1", "=1", "a=1/1ms",
		"a=1/10m/100", "a=1/10m/1KiB/x", "a=2000000", "a=1/-1s", "a**b=1", "**.a=1"} {
		if _, err := ParseHistoryRules(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestHistoryFlags(t *testing.T) {
	c := Default()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Bind(fs)
	if err := fs.Parse([]string{"-history", "chat.*=10/1m", "-history-memory", "1MiB", "-anonymous"}); err != nil {
		t.Fatal(err)
	}
	if len(c.History) != 1 || c.History[0].Count != 10 || c.HistoryMemory != 1<<20 {
		t.Fatalf("%+v %d", c.History, c.HistoryMemory)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.HistoryMemory = 1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "history-memory") {
		t.Fatalf("a 1-byte cap: %v", err)
	}
	if fs.Parse([]string{"-history", "a.>.b=1"}) == nil {
		t.Fatal("a bad rule passed the flag")
	}
}
