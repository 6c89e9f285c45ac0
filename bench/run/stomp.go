package main

import (
	"context"
	"encoding/json"
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

// The variant scenarios run wsgate alone, once per variant (raw /room,
// STOMP), and compare the rows. Fan-out: the harness samples the server's
// and wsload's CPU time every 100 ms and takes both from the start of
// wsload's measured window (publishing) to the end of its drain (every
// delivery in, or the drain's limit) plus windowTail, so the ramp
// (handshakes, CONNECT, SUBSCRIBE) and the closes are left out.
// Idle: the harness waits until the room has every member, lets the
// server settle, and reads its live heap after a collection
// (/debug/memstats?gc=1) and its RSS, against the same readings taken
// before wsload started.

// windowTail is how long after wsload's drain the harness keeps counting
// CPU time: the server's work on the last deliveries.
const windowTail = 100 * time.Millisecond

// settle is how long the harness waits, once every member has joined,
// before it reads an idle server's memory.
const settle = 1500 * time.Millisecond

// runVariants runs every variant of sc against wsgate for one round,
// in an order that rotates with the round.
func (r *runner) runVariants(sc scenario, spec serverSpec, round int, report func(result, time.Duration)) []result {
	var out []result
	for i := range sc.Variants {
		v := sc.Variants[(i+round-1)%len(sc.Variants)]
		t0 := time.Now()
		res := r.runVariant(sc, v, spec, round)
		report(res, time.Since(t0))
		out = append(out, res)
	}
	return out
}

// cpuSample is one reading of the server's and wsload's CPU seconds.
type cpuSample struct {
	at             time.Time
	server, client float64
}

// runVariant starts wsgate, drives variant v of sc against it and stops
// it.
func (r *runner) runVariant(sc scenario, v variant, spec serverSpec, round int) result {
	res := result{Scenario: sc.ID, Server: v.Name, Round: round, Load1: loadAvg()}
	srv, err := start(spec, r.Bin, false)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer srv.stop()
	pid := srv.Pid()
	time.Sleep(700 * time.Millisecond)
	before, err := readMemStats(srv.Admin, true)
	if err != nil {
		res.Err = "memstats: " + err.Error()
		return res
	}
	rssBefore, _ := procmem.Read(pid)

	file := v.File
	rel := filepath.Join(sc.ID, fmt.Sprintf("%s-r%d.json", file, round))
	if err := os.MkdirAll(filepath.Join(r.Dir, sc.ID), 0o755); err != nil {
		res.Err = err.Error()
		return res
	}
	args := append(append([]string{}, v.Args...), "--quiet", "--server-pid", strconv.Itoa(pid),
		"--json", filepath.Join(r.Dir, rel), "ws://"+srv.Addr+v.Path)
	ctx, cancel := context.WithTimeout(context.Background(), sc.Bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Bin.WSLoad, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, r.Log
	r.logRun(sc.ID, v.Name, round, r.Bin.WSLoad, args)
	if err := cmd.Start(); err != nil {
		res.Err = "wsload: " + err.Error()
		return res
	}
	stopCPU := sampleCPU(pid, cmd.Process.Pid)
	var idle idleReading
	var wg sync.WaitGroup
	if r.ProfileSec > 0 && sc.Kind == kindStompFanout {
		res.Profile = filepath.Join(sc.ID, fmt.Sprintf("%s-r%d.pprof", file, round))
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.profile(ctx, srv.Admin, ramp(sc.Conns)+time.Second, filepath.Join(r.Dir, res.Profile))
		}()
	}
	if sc.Kind == kindStompIdle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idle = readIdle(ctx, srv.Admin, pid, sc.Conns)
		}()
	}
	runErr := cmd.Wait()
	cancel()
	wg.Wait()
	samples := stopCPU()

	var rep wsloadReport
	if err := r.readReport("wsload", rel, runErr, &rep); err != nil {
		res.Err = err.Error()
		return res
	}
	res.JSON = rel
	switch sc.Kind {
	case kindStompFanout:
		res.Metrics = fanoutWindow(rep, samples)
	case kindStompIdle:
		if idle.err != nil {
			res.Err = idle.err.Error()
			return res
		}
		res.Metrics = idleFigures(rep, before, idle.after, rssBefore.RSS, idle.rss)
	}
	if runErr != nil {
		res.Err = "wsload: " + runErr.Error()
	}
	return res
}

