package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/wstest"
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
	rows := wstest.SummaryRows(sum.String())
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
