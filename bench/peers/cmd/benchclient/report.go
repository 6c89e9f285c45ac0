package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// stats are one worker's counters (an epoll loop, or a share of the
// gorilla goroutines); workers keep their own so that no counter is
// written from two cores.
type stats struct {
	opened, failed, msgs, errs atomic.Int64
	// measuring is set during the measured window: only then are
	// round-trip times recorded.
	measuring atomic.Bool
	hs, rtt   hist

	mu    sync.Mutex
	kinds map[string]int64 // errors by message
	_     [64]byte         // keeps the next worker's counters off this cache line
}

// fail counts one error of err's kind on an open connection.
func (s *stats) fail(err error) {
	s.errs.Add(1)
	s.kind("open: " + err.Error())
}

// dialFailed counts one connection that did not open, by err's kind.
func (s *stats) dialFailed(err error) {
	s.failed.Add(1)
	s.kind("connect: " + err.Error())
}

func (s *stats) kind(k string) {
	s.mu.Lock()
	if s.kinds == nil {
		s.kinds = map[string]int64{}
	}
	s.kinds[k]++
	s.mu.Unlock()
}

func sumMsgs(sh []*stats) int64 {
	var n int64
	for _, s := range sh {
		n += s.msgs.Load()
	}
	return n
}

func setMeasuring(sh []*stats, on bool) {
	for _, s := range sh {
		s.measuring.Store(on)
	}
}

// report is the outcome of one run, written with -json.
type report struct {
	Client         string           `json:"client"`
	Engine         string           `json:"engine"`
	Mode           string           `json:"mode"`
	Target         string           `json:"target"`
	Conns          int              `json:"conns"`
	Size           int              `json:"size,omitempty"`
	Loops          int              `json:"loops,omitempty"`
	GoMaxProcs     int              `json:"gomaxprocs"`
	Connected      int64            `json:"connected"`
	ConnectFailed  int64            `json:"connect_failed"`
	ConnectS       float64          `json:"connect_s"`
	HandshakesPerS float64          `json:"handshakes_per_s"`
	Handshake      latencies        `json:"handshake"`
	WarmupS        float64          `json:"warmup_s,omitempty"`
	MeasuredS      float64          `json:"measured_s"`
	Msgs           int64            `json:"msgs"`
	MsgsPerS       float64          `json:"msgs_per_s"`
	RTT            latencies        `json:"rtt"`
	Errors         int64            `json:"errors"`
	ErrorKinds     map[string]int64 `json:"error_kinds,omitempty"`
	ClientCPUS     float64          `json:"client_cpu_s"`
}

// fill copies the workers' counters and histograms into r.
func (r *report) fill(sh []*stats) {
	var hs, rtt hist
	r.Connected, r.ConnectFailed, r.Errors, r.ErrorKinds = 0, 0, 0, nil
	for _, s := range sh {
		r.Connected += s.opened.Load()
		r.ConnectFailed += s.failed.Load()
		r.Errors += s.errs.Load()
		hs.merge(&s.hs)
		rtt.merge(&s.rtt)
		s.mu.Lock()
		for k, v := range s.kinds {
			if r.ErrorKinds == nil {
				r.ErrorKinds = map[string]int64{}
			}
			r.ErrorKinds[k] += v
		}
		s.mu.Unlock()
	}
	r.Handshake, r.RTT = hs.summary(), rtt.summary()
}

// print writes a human summary.
func (r *report) print(w io.Writer) {
	loops := ""
	if r.Loops > 0 {
		loops = fmt.Sprintf(", %d loop(s)", r.Loops)
	}
	fmt.Fprintf(w, "benchclient %s (%s engine%s, GOMAXPROCS %d) %s\n", r.Mode, r.Engine, loops, r.GoMaxProcs, r.Target)
	fmt.Fprintf(w, "  connected %d of %d, %d failed, in %.3fs: %.0f handshakes/s (p50 %.2f ms, p99 %.2f ms)\n",
		r.Connected, r.Conns, r.ConnectFailed, r.ConnectS, r.HandshakesPerS, r.Handshake.P50, r.Handshake.P99)
	if r.Mode == "echo" {
		fmt.Fprintf(w, "  echo %d B: %d msgs in %.3fs: %.0f msgs/s; rtt p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms\n",
			r.Size, r.Msgs, r.MeasuredS, r.MsgsPerS, r.RTT.P50, r.RTT.P99, r.RTT.P999)
	}
	fmt.Fprintf(w, "  client CPU %.2fs over the %.3fs measured\n", r.ClientCPUS, r.MeasuredS)
	if len(r.ErrorKinds) > 0 {
		fmt.Fprintf(w, "  %d connections failed to open, %d errors on open ones:\n", r.ConnectFailed, r.Errors)
		for _, k := range slices.Sorted(maps.Keys(r.ErrorKinds)) {
			fmt.Fprintf(w, "    %6d %s\n", r.ErrorKinds[k], k)
		}
	}
}