// fanoutWindow turns a broadcast report and the CPU samples into the
// fan-out columns.
func fanoutWindow(rep wsloadReport, samples []cpuSample) map[string]float64 {
	c := rep.Counters
	m := map[string]float64{"connected": c.Connected, "lost": c.Lost, "closed": c.ServerCloses,
		"p50_ms": rep.Latency.Message.P50, "p99_ms": rep.Latency.Message.P99}
	if rep.MeasuredS > 0 {
		m["deliveries_s"] = c.Delivered / rep.MeasuredS
	}
	from := rep.Start.Add(time.Duration(rep.MeasureStartS * float64(time.Second)))
	end := max(rep.MeasureStartS+rep.MeasuredS, rep.DrainEndS)
	to := rep.Start.Add(time.Duration(end*float64(time.Second)) + windowTail)
	s0, ok0 := cpuAt(samples, from)
	s1, ok1 := cpuAt(samples, to)
	if !ok0 || !ok1 || rep.Start.IsZero() {
		return m
	}
	srv, cli := s1.server-s0.server, s1.client-s0.client
	m["cpu_s"] = srv
	m["client_cpu_pct"] = 100 * cli / to.Sub(from).Seconds()
	if srv > 0 && c.Delivered > 0 {
		m["per_cpu"] = c.Delivered / srv
		m["cpu_us"] = srv / c.Delivered * 1e6
	}
	return m
}

// cpuAt interpolates the samples' CPU seconds at t; false when t is
// outside them.
func cpuAt(samples []cpuSample, t time.Time) (cpuSample, bool) {
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if t.Before(a.at) || t.After(b.at) {
			continue
		}
		f := 0.0
		if span := b.at.Sub(a.at); span > 0 {
			f = float64(t.Sub(a.at)) / float64(span)
		}
		return cpuSample{at: t, server: a.server + f*(b.server-a.server), client: a.client + f*(b.client-a.client)}, true
	}
	return cpuSample{}, false
}

// sampleCPU reads the CPU seconds of server and of the client process
// tree (wsload and its --procs workers) every 100 ms until the returned
// function is called, which returns the samples.
func sampleCPU(server, client int) func() []cpuSample {
	var mu sync.Mutex
	var out []cpuSample
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			s := cpuSample{at: time.Now(), server: cpuSeconds(server), client: treeCPU(client)}
			mu.Lock()
			out = append(out, s)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() []cpuSample {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return out
	}
}

// treeCPU is the CPU seconds of pid and its live descendants.
func treeCPU(pid int) float64 {
	sum := cpuSeconds(pid)
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				sum += treeCPU(c)
			}
		}
	}
	return sum
}

// memStats is the part of wsgate's /debug/memstats the harness reads.
type memStats struct {
	Conns     int64  `json:"conns"`
	HeapAlloc uint64 `json:"heap_alloc"`
	HeapInuse uint64 `json:"heap_inuse"`
}

// readMemStats reads /debug/memstats from wsgate's admin listener, after a
// collection when gc is set (twice: the second finds what the first left
// in sync.Pool victim caches gone too).
func readMemStats(admin string, gc bool) (memStats, error) {
	var m memStats
	url := "http://" + admin + "/debug/memstats"
	n := 1
	if gc {
		url += "?gc=1"
		n = 2
	}
	for range n {
		resp, err := http.Get(url)
		if err != nil {
			return m, err
		}
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// idleReading is the server's memory with every connection open and idle.
type idleReading struct {
	after memStats
	rss   int64
	err   error
}

// readIdle waits until room stompRoom has conns members, lets the server
// settle, and reads its memory.
func readIdle(ctx context.Context, admin string, pid, conns int) idleReading {
	for {
		n, err := roomMembers(admin, stompRoom)
		if err == nil && n >= conns {
			break
		}
		select {
		case <-ctx.Done():
			return idleReading{err: fmt.Errorf("room %s never had %d members (last count %d, %v)", stompRoom, conns, n, err)}
		case <-time.After(250 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return idleReading{err: ctx.Err()}
	case <-time.After(settle):
	}
	m, err := readMemStats(admin, true)
	if err != nil {
		return idleReading{err: fmt.Errorf("memstats: %w", err)}
	}
	rss, _ := procmem.Read(pid)
	return idleReading{after: m, rss: rss.RSS}
}

// roomMembers reads a room's member count from wsgate's admin API.
func roomMembers(admin, room string) (int, error) {
	resp, err := http.Get("http://" + admin + "/api/rooms")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct {
		Rooms []struct {
			Name    string `json:"name"`
			Members int    `json:"members"`
		} `json:"rooms"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, err
	}
	for _, r := range v.Rooms {
		if r.Name == room {
			return r.Members, nil
		}
	}
	return 0, nil
}

// idleFigures turns the readings before and during the idle hold into
// the idle columns.
func idleFigures(rep wsloadReport, before, after memStats, rssBefore, rssAfter int64) map[string]float64 {
	n := float64(after.Conns)
	m := map[string]float64{"connected": n, "heap_mib": float64(after.HeapAlloc) / (1 << 20)}
	if n > 0 {
		m["heap_per_conn"] = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
		m["rss_per_conn"] = float64(rssAfter-rssBefore) / n
	}
	m["subscribers"] = rep.Counters.Subscribers
	return m
}
