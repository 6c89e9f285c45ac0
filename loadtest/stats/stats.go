// Package stats holds what a load run measures and how it is judged: the
// counters, HDR latency histograms, per-second points, the Recorder that
// collects them from many goroutines, snapshots that merge losslessly across
// worker processes, --threshold checks and the verdict (incomplete runs and
// hints).
package stats

import (
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: values are microseconds from 1 µs to 10 minutes, with
// three significant digits (0.1% resolution).
const (
	histLowest  = 1
	histHighest = int64(10 * time.Minute / time.Microsecond)
	histSigFigs = 3
	nShards     = 8
)

// Latency kinds recorded by a Recorder.
const (
	KindHandshake = iota // dial start to a verified 101 response
	KindMessage          // send (or intended send) to receipt
	nKinds
)

var kindNames = [nKinds]string{"handshake", "message"}

func newHist() *hdr.Histogram { return hdr.New(histLowest, histHighest, histSigFigs) }

// Hist is a latency histogram in microseconds that marshals to JSON as its
// summary plus the compressed HdrHistogram encoding, so that a JSON file or a
// worker's report can be merged losslessly.
type Hist struct{ h *hdr.Histogram }

// NewHist returns an empty Hist.
func NewHist() *Hist { return &Hist{h: newHist()} }

// Record adds one value.
func (x *Hist) Record(d time.Duration) { recordDur(x.h, d) }

// Merge adds every value of o into x.
func (x *Hist) Merge(o *Hist) {
	if o != nil && o.h != nil {
		x.h.Merge(o.h)
	}
}

// Count returns the number of recorded values.
func (x *Hist) Count() int64 { return x.h.TotalCount() }

// Quantile returns the value at percentile p (0..100).
func (x *Hist) Quantile(p float64) time.Duration {
	if x.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(x.h.ValueAtPercentile(p)) * time.Microsecond
}

// Max returns the largest recorded value (within histogram resolution).
func (x *Hist) Max() time.Duration {
	return time.Duration(x.h.Max()) * time.Microsecond
}

// Min returns the smallest recorded value (within histogram resolution).
func (x *Hist) Min() time.Duration { return time.Duration(x.h.Min()) * time.Microsecond }

// Mean returns the mean of the recorded values.
func (x *Hist) Mean() time.Duration { return time.Duration(x.h.Mean() * float64(time.Microsecond)) }

func recordDur(h *hdr.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < histLowest {
		us = histLowest
	}
	if us > histHighest {
		us = histHighest
	}
	_ = h.RecordValue(us)
}

// histJSON is the wire form of a Hist. Figures are milliseconds.
type histJSON struct {
	Count   int64   `json:"count"`
	MinMs   float64 `json:"min_ms"`
	MeanMs  float64 `json:"mean_ms"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	P99Ms   float64 `json:"p99_ms"`
	P999Ms  float64 `json:"p999_ms"`
	MaxMs   float64 `json:"max_ms"`
	Encoded string  `json:"hdr"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MarshalJSON writes the summary figures and the encoded histogram.
func (x *Hist) MarshalJSON() ([]byte, error) {
	enc, err := x.h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, err
	}
	return json.Marshal(histJSON{
		Count: x.Count(), MinMs: ms(x.Min()), MeanMs: ms(x.Mean()),
		P50Ms: ms(x.Quantile(50)), P90Ms: ms(x.Quantile(90)), P99Ms: ms(x.Quantile(99)),
		P999Ms: ms(x.Quantile(99.9)), MaxMs: ms(x.Max()), Encoded: string(enc),
	})
}

// UnmarshalJSON restores a Hist from its encoded form.
func (x *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Encoded == "" {
		x.h = newHist()
		return nil
	}
	h, err := hdr.Decode([]byte(j.Encoded))
	if err != nil {
		return errors.New("loadtest: bad histogram encoding: " + err.Error())
	}
	x.h = newHist()
	x.h.Merge(h)
	return nil
}

// Point is one second of a run's time series.
// Its counts are the second's increase of the counters of the same name.
type Point struct {
	Second        int     `json:"t"`    // seconds since the run started (1 = first second)
	Open          int64   `json:"open"` // open connections at the end of the second
	Connected     int64   `json:"connected"`
	ConnectFailed int64   `json:"connect_failed"`
	Closed        int64   `json:"closed"`
	Reconnects    int64   `json:"reconnects"`
	MsgsOut       int64   `json:"msgs_out"`
	MsgsIn        int64   `json:"msgs_in"`
	BytesOut      int64   `json:"bytes_out"`
	BytesIn       int64   `json:"bytes_in"`
	Errors        int64   `json:"errors"`
	P50Ms         float64 `json:"p50_ms"` // message latency in the second
	P99Ms         float64 `json:"p99_ms"`
	MaxMs         float64 `json:"max_ms"`
	Lat           *Hist   `json:"lat,omitempty"` // the second's message latencies (kept for merging)
}

// Add adds o's counts into p and merges its latencies, as when the
// workers' points of the same second are combined.
func (p *Point) Add(o *Point) {
	p.Open += o.Open
	p.Connected += o.Connected
	p.ConnectFailed += o.ConnectFailed
	p.Closed += o.Closed
	p.Reconnects += o.Reconnects
	p.MsgsOut += o.MsgsOut
	p.MsgsIn += o.MsgsIn
	p.BytesOut += o.BytesOut
	p.BytesIn += o.BytesIn
	p.Errors += o.Errors
	if o.Lat != nil {
		if p.Lat == nil {
			p.Lat = NewHist()
		}
		p.Lat.Merge(o.Lat)
	}
	p.fillLatency()
}

func (p *Point) fillLatency() {
	if p.Lat == nil || p.Lat.Count() == 0 {
		return
	}
	p.P50Ms, p.P99Ms, p.MaxMs = ms(p.Lat.Quantile(50)), ms(p.Lat.Quantile(99)), ms(p.Lat.Max())
}

// Snapshot is everything a run measured. Snapshots of worker processes merge
// into one with Merge; the merged figures equal the sums of the parts.
type Snapshot struct {
	Version       string            `json:"version,omitempty"` // wsload's version
	Scenario      string            `json:"scenario"`
	Targets       []string          `json:"targets"`
	Workers       int               `json:"workers"`
	Start         time.Time         `json:"start"`
	Elapsed       float64           `json:"elapsed_s"`       // whole run: ramp, measuring phase, drain
	MeasureStart  float64           `json:"measure_start_s"` // when the measuring phase began, seconds after Start
	Measured      float64           `json:"measured_s"`      // measuring phase (sending or holding); rates use it
	DrainEnd      float64           `json:"drain_end_s"`     // when the wait for messages in flight ended, seconds after Start (0: none)
	Counters      Counters          `json:"counters"`
	Failures      map[string]int64  `json:"failures"`                   // connect_failed by kind
	Examples      map[string]string `json:"failure_examples,omitempty"` // an error message of each kind
	Closes        map[string]int64  `json:"closes"`                     // server_closes by reason
	CloseExamples map[string]string `json:"close_examples,omitempty"`   // the close frame's reason text of each
	ErrorCodes    map[string]int64  `json:"error_codes,omitempty"`      // error_frames by the server's code
	Latency       map[string]*Hist  `json:"latency"`                    // "handshake", "message"
	Series        []Point           `json:"series"`
	Server        []ProcSample      `json:"server,omitempty"`
	Config        map[string]any    `json:"config,omitempty"`
	// Incomplete says why the run did not do what it was asked (empty when
	// it did); Hints say what to change. Both are filled by Assess.
	Incomplete []string `json:"incomplete,omitempty"`
	Hints      []string `json:"hints,omitempty"`
}

// Window returns the seconds that rates are computed over.
func (s *Snapshot) Window() float64 {
	if s.Measured > 0 {
		return s.Measured
	}
	return s.Elapsed
}

// Merge adds o into s: counters, failure kinds and per-second points add,
// histograms merge, elapsed time is the longest.
func (s *Snapshot) Merge(o *Snapshot) {
	s.Counters.Add(&o.Counters)
	s.Workers += o.Workers
	s.Elapsed = max(s.Elapsed, o.Elapsed)
	s.Measured = max(s.Measured, o.Measured)
	s.MeasureStart = max(s.MeasureStart, o.MeasureStart)
	s.DrainEnd = max(s.DrainEnd, o.DrainEnd)
	if s.Version == "" {
		s.Version = o.Version
	}
	if s.Start.IsZero() || (!o.Start.IsZero() && o.Start.Before(s.Start)) {
		s.Start = o.Start
	}
	s.Failures = mergeMap(s.Failures, o.Failures)
	s.Closes = mergeMap(s.Closes, o.Closes)
	s.ErrorCodes = mergeMap(s.ErrorCodes, o.ErrorCodes)
	s.Examples = mergeExamples(s.Examples, o.Examples)
	s.CloseExamples = mergeExamples(s.CloseExamples, o.CloseExamples)
	if s.Latency == nil {
		s.Latency = map[string]*Hist{}
	}
	for k, h := range o.Latency {
		if s.Latency[k] == nil {
			s.Latency[k] = NewHist()
		}
		s.Latency[k].Merge(h)
	}
	s.Series = mergeSeries(s.Series, o.Series)
	if len(o.Server) > 0 {
		s.Server = o.Server
	}
	s.Finalize()
}

// Finalize derives the figures that are not sums of the parts: errors,
// and for broadcast the deliveries expected, every published message times
// every subscriber.
func (s *Snapshot) Finalize() {
	c := &s.Counters
	c.sumErrors()
	if s.Scenario != "broadcast" && s.Scenario != "stomp-broadcast" {
		return
	}
	c.Expected = c.Published * c.Subscribers
	c.Lost = 0
	if d := c.Expected - c.Delivered; d > 0 {
		c.Lost = d
	}
}

func mergeMap(a, b map[string]int64) map[string]int64 {
	if a == nil {
		a = map[string]int64{}
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}

// mergeExamples keeps a's example of each key and adds b's others.
func mergeExamples(a, b map[string]string) map[string]string {
	for k, v := range b {
		if a == nil {
			a = map[string]string{}
		}
		if _, ok := a[k]; !ok {
			a[k] = v
		}
	}
	return a
}

func mergeSeries(a, b []Point) []Point {
	idx := make(map[int]int, len(a))
	for i := range a {
		idx[a[i].Second] = i
	}
	for i := range b {
		if j, ok := idx[b[i].Second]; ok {
			a[j].Add(&b[i])
			continue
		}
		p := Point{Second: b[i].Second}
		p.Add(&b[i])
		idx[p.Second] = len(a)
		a = append(a, p)
	}
	sort.Slice(a, func(i, j int) bool { return a[i].Second < a[j].Second })
	return a
}

// Recorder collects a run's measurements from many goroutines. Histograms are
// sharded (callers pass a shard hint, usually a connection id) and each shard
// is guarded by its own mutex; counters are atomics.
type Recorder struct {
	C        LiveCounters
	shards   [nShards]recShard
	mu       sync.Mutex // guards the maps, series and last
	failures map[string]int64
	examples map[string]string // first error message of each failure kind
	closes   map[string]int64
	closeEx  map[string]string // first close reason text of each close kind
	codes    map[string]int64  // server error messages by code
	series   []Point
	last     Counters
	start    time.Time
}

type recShard struct {
	mu       sync.Mutex
	total    [nKinds]*hdr.Histogram
	interval *hdr.Histogram // message latency since the last tick
	_        [40]byte
}

// NewRecorder returns a Recorder whose clock starts now.
func NewRecorder() *Recorder {
	r := &Recorder{failures: map[string]int64{}, examples: map[string]string{}, closes: map[string]int64{},
		closeEx: map[string]string{}, codes: map[string]int64{}, start: time.Now()}
	for i := range r.shards {
		for k := range r.shards[i].total {
			r.shards[i].total[k] = newHist()
		}
		r.shards[i].interval = newHist()
	}
	return r
}

// Start returns the time the Recorder's clock started: the run's start.
func (r *Recorder) Start() time.Time { return r.start }

// Record adds a latency of the given kind; shard is any number that spreads
// concurrent callers (a connection id).
func (r *Recorder) Record(kind int, shard uint32, d time.Duration) {
	s := &r.shards[shard%nShards]
	s.mu.Lock()
	recordDur(s.total[kind], d)
	if kind == KindMessage {
		recordDur(s.interval, d)
	}
	s.mu.Unlock()
}

// Fail counts a connect failure of the given kind; the first error of
// each kind is kept as an example.
func (r *Recorder) Fail(kind string, err error) {
	r.C.ConnectFailed.Add(1)
	r.mu.Lock()
	r.failures[kind]++
	if _, ok := r.examples[kind]; !ok && err != nil {
		r.examples[kind] = err.Error()
	}
	r.mu.Unlock()
}

// ServerClosed counts an open connection the server (or the network)
// closed, with the given reason; text, when not empty, is kept as the
// reason's example (a close frame's reason).
func (r *Recorder) ServerClosed(reason, text string) {
	r.C.ServerCloses.Add(1)
	r.mu.Lock()
	r.closes[reason]++
	if _, ok := r.closeEx[reason]; !ok && text != "" {
		r.closeEx[reason] = text
	}
	r.mu.Unlock()
}

// ErrorFrame counts a server error message with the given code.
func (r *Recorder) ErrorFrame(code string) {
	r.C.ErrorFrames.Add(1)
	r.mu.Lock()
	r.codes[code]++
	r.mu.Unlock()
}

// Tick closes the current second: it appends and returns a Point built from
// the counter deltas and the interval histograms.
func (r *Recorder) Tick() Point {
	lat := NewHist()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		lat.h.Merge(s.interval)
		s.interval.Reset()
		s.mu.Unlock()
	}
	cur := r.C.snapshot()
	r.mu.Lock()
	defer r.mu.Unlock()
	p := Point{
		Second:        len(r.series) + 1,
		Open:          r.C.Open.Load(),
		Connected:     cur.Connected - r.last.Connected,
		ConnectFailed: cur.ConnectFailed - r.last.ConnectFailed,
		Closed:        cur.Closed - r.last.Closed,
		Reconnects:    cur.Reconnects - r.last.Reconnects,
		MsgsOut:       cur.MsgsOut - r.last.MsgsOut,
		MsgsIn:        cur.MsgsIn - r.last.MsgsIn,
		BytesOut:      cur.BytesOut - r.last.BytesOut,
		BytesIn:       cur.BytesIn - r.last.BytesIn,
		Errors:        cur.Errors - r.last.Errors,
		Lat:           lat,
	}
	p.fillLatency()
	r.last = cur
	r.series = append(r.series, p)
	return p
}

// Snapshot returns everything recorded so far.
func (r *Recorder) Snapshot(scenario string) *Snapshot {
	s := &Snapshot{
		Scenario: scenario, Workers: 1, Start: r.start,
		Elapsed:  time.Since(r.start).Seconds(),
		Counters: r.C.snapshot(),
		Latency:  map[string]*Hist{},
	}
	for k := 0; k < nKinds; k++ {
		h := NewHist()
		for i := range r.shards {
			sh := &r.shards[i]
			sh.mu.Lock()
			h.h.Merge(sh.total[k])
			sh.mu.Unlock()
		}
		s.Latency[kindNames[k]] = h
	}
	r.mu.Lock()
	s.Failures = mergeMap(nil, r.failures)
	s.Examples = mergeExamples(nil, r.examples)
	s.Closes = mergeMap(nil, r.closes)
	s.CloseExamples = mergeExamples(nil, r.closeEx)
	s.ErrorCodes = mergeMap(nil, r.codes)
	s.Series = append([]Point(nil), r.series...)
	r.mu.Unlock()
	return s
}
