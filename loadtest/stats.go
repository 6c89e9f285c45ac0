package loadtest

import (
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
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

// Counters are the totals of a run. Every field is a count; merging adds them.
type Counters struct {
	ConnectAttempts int64 `json:"connect_attempts"`
	Connected       int64 `json:"connected"`     // successful handshakes
	DeflateConns    int64 `json:"deflate_conns"` // of those, with permessage-deflate negotiated
	ConnectFailed   int64 `json:"connect_failed"`
	Disconnects     int64 `json:"disconnects"`   // open connections that closed before the end
	ServerCloses    int64 `json:"server_closes"` // of those, closed by the server or network
	Reconnects      int64 `json:"reconnects"`
	MsgsOut         int64 `json:"msgs_out"`
	MsgsIn          int64 `json:"msgs_in"`
	BytesOut        int64 `json:"bytes_out"` // payload bytes before compression
	BytesIn         int64 `json:"bytes_in"`
	Errors          int64 `json:"errors"`      // protocol, write and unexpected errors
	Subscribers     int64 `json:"subscribers"` // broadcast subscribers that opened
	Published       int64 `json:"published"`
	PublishFailed   int64 `json:"publish_failed"`
	Expected        int64 `json:"expected"` // deliveries expected (broadcast) or replies expected (echo)
	Delivered       int64 `json:"delivered"`
	Lost            int64 `json:"lost"`
	Duplicates      int64 `json:"duplicates"`
	Reordered       int64 `json:"reordered"`
	Corrupt         int64 `json:"corrupt"`
	Late            int64 `json:"late"`   // open loop: sends that left later than intended by over 1 ms
	Unsent          int64 `json:"unsent"` // open loop: scheduled sends not made by the end (sender behind)
	SlowConns       int64 `json:"slow_conns"`
	StalledConns    int64 `json:"stalled_conns"`
	SlowClosed      int64 `json:"slow_closed"`    // slow readers the server disconnected
	StalledClosed   int64 `json:"stalled_closed"` // stalled readers the server disconnected
}

// add adds o to c field by field.
func (c *Counters) add(o *Counters) {
	a := counterPtrs(c)
	b := counterPtrs(o)
	for i := range a {
		*a[i] += *b[i]
	}
}

func counterPtrs(c *Counters) []*int64 {
	return []*int64{&c.ConnectAttempts, &c.Connected, &c.DeflateConns, &c.ConnectFailed, &c.Disconnects,
		&c.ServerCloses, &c.Reconnects, &c.MsgsOut, &c.MsgsIn, &c.BytesOut, &c.BytesIn,
		&c.Errors, &c.Subscribers, &c.Published, &c.PublishFailed, &c.Expected, &c.Delivered, &c.Lost,
		&c.Duplicates, &c.Reordered, &c.Corrupt, &c.Late, &c.Unsent, &c.SlowConns, &c.StalledConns,
		&c.SlowClosed, &c.StalledClosed}
}

// liveCounters is the atomic form of Counters used while running.
type liveCounters struct {
	ConnectAttempts, Connected, DeflateConns, ConnectFailed, Disconnects, ServerCloses, Reconnects atomic.Int64
	MsgsOut, MsgsIn, BytesOut, BytesIn, Errors, Subscribers, Published, PublishFailed              atomic.Int64
	Expected, Delivered, Lost, Duplicates, Reordered, Corrupt, Late, Unsent                        atomic.Int64
	SlowConns, StalledConns, SlowClosed, StalledClosed                                             atomic.Int64
	Open                                                                                           atomic.Int64
}

func (l *liveCounters) snapshot() Counters {
	return Counters{
		ConnectAttempts: l.ConnectAttempts.Load(), Connected: l.Connected.Load(), DeflateConns: l.DeflateConns.Load(),
		ConnectFailed: l.ConnectFailed.Load(), Disconnects: l.Disconnects.Load(),
		ServerCloses: l.ServerCloses.Load(), Reconnects: l.Reconnects.Load(),
		MsgsOut: l.MsgsOut.Load(), MsgsIn: l.MsgsIn.Load(), BytesOut: l.BytesOut.Load(),
		BytesIn: l.BytesIn.Load(), Errors: l.Errors.Load(), Subscribers: l.Subscribers.Load(), Published: l.Published.Load(),
		PublishFailed: l.PublishFailed.Load(), Expected: l.Expected.Load(),
		Delivered: l.Delivered.Load(), Lost: l.Lost.Load(), Duplicates: l.Duplicates.Load(),
		Reordered: l.Reordered.Load(), Corrupt: l.Corrupt.Load(), Late: l.Late.Load(), Unsent: l.Unsent.Load(),
		SlowConns: l.SlowConns.Load(), StalledConns: l.StalledConns.Load(),
		SlowClosed: l.SlowClosed.Load(), StalledClosed: l.StalledClosed.Load(),
	}
}

// Point is one second of a run's time series.
type Point struct {
	Second   int     `json:"t"`        // seconds since the run started (1 = first second)
	Open     int64   `json:"open"`     // open connections at the end of the second
	Connects int64   `json:"connects"` // handshakes completed in the second
	Failures int64   `json:"failures"` // connect failures in the second
	MsgsOut  int64   `json:"msgs_out"`
	MsgsIn   int64   `json:"msgs_in"`
	BytesOut int64   `json:"bytes_out"`
	BytesIn  int64   `json:"bytes_in"`
	Errors   int64   `json:"errors"`
	P50Ms    float64 `json:"p50_ms"` // message latency in the second
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	Lat      *Hist   `json:"lat,omitempty"` // the second's message latencies (kept for merging)
}

func (p *Point) add(o *Point) {
	p.Open += o.Open
	p.Connects += o.Connects
	p.Failures += o.Failures
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
	Scenario string            `json:"scenario"`
	Targets  []string          `json:"targets"`
	Workers  int               `json:"workers"`
	Start    time.Time         `json:"start"`
	Elapsed  float64           `json:"elapsed_s"`  // whole run: ramp, measuring phase, drain
	Measured float64           `json:"measured_s"` // measuring phase (sending or holding); rates use it
	Counters Counters          `json:"counters"`
	Failures map[string]int64  `json:"failures"`                   // connect failures by kind
	Examples map[string]string `json:"failure_examples,omitempty"` // an error message of each kind
	Closes   map[string]int64  `json:"closes"`                     // disconnect reasons of open connections
	Latency  map[string]*Hist  `json:"latency"`                    // "handshake", "message"
	Series   []Point           `json:"series"`
	Server   []ProcSample      `json:"server,omitempty"`
	Config   map[string]any    `json:"config,omitempty"`
}

// window returns the seconds that rates are computed over.
func (s *Snapshot) window() float64 {
	if s.Measured > 0 {
		return s.Measured
	}
	return s.Elapsed
}

// Merge adds o into s: counters, failure kinds and per-second points add,
// histograms merge, elapsed time is the longest.
func (s *Snapshot) Merge(o *Snapshot) {
	s.Counters.add(&o.Counters)
	s.Workers += o.Workers
	s.Elapsed = max(s.Elapsed, o.Elapsed)
	s.Measured = max(s.Measured, o.Measured)
	if s.Start.IsZero() || (!o.Start.IsZero() && o.Start.Before(s.Start)) {
		s.Start = o.Start
	}
	s.Failures = mergeMap(s.Failures, o.Failures)
	s.Closes = mergeMap(s.Closes, o.Closes)
	for k, v := range o.Examples {
		if s.Examples == nil {
			s.Examples = map[string]string{}
		}
		if _, ok := s.Examples[k]; !ok {
			s.Examples[k] = v
		}
	}
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
	s.finalize()
}

// finalize derives the figures that are not sums of the parts: broadcast
// deliveries expected are every published message times every subscriber.
func (s *Snapshot) finalize() {
	c := &s.Counters
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

func mergeSeries(a, b []Point) []Point {
	idx := make(map[int]int, len(a))
	for i := range a {
		idx[a[i].Second] = i
	}
	for i := range b {
		if j, ok := idx[b[i].Second]; ok {
			a[j].add(&b[i])
			continue
		}
		p := Point{Second: b[i].Second}
		p.add(&b[i])
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
	C        liveCounters
	shards   [nShards]recShard
	mu       sync.Mutex // guards failures, closes, series, lastTick
	failures map[string]int64
	examples map[string]string // first error message of each failure kind
	closes   map[string]int64
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
	r := &Recorder{failures: map[string]int64{}, examples: map[string]string{}, closes: map[string]int64{}, start: time.Now()}
	for i := range r.shards {
		for k := range r.shards[i].total {
			r.shards[i].total[k] = newHist()
		}
		r.shards[i].interval = newHist()
	}
	return r
}

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

// Closed counts a disconnect of an open connection with the given reason.
func (r *Recorder) Closed(reason string) {
	r.mu.Lock()
	r.closes[reason]++
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
		Second:   len(r.series) + 1,
		Open:     r.C.Open.Load(),
		Connects: cur.Connected - r.last.Connected,
		Failures: cur.ConnectFailed - r.last.ConnectFailed,
		MsgsOut:  cur.MsgsOut - r.last.MsgsOut,
		MsgsIn:   cur.MsgsIn - r.last.MsgsIn,
		BytesOut: cur.BytesOut - r.last.BytesOut,
		BytesIn:  cur.BytesIn - r.last.BytesIn,
		Errors:   cur.Errors - r.last.Errors,
		Lat:      lat,
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
	s.Examples = map[string]string{}
	for k, v := range r.examples {
		s.Examples[k] = v
	}
	s.Closes = mergeMap(nil, r.closes)
	s.Series = append([]Point(nil), r.series...)
	r.mu.Unlock()
	return s
}
