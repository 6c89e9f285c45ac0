package stats

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"time"
)

// ProcSample is one sample of a process's resource use, read from /proc.
type ProcSample struct {
	Second   int     `json:"t"`
	RSSBytes int64   `json:"rss_bytes"`
	CPUSecs  float64 `json:"cpu_s"`   // user+system CPU seconds since the process started
	CPUPct   float64 `json:"cpu_pct"` // CPU use over the last interval, 100 = one core
	Threads  int64   `json:"threads"`
}

// clockTicks is USER_HZ, which is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ErrNoProc reports that /proc/PID could not be read (the process is gone).
var ErrNoProc = errors.New("loadtest: cannot read /proc for that pid")

// ReadProc reads the CPU time, RSS and thread count of pid from
// /proc/PID/stat and /proc/PID/status.
func ReadProc(pid int) (ProcSample, error) {
	var s ProcSample
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, ErrNoProc
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, ErrNoProc
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return s, ErrNoProc
	}
	ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
	st, _ := strconv.ParseInt(string(f[12]), 10, 64)
	s.CPUSecs = float64(ut+st) / clockTicks
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, ErrNoProc
	}
	s.RSSBytes = statusField(status, "VmRSS:") * 1024
	s.Threads = statusField(status, "Threads:")
	return s, nil
}

func statusField(status []byte, name string) int64 {
	i := bytes.Index(status, []byte(name))
	if i < 0 {
		return 0
	}
	line := status[i+len(name):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return v
}

// ProcSampler turns successive ReadProc results into samples with CPU %.
// It is used by one goroutine.
type ProcSampler struct {
	pid      int
	prev     ProcSample
	prevTime time.Time
	samples  []ProcSample
}

// NewProcSampler returns a sampler of process pid.
func NewProcSampler(pid int) *ProcSampler { return &ProcSampler{pid: pid} }

// Samples returns the samples taken so far at seconds after the first.
func (p *ProcSampler) Samples() []ProcSample { return p.samples }

// Sample reads the process now and returns its sample for the given
// second, or false when the process cannot be read. Samples at second 0
// set the baseline for the CPU share and are not kept.
func (p *ProcSampler) Sample(second int) (ProcSample, bool) {
	s, err := ReadProc(p.pid)
	if err != nil {
		return s, false
	}
	now := time.Now()
	s.Second = second
	if !p.prevTime.IsZero() {
		if dt := now.Sub(p.prevTime).Seconds(); dt > 0 {
			s.CPUPct = 100 * (s.CPUSecs - p.prev.CPUSecs) / dt
		}
	}
	p.prev, p.prevTime = s, now
	if second > 0 {
		p.samples = append(p.samples, s)
	}
	return s, true
}
