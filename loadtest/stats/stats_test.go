package stats

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Every counter but the derived errors has a live twin that snapshot
// reads, and errors is the sum of its parts.
func TestLiveCountersSnapshotEveryField(t *testing.T) {
	var l LiveCounters
	lv := reflect.ValueOf(&l).Elem()
	ct := reflect.TypeFor[Counters]()
	for i := 0; i < ct.NumField(); i++ {
		f := lv.FieldByName(ct.Field(i).Name)
		if ct.Field(i).Name == "Errors" {
			if f.IsValid() {
				t.Error("errors is derived and has no live twin")
			}
			continue
		}
		if !f.IsValid() {
			t.Errorf("counter %s has no live twin", ct.Field(i).Name)
			continue
		}
		f.Addr().Interface().(*atomic.Int64).Store(int64(i + 1))
	}
	c := l.snapshot()
	cv := reflect.ValueOf(c)
	for i := 0; i < ct.NumField(); i++ {
		if ct.Field(i).Name != "Errors" && cv.Field(i).Int() != int64(i+1) {
			t.Errorf("%s = %d, want %d", ct.Field(i).Name, cv.Field(i).Int(), i+1)
		}
	}
	var sum int64
	for _, n := range ErrorParts {
		v, ok := c.Get(n)
		if !ok {
			t.Errorf("error part %s is not a counter", n)
		}
		sum += v
	}
	if c.Errors != sum {
		t.Errorf("errors %d, sum of parts %d", c.Errors, sum)
	}
}

// Every Counters field takes part in add.
func TestCountersAddCoversEveryField(t *testing.T) {
	var a, b Counters
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
	for i := 0; i < va.NumField(); i++ {
		va.Field(i).SetInt(int64(i + 1))
		vb.Field(i).SetInt(int64(100 * (i + 1)))
	}
	a.Add(&b)
	for i := 0; i < va.NumField(); i++ {
		if got, want := va.Field(i).Int(), int64(101*(i+1)); got != want {
			t.Errorf("field %s = %d after add, want %d", va.Type().Field(i).Name, got, want)
		}
	}
}

func histOf(ds ...time.Duration) *Hist {
	h := NewHist()
	for _, d := range ds {
		h.Record(d)
	}
	return h
}

func TestHistJSONRoundTrip(t *testing.T) {
	h := histOf(time.Millisecond, 2*time.Millisecond, 50*time.Millisecond, 3*time.Second)
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back Hist
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Count() != 4 || back.Quantile(50) != h.Quantile(50) || back.Max() != h.Max() {
		t.Errorf("round trip: count %d p50 %v max %v; want 4 %v %v", back.Count(), back.Quantile(50), back.Max(), h.Quantile(50), h.Max())
	}
	if !strings.Contains(string(b), `"p99_ms"`) {
		t.Errorf("summary missing: %s", b)
	}
}

func part(out, in int64, lat ...time.Duration) *Snapshot {
	return &Snapshot{
		Scenario: "echo", Workers: 1, Elapsed: 2,
		Counters: Counters{MsgsOut: out, MsgsIn: in, Delivered: in, Expected: out, Lost: out - in},
		Failures: map[string]int64{"refused": 1},
		Latency:  map[string]*Hist{"message": histOf(lat...)},
		Series: []Point{
			{Second: 1, MsgsOut: out / 2, Open: 3, Lat: histOf(lat[0])},
			{Second: 2, MsgsOut: out - out/2, Open: 3, Lat: histOf(lat[1:]...)},
		},
	}
}

// Merged statistics equal the sums of their parts (the pure part of the
// multi-process guarantee; TestProcsMerge checks real worker processes).
func TestSnapshotMergeEqualsSumOfParts(t *testing.T) {
	a := part(100, 90, time.Millisecond, 3*time.Millisecond, 5*time.Millisecond)
	b := part(50, 50, 10*time.Millisecond, 20*time.Millisecond)
	m := &Snapshot{Scenario: "echo"}
	m.Merge(a)
	m.Merge(b)
	c := m.Counters
	if c.MsgsOut != 150 || c.MsgsIn != 140 || c.Lost != 10 || m.Workers != 2 || m.Failures["refused"] != 2 {
		t.Errorf("merged %+v workers %d failures %v", c, m.Workers, m.Failures)
	}
	if got := m.Latency["message"].Count(); got != 5 {
		t.Errorf("merged latency count %d, want 5", got)
	}
	if got := m.Latency["message"].Max(); got < 19*time.Millisecond {
		t.Errorf("merged max %v", got)
	}
	if len(m.Series) != 2 || m.Series[0].MsgsOut != 75 || m.Series[1].Open != 6 || m.Series[1].Lat.Count() != 3 {
		t.Errorf("merged series %+v", m.Series)
	}
}

func TestBroadcastFinalizeAfterMerge(t *testing.T) {
	w := func(pub, subs, del int64) *Snapshot {
		return &Snapshot{Scenario: "broadcast", Counters: Counters{Published: pub, Subscribers: subs, Delivered: del}}
	}
	m := &Snapshot{Scenario: "broadcast"}
	m.Merge(w(10, 5, 100)) // worker 1: 10 published, 5 subscribers
	m.Merge(w(10, 5, 99))  // every subscriber hears both workers' publishers
	if m.Counters.Expected != 200 || m.Counters.Lost != 1 {
		t.Errorf("expected %d lost %d, want 200 1", m.Counters.Expected, m.Counters.Lost)
	}
}

func TestRecorderTickAndSnapshot(t *testing.T) {
	r := NewRecorder()
	r.C.MsgsOut.Add(7)
	r.Record(KindMessage, 3, 2*time.Millisecond)
	r.Record(KindMessage, 4, 4*time.Millisecond)
	r.Record(KindHandshake, 4, time.Millisecond)
	p := r.Tick()
	if p.Second != 1 || p.MsgsOut != 7 || p.Lat.Count() != 2 || p.P99Ms < 3.9 {
		t.Errorf("tick %+v", p)
	}
	r.C.MsgsOut.Add(3)
	if p2 := r.Tick(); p2.MsgsOut != 3 || p2.Lat.Count() != 0 {
		t.Errorf("second tick %+v", p2)
	}
	s := r.Snapshot("echo")
	if s.Latency["message"].Count() != 2 || s.Latency["handshake"].Count() != 1 || len(s.Series) != 2 {
		t.Errorf("snapshot %+v", s)
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSBytes <= 0 || s.Threads <= 0 {
		t.Errorf("self sample %+v", s)
	}
	if _, err := ReadProc(1 << 30); err == nil {
		t.Error("no error for a missing pid")
	}
}
