package procmem

import (
	"errors"
	"os"
	"testing"
)

const status = `Name:	wsgate
Umask:	0022
State:	S (sleeping)
Pid:	4242
VmHWM:	   12000 kB
VmRSS:	   11264 kB
RssAnon:	    6144 kB
RssFile:	    5120 kB
Threads:	7
`

const rollup = `55b791d09000-7fffdb0ba000 ---p 00000000 00:00 0                          [rollup]
Rss:               11264 kB
Pss:                9000 kB
Private_Clean:      1000 kB
Private_Dirty:      6000 kB
Anonymous:          6144 kB
AnonHugePages:      2048 kB
`

func TestParse(t *testing.T) {
	m, err := Parse([]byte(status), []byte(rollup))
	if err != nil {
		t.Fatal(err)
	}
	want := Mem{RSS: 11264 << 10, RSSAnon: 6144 << 10, PSS: 9000 << 10, Private: 7000 << 10, AnonHuge: 2048 << 10}
	if m != want {
		t.Fatalf("Parse = %+v, want %+v", m, want)
	}
}

func TestParseMissing(t *testing.T) {
	_, err := Parse([]byte("Name:\tx\n"), []byte(rollup))
	if !errors.Is(err, ErrMissingField) {
		t.Fatalf("err = %v, want ErrMissingField", err)
	}
}

func TestReadSelf(t *testing.T) {
	m, err := Read(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if m.RSS <= 0 || m.PSS <= 0 || m.RSSAnon <= 0 || m.Private <= 0 {
		t.Fatalf("implausible sample of a running process: %+v", m)
	}
}

func TestCPUModel(t *testing.T) {
	in := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: other\n"
	if got := CPUModel([]byte(in)); got != "AMD EPYC 7B13" {
		t.Fatalf("CPUModel = %q", got)
	}
	if got := CPUModel([]byte("processor: 0\n")); got != "" {
		t.Fatalf("CPUModel without a model = %q", got)
	}
}

func TestBracketed(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never":   "always",
		"never\n":                  "never",
	} {
		if got := Bracketed(in); got != want {
			t.Errorf("Bracketed(%q) = %q, want %q", in, got, want)
		}
	}
}
