package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsgate/wsgate/bench/internal/procmem"
)

// result is one run of one server in one scenario.
type result struct {
	Scenario string             `json:"scenario"`
	Server   string             `json:"server"`
	Round    int                `json:"round"`
	Metrics  map[string]float64 `json:"metrics"`
	// JSON is wsload's output file, relative to the run directory.
	JSON string `json:"json,omitempty"`
	// Profile is wsgate's CPU profile, relative to the run directory.
	Profile string `json:"profile,omitempty"`
	// Err is why the run produced no figures.
	Err string `json:"error,omitempty"`
	// Load1 is the machine's 1-minute load average when the run started:
	// other work on a shared machine shows up here.
	Load1 float64 `json:"load1,omitempty"`
}

// wsloadReport is the part of wsload's --json output the harness reads.
type wsloadReport struct {
	Start         time.Time `json:"start"`
	MeasureStartS float64   `json:"measure_start_s"`
	MeasuredS     float64   `json:"measured_s"`
	DrainEndS     float64   `json:"drain_end_s"`
	ElapsedS      float64   `json:"elapsed_s"`
	Counters      struct {
		Connected     float64 `json:"connected"`
		ConnectFailed float64 `json:"connect_failed"`
		MsgsIn        float64 `json:"msgs_in"`
		Delivered     float64 `json:"delivered"`
		Expected      float64 `json:"expected"`
		Lost          float64 `json:"lost"`
		Errors        float64 `json:"errors"`
		ServerCloses  float64 `json:"server_closes"`
		Subscribers   float64 `json:"subscribers"`
	} `json:"counters"`
	Latency struct {
		Handshake latency `json:"handshake"`
		Message   latency `json:"message"`
	} `json:"latency"`
}

type latency struct {
	Count float64 `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
}

// runner runs scenarios and keeps their files in Dir.
type runner struct {
	Bin        binaries
	Dir        string
	ProfileSec int // >0: take a CPU profile of every wsgate run
	Log        io.Writer
}

// runOne starts spec, drives sc against it with wsload and stops it.
func (r *runner) runOne(sc scenario, spec serverSpec, round int) result {
	if sc.Kind.neutral() {
		return r.runNeutral(sc, spec, round)
	}
	res := result{Scenario: sc.ID, Server: spec.Name, Round: round, Load1: loadAvg()}
	srv, err := start(spec, r.Bin, sc.Deflate)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer srv.stop()
	pid := srv.Pid()
	time.Sleep(700 * time.Millisecond)
	base, _ := procmem.Read(pid)
	cpu0 := cpuSeconds(pid)

	rel := filepath.Join(sc.ID, fmt.Sprintf("%s-r%d.json", spec.Name, round))
	if err := os.MkdirAll(filepath.Join(r.Dir, sc.ID), 0o755); err != nil {
		res.Err = err.Error()
		return res
	}
	target := "ws://" + srv.Addr
	if sc.Kind != kindFanout {
		target += "/echo"
	}
	args := append(append([]string{}, sc.Args...), "--quiet", "--server-pid", strconv.Itoa(pid),
		"--json", filepath.Join(r.Dir, rel), target)

	ctx, cancel := context.WithTimeout(context.Background(), sc.Bound)
	defer cancel()
	peak := sampleRSS(ctx, pid)
	var wg sync.WaitGroup
	if spec.Name == "wsgate" && r.ProfileSec > 0 && sc.Kind != kindIdle {
		res.Profile = filepath.Join(sc.ID, fmt.Sprintf("wsgate-r%d.pprof", round))
		wg.Add(1)
		go func() {
			defer wg.Done()
			delay := ramp(sc.Conns) // profile the steady state, not the ramp...
			if sc.Kind == kindHandshake {
				delay = 0 // ...except where the ramp is what is measured
			}
			r.profile(ctx, srv.Admin, delay, filepath.Join(r.Dir, res.Profile))
		}()
	}
	cmd := exec.CommandContext(ctx, r.Bin.WSLoad, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, r.Log
	runErr := cmd.Run()
	wg.Wait()
	cpu := cpuSeconds(pid) - cpu0
	maxRSS := peak()

	var rep wsloadReport
	if err := r.readReport("wsload", rel, runErr, &rep); err != nil {
		res.Err = err.Error()
		return res
	}
	res.JSON = rel
	res.Metrics = figures(sc, rep, cpu, base.RSS, maxRSS)
	if runErr != nil {
		res.Err = "wsload: " + runErr.Error()
	}
	return res
}

// figures turns a wsload report and the harness's own readings into the
// scenario's columns.
func figures(sc scenario, rep wsloadReport, cpu float64, baseRSS, maxRSS int64) map[string]float64 {
	c := rep.Counters
	m := map[string]float64{"cpu_s": cpu, "connected": c.Connected, "failed": c.ConnectFailed}
	per := func(n float64) float64 {
		if rep.MeasuredS <= 0 {
			return 0
		}
		return n / rep.MeasuredS
	}
	switch sc.Kind {
	case kindIdle:
		if c.Connected > 0 {
			m["rss_per_conn"] = float64(maxRSS-baseRSS) / c.Connected
		}
		m["rss_peak_mib"] = float64(maxRSS) / (1 << 20)
	case kindEcho:
		m["msgs_s"] = per(c.MsgsIn)
		m["p50_ms"], m["p99_ms"] = rep.Latency.Message.P50, rep.Latency.Message.P99
		m["lost"] = c.Lost
		if cpu > 0 {
			m["per_cpu"] = c.MsgsIn / cpu
		}
	case kindFanout:
		m["deliveries_s"] = per(c.Delivered)
		m["p99_ms"] = rep.Latency.Message.P99
		m["lost"], m["closed"] = c.Lost, c.ServerCloses
		if cpu > 0 {
			m["per_cpu"] = c.Delivered / cpu
		}
	case kindHandshake:
		// Connections open in the ramp: elapsed minus the hold, which also
		// leaves the close phase in; a lower bound on the rate.
		if ramp := rep.ElapsedS - rep.MeasuredS; ramp > 0 {
			m["hs_s"] = c.Connected / ramp
		}
		m["hs_p99_ms"] = rep.Latency.Handshake.P99
	}
	return m
}

// sampleRSS reads pid's RSS every 200 ms until ctx ends or the returned
// function is called; that function returns the peak.
func sampleRSS(ctx context.Context, pid int) func() int64 {
	var mu sync.Mutex
	var peak int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := procmem.Read(pid); err == nil {
				mu.Lock()
				peak = max(peak, m.RSS)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// profile waits delay, then saves a CPU profile from wsgate's admin
// listener (-pprof) to path.
func (r *runner) profile(ctx context.Context, admin string, delay time.Duration, path string) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(delay):
	}
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, r.ProfileSec)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(r.Log, "profile:", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// loadAvg returns the 1-minute load average, or 0 when unreadable.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
