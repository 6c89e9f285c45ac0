package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// Counter is a monotonic count recorded on the hot path: one atomic add,
// no allocation, no interface call. The collector reads it at scrape time.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n, which must not be negative.
func (c *Counter) Add(n int) { c.v.Add(uint64(n)) }

// Get returns the count.
func (c *Counter) Get() uint64 { return c.v.Load() }

// Histogram records durations into the latency buckets.
type Histogram struct{ o prometheus.Observer }

// Update records v seconds.
func (h *Histogram) Update(v float64) { h.o.Observe(v) }

// UpdateDuration records the time since start.
func (h *Histogram) UpdateDuration(start time.Time) { h.o.Observe(time.Since(start).Seconds()) }

// collector exposes the Counters, and counters read through functions,
// as constant metrics built at each scrape: the library describes, checks
// and writes them.
type collector struct {
	families []*family
}

type family struct {
	name   string
	desc   *prometheus.Desc
	typ    prometheus.ValueType
	series []series
}

type series struct {
	labels []string
	c      *Counter
	f      func() float64
}

// family declares a family; add and addFunc give it series.
func (c *collector) family(name, help string, typ prometheus.ValueType, labels []string) {
	c.families = append(c.families, &family{name: name, desc: prometheus.NewDesc(name, help, labels, nil), typ: typ})
}

func (c *collector) find(name string) *family {
	for _, f := range c.families {
		if f.name == name {
			return f
		}
	}
	panic("metrics: no family " + name)
}

func (c *collector) add(name string, labels ...string) *Counter {
	f := c.find(name)
	ctr := &Counter{}
	f.series = append(f.series, series{labels: labels, c: ctr})
	return ctr
}

func (c *collector) addFunc(name string, fn func() float64, labels ...string) {
	f := c.find(name)
	f.series = append(f.series, series{labels: labels, f: fn})
}

// counter declares a family of one unlabelled counter.
func (c *collector) counter(name, help string) *Counter {
	c.family(name, help, prometheus.CounterValue, nil)
	return c.add(name)
}

// counters declares a family with one label and a counter per value.
func (c *collector) counters(name, help, label string, values ...string) []*Counter {
	c.family(name, help, prometheus.CounterValue, []string{label})
	out := make([]*Counter, len(values))
	for i, v := range values {
		out[i] = c.add(name, v)
	}
	return out
}

// counterFunc declares a family of one unlabelled counter read from fn.
func (c *collector) counterFunc(name, help string, fn func() float64) {
	c.family(name, help, prometheus.CounterValue, nil)
	c.addFunc(name, fn)
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range c.families {
		ch <- f.desc
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.families {
		for _, s := range f.series {
			v := 0.0
			if s.c != nil {
				v = float64(s.c.Get())
			} else {
				v = s.f()
			}
			ch <- prometheus.MustNewConstMetric(f.desc, f.typ, v, s.labels...)
		}
	}
}

// processCollector exposes the process's CPU time, memory, threads,
// start time and descriptor limit from /proc/self. Unlike client_golang's
// process collector it does not count open descriptors: that reads every
// entry of /proc/self/fd on each scrape, a million of them on a busy
// gateway (wsgate_connections_open is the number to watch instead).
type processCollector struct{}

var (
	procCPU     = prometheus.NewDesc("process_cpu_seconds_total", "User and system CPU time the process has used, in seconds.", nil, nil)
	procRSS     = prometheus.NewDesc("process_resident_memory_bytes", "Resident memory of the process, in bytes.", nil, nil)
	procVSZ     = prometheus.NewDesc("process_virtual_memory_bytes", "Virtual memory of the process, in bytes.", nil, nil)
	procThreads = prometheus.NewDesc("process_threads", "Operating-system threads of the process.", nil, nil)
	procStart   = prometheus.NewDesc("process_start_time_seconds", "Start time of the process, in seconds since the Unix epoch.", nil, nil)
	procMaxFDs  = prometheus.NewDesc("process_max_fds", "The process's limit on open file descriptors (RLIMIT_NOFILE).", nil, nil)
)

// Describe implements prometheus.Collector.
func (processCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{procCPU, procRSS, procVSZ, procThreads, procStart, procMaxFDs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A figure /proc does not give
// (another OS, a restricted /proc) is left out.
func (processCollector) Collect(ch chan<- prometheus.Metric) {
	p, err := procfs.Self()
	if err != nil {
		return
	}
	if st, err := p.Stat(); err == nil {
		ch <- prometheus.MustNewConstMetric(procCPU, prometheus.CounterValue, st.CPUTime())
		ch <- prometheus.MustNewConstMetric(procRSS, prometheus.GaugeValue, float64(st.ResidentMemory()))
		ch <- prometheus.MustNewConstMetric(procVSZ, prometheus.GaugeValue, float64(st.VirtualMemory()))
		ch <- prometheus.MustNewConstMetric(procThreads, prometheus.GaugeValue, float64(st.NumThreads))
		if start, err := st.StartTime(); err == nil {
			ch <- prometheus.MustNewConstMetric(procStart, prometheus.GaugeValue, start)
		}
	}
	if l, err := p.Limits(); err == nil {
		ch <- prometheus.MustNewConstMetric(procMaxFDs, prometheus.GaugeValue, float64(l.OpenFiles))
	}
}
