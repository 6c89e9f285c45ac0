package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bench/internal/procmem"
)

// clientReport is the part of benchclient's -json output the harness
// reads.
type clientReport struct {
	Connected      float64 `json:"connected"`
	ConnectFailed  float64 `json:"connect_failed"`
	HandshakesPerS float64 `json:"handshakes_per_s"`
	Handshake      struct {
		P99 float64 `json:"p99_ms"`
	} `json:"handshake"`
	MeasuredS float64 `json:"measured_s"`
	Msgs      float64 `json:"msgs"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	RTT       struct {
		P50 float64 `json:"p50_ms"`
		P99 float64 `json:"p99_ms"`
	} `json:"rtt"`
	Errors     float64 `json:"errors"`
	ClientCPUS float64 `json:"client_cpu_s"`
}

// window is what the harness read of the server around the client's
// measured window.
type window struct {
	opened, closed bool
	cpu            float64 // server CPU seconds inside the window
	rss            int64   // highest RSS seen inside the window and at its end
}

// runNeutral starts spec, drives sc against it with benchclient and stops
// it. The server's CPU time and RSS are read when the client prints
// "phase measure" and "phase done", so they cover its window alone.
func (r *runner) runNeutral(sc scenario, spec serverSpec, round int) result {
	res := result{Scenario: sc.ID, Server: spec.Name, Round: round, Load1: loadAvg()}
	srv, err := start(spec, r.Bin, false)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer srv.stop()
	pid := srv.Pid()
	time.Sleep(700 * time.Millisecond)

	rel := filepath.Join(sc.ID, fmt.Sprintf("%s-r%d.json", spec.Name, round))
	if err := os.MkdirAll(filepath.Join(r.Dir, sc.ID), 0o755); err != nil {
		res.Err = err.Error()
		return res
	}
	args := append(append([]string{}, sc.Args...), "-json", filepath.Join(r.Dir, rel), "ws://"+srv.Addr+"/echo")
	ctx, cancel := context.WithTimeout(context.Background(), sc.Bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.Bin.Client, args...)
	cmd.Stderr = r.Log
	out, err := cmd.StdoutPipe()
	if err != nil {
		res.Err = err.Error()
		return res
	}
	r.logRun(sc.ID, spec.Name, round, r.Bin.Client, args)
	if err := cmd.Start(); err != nil {
		res.Err = "benchclient: " + err.Error()
		return res
	}
	w := watchWindow(ctx, out, pid)
	runErr := cmd.Wait()

	var rep clientReport
	if err := r.readReport("benchclient", rel, runErr, &rep); err != nil {
		res.Err = err.Error()
		return res
	}
	res.JSON = rel
	if !w.opened || !w.closed {
		res.Err = "benchclient: no measured window announced"
		return res
	}
	res.Metrics = neutralFigures(sc.Kind, rep, w)
	if runErr != nil {
		res.Err = "benchclient: " + runErr.Error()
	}
	return res
}

// watchWindow reads the client's phase lines from out until it ends and
// takes the server's readings at "phase measure" and "phase done",
// sampling its RSS every 200 ms in between.
func watchWindow(ctx context.Context, out io.Reader, pid int) window {
	var w window
	var cpu0 float64
	var peak func() int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "phase measure":
			cpu0, w.opened = cpuSeconds(pid), true
			peak = sampleRSS(ctx, pid)
		case "phase done":
			if !w.opened {
				continue
			}
			w.cpu, w.closed = cpuSeconds(pid)-cpu0, true
			w.rss = peak()
			peak = nil
			if m, err := procmem.Read(pid); err == nil {
				w.rss = max(w.rss, m.RSS)
			}
		}
	}
	if peak != nil {
		peak()
	}
	return w
}

// neutralFigures turns a benchclient report and the window's readings
// into the scenario's columns.
func neutralFigures(k kind, rep clientReport, w window) map[string]float64 {
	m := map[string]float64{"cpu_s": w.cpu, "connected": rep.Connected, "failed": rep.ConnectFailed,
		"rss_mib": float64(w.rss) / (1 << 20), "client_cpu_s": rep.ClientCPUS}
	switch k {
	case kindNeutralEcho:
		m["msgs_s"], m["p50_ms"], m["p99_ms"] = rep.MsgsPerS, rep.RTT.P50, rep.RTT.P99
		m["errors"] = rep.Errors + rep.ConnectFailed
		if w.cpu > 0 && rep.Msgs > 0 {
			m["per_cpu"] = rep.Msgs / w.cpu
			m["cpu_per_m"] = w.cpu / (rep.Msgs / 1e6)
		}
	case kindNeutralConnect:
		m["hs_s"], m["hs_p99_ms"] = rep.HandshakesPerS, rep.Handshake.P99
		if rep.Connected > 0 {
			m["cpu_us_per_hs"] = w.cpu / rep.Connected * 1e6
		}
	}
	return m
}

// logRun records one client run in log.txt: the client by its name, and
// paths inside the run's folder relative to it, so the log reads the same
// wherever the run was made and whatever temporary folder held the builds.
func (r *runner) logRun(id, name string, round int, bin string, args []string) {
	line := strings.ReplaceAll(strings.Join(args, " "), r.Dir+string(filepath.Separator), "")
	fmt.Fprintf(r.Log, "%s %s r%d: %s %s\n", id, name, round, filepath.Base(bin), line)
}

// readReport decodes the JSON report a client (tool) wrote to rel in the
// run's folder into v; runErr, the client's exit, explains a missing one.
func (r *runner) readReport(tool, rel string, runErr error, v any) error {
	raw, err := os.ReadFile(filepath.Join(r.Dir, rel))
	if err != nil {
		return fmt.Errorf("%s: %v (%v)", tool, runErr, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s json: %v", tool, err)
	}
	return nil
}
