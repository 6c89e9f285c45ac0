package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// Every counter in the JSON appears in the text summary under the same
// name with the same value, for a run where every counter is non-zero.
func TestCounterNamesAgreeTextAndJSON(t *testing.T) {
	s := &stats.Snapshot{Scenario: "broadcast", Workers: 1, Elapsed: 3, Measured: 2,
		Failures: map[string]int64{"refused": 1}, Closes: map[string]int64{"eof": 1}, ErrorCodes: map[string]int64{"rate_limited": 1},
		Latency: map[string]*stats.Hist{"message": histOf(time.Millisecond)}}
	v := reflect.ValueOf(&s.Counters).Elem()
	for i := 0; i < v.NumField(); i++ {
		v.Field(i).SetInt(int64(1000 + 7*i))
	}
	var sum bytes.Buffer
	WriteSummary(&sum, s, nil)
	b, err := json.Marshal(s.Counters)
	if err != nil {
		t.Fatal(err)
	}
	var js map[string]int64
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	if len(js) != len(stats.CounterNames()) {
		t.Errorf("JSON has %d counters, CounterNames %d", len(js), len(stats.CounterNames()))
	}
	rows := summaryRows(sum.String())
	for name, val := range js {
		if got, ok := rows[name]; !ok || got != val {
			t.Errorf("counter %s: JSON %d, summary %d (present %v)", name, val, got, ok)
		}
	}
}

// histOf returns a histogram of the given latencies.
func histOf(ds ...time.Duration) *stats.Hist {
	h := stats.NewHist()
	for _, d := range ds {
		h.Record(d)
	}
	return h
}

// summaryRows reads "  name   value  (...)" rows of a summary.
func summaryRows(sum string) map[string]int64 {
	rows := map[string]int64{}
	for _, line := range strings.Split(sum, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "    ") {
			continue
		}
		var v int64
		if _, err := fmt.Sscan(f[1], &v); err == nil {
			rows[f[0]] = v
		}
	}
	return rows
}
