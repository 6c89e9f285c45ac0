package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
)

// A --procs run re-executes the program as N workers, each with a share of
// the connections, rates, publishers and source addresses. Workers write
// JSON lines to stdout (workerMsg) and read control lines on stdin:
// "go" releases the barrier, "stop" (or EOF) ends the run early. The parent
// merges the per-second points and the final snapshots (histograms merge
// losslessly from their HdrHistogram encodings).

// workerMsg is one line a worker writes.
type workerMsg struct {
	Type  string          `json:"type"` // "tick", "ready", "final"
	Point *stats.Point    `json:"point,omitempty"`
	Snap  *stats.Snapshot `json:"snapshot,omitempty"`
	Error string          `json:"error,omitempty"`
}

// ErrWorker reports a worker that exited without a final snapshot.
var ErrWorker = errors.New("loadtest: worker process failed")

func runWorker(ctx context.Context, cfg *Config, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	enc := json.NewEncoder(stdout)
	send := func(m workerMsg) {
		mu.Lock()
		_ = enc.Encode(m)
		mu.Unlock()
	}
	goCh := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdin)
		released := false
		for sc.Scan() {
			if sc.Text() == "go" && !released {
				released = true
				close(goCh)
				continue
			}
			if sc.Text() == "stop" {
				break
			}
		}
		cancel()
	}()
	barrier := func(ctx context.Context) error {
		send(workerMsg{Type: "ready"})
		select {
		case <-goCh:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	snap, err := Run(ctx, cfg, func(p stats.Point, _ *stats.ProcSample) { send(workerMsg{Type: "tick", Point: &p}) }, barrier)
	m := workerMsg{Type: "final", Snap: snap}
	if err != nil {
		m.Error = err.Error()
	}
	send(m)
	if snap == nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	return ExitOK
}

// worker is the parent's handle on one worker process.
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	final *stats.Snapshot
	err   string
}

// RunProcs runs args as procs worker processes of exe (the running program
// when exe is ""), merging their results. It returns the merged snapshot.
func RunProcs(ctx context.Context, args []string, procs int, cfg *Config, prog Progress, stderr io.Writer) (*stats.Snapshot, error) {
	snap, _, err := runProcs(ctx, "", args, procs, cfg, prog, stderr)
	return snap, err
}

// runProcs is RunProcs that also returns each worker's own snapshot.
func runProcs(ctx context.Context, exe string, args []string, procs int, cfg *Config, prog Progress, stderr io.Writer) (*stats.Snapshot, []*stats.Snapshot, error) {
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, nil, err
		}
	}
	ws := make([]*worker, procs)
	ticks := newTickMerger(procs)
	var wg sync.WaitGroup
	ready := make(chan struct{}, procs)
	for i := range ws {
		wargs := append(append([]string{}, args...), "--worker", "--quiet", "--procs", "1",
			"--workers", strconv.Itoa(procs), "--worker-index", strconv.Itoa(i),
			"--server-pid", "0", "--json", "", "--report", "")
		cmd := exec.Command(exe, wargs...)
		cmd.Env = append(os.Environ(), "WSLOAD_WORKER=1")
		cmd.Stderr = stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, err
		}
		w := &worker{cmd: cmd, stdin: stdin}
		ws[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.read(stdout, ticks, ready)
			_ = cmd.Wait()
		}()
	}
	var ps *stats.ProcSampler
	if cfg.ServerPID > 0 {
		ps = stats.NewProcSampler(cfg.ServerPID)
		ps.Sample(0)
	}
	stopCtl := make(chan struct{})
	go controlWorkers(ctx, ws, ready, stopCtl)
	go ticks.emit(prog, ps, stopCtl)
	wg.Wait()
	close(stopCtl)
	merged := &stats.Snapshot{Scenario: cfg.Scenario, Targets: cfg.Targets, Config: configMap(cfg)}
	var parts []*stats.Snapshot
	var errs []error
	for i, w := range ws {
		if w.final == nil {
			errs = append(errs, fmt.Errorf("%w: worker %d", ErrWorker, i))
			continue
		}
		if w.err != "" && !errors.Is(ctx.Err(), context.Canceled) {
			errs = append(errs, fmt.Errorf("worker %d: %s", i, w.err))
		}
		parts = append(parts, w.final)
		merged.Merge(w.final)
	}
	if ps != nil {
		merged.Server = ps.Samples()
	}
	merged.Config["workers"] = procs
	if len(parts) == 0 {
		return nil, nil, errors.Join(errs...)
	}
	return merged, parts, errors.Join(errs...)
}

// controlWorkers releases the barrier once every worker is ready, and
// tells the workers to stop when ctx ends.
func controlWorkers(ctx context.Context, ws []*worker, ready chan struct{}, done chan struct{}) {
	n := 0
	for n < len(ws) {
		select {
		case <-ready:
			n++
			continue
		case <-ctx.Done():
		case <-done:
		}
		break
	}
	if n == len(ws) {
		for _, w := range ws {
			_, _ = io.WriteString(w.stdin, "go\n")
		}
	}
	select {
	case <-ctx.Done():
		for _, w := range ws {
			_, _ = io.WriteString(w.stdin, "stop\n")
		}
	case <-done:
	}
}

func (w *worker) read(r io.Reader, ticks *tickMerger, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var m workerMsg
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		switch m.Type {
		case "tick":
			if m.Point != nil {
				ticks.add(m.Point)
			}
		case "ready":
			ready <- struct{}{}
		case "final":
			w.final, w.err = m.Snap, m.Error
		}
	}
	_ = w.stdin.Close()
}

// tickMerger merges the workers' per-second points for the live progress.
type tickMerger struct {
	mu      sync.Mutex
	n       int
	pending map[int]*tickAgg
	ready   chan stats.Point
}

type tickAgg struct {
	count int
	p     stats.Point
}

func newTickMerger(n int) *tickMerger {
	return &tickMerger{n: n, pending: map[int]*tickAgg{}, ready: make(chan stats.Point, 64)}
}

func (t *tickMerger) add(p *stats.Point) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.pending[p.Second]
	if a == nil {
		a = &tickAgg{p: stats.Point{Second: p.Second}}
		t.pending[p.Second] = a
	}
	a.count++
	a.p.Add(p)
	if a.count == t.n {
		delete(t.pending, p.Second)
		select {
		case t.ready <- a.p:
		default:
		}
	}
}

func (t *tickMerger) emit(prog Progress, ps *stats.ProcSampler, done chan struct{}) {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	var last *stats.ProcSample
	sec := 0
	for {
		select {
		case <-done:
			return
		case <-tk.C:
			sec++
			if ps != nil {
				if s, ok := ps.Sample(sec); ok {
					last = &s
				}
			}
		case p := <-t.ready:
			if prog != nil {
				prog(p, last)
			}
		}
	}
}
