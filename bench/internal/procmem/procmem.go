// Package procmem reads a process's memory figures from Linux's /proc and
// describes the machine a benchmark ran on. It is shared by the bench
// harnesses; it knows nothing about wsgate.
package procmem

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Errors returned by the parsers.
var (
	// ErrMissingField is returned when a /proc file lacks a field the
	// caller needs (for instance a process that has already exited).
	ErrMissingField = errors.New("procmem: field missing")
)

// Mem is one sample of a process's memory, in bytes.
type Mem struct {
	// RSS is VmRSS from /proc/PID/status: resident pages, shared included.
	RSS int64 `json:"rss"`
	// RSSAnon is RssAnon from /proc/PID/status: resident anonymous pages
	// (heap, stacks, runtime metadata), the part that grows per connection.
	RSSAnon int64 `json:"rss_anon"`
	// PSS is Pss from /proc/PID/smaps_rollup: RSS with shared pages divided
	// among the processes sharing them.
	PSS int64 `json:"pss"`
	// Private is Private_Clean + Private_Dirty from smaps_rollup.
	Private int64 `json:"private"`
	// AnonHuge is AnonHugePages from smaps_rollup: anonymous memory backed
	// by transparent huge pages (0 unless THP is "always" or madvised).
	AnonHuge int64 `json:"anon_huge"`
}

// Read samples pid's memory from /proc/PID/status and /proc/PID/smaps_rollup.
func Read(pid int) (Mem, error) {
	var m Mem
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, err
	}
	return Parse(status, rollup)
}

// Parse builds a Mem from the contents of /proc/PID/status and
// /proc/PID/smaps_rollup.
func Parse(status, rollup []byte) (Mem, error) {
	st := kbFields(status)
	ro := kbFields(rollup)
	var m Mem
	var missing []string
	get := func(f map[string]int64, name string) int64 {
		v, ok := f[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	}
	m.RSS = get(st, "VmRSS")
	m.RSSAnon = get(st, "RssAnon")
	m.PSS = get(ro, "Pss")
	m.Private = get(ro, "Private_Clean") + get(ro, "Private_Dirty")
	m.AnonHuge = ro["AnonHugePages"] // absent on kernels without THP
	if len(missing) > 0 {
		return m, fmt.Errorf("%w: %s", ErrMissingField, strings.Join(missing, ", "))
	}
	return m, nil
}

// kbFields parses "Name:   123 kB" lines into bytes by name. Lines in other
// shapes (the rollup's address header, "Name:\tvalue" without a unit) are
// skipped.
func kbFields(b []byte) map[string]int64 {
	out := make(map[string]int64)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		out[name] = v << 10
	}
	return out
}
