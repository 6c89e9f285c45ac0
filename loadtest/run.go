package loadtest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/loadtest/stats"
	"github.com/wsgate/wsgate/loadtest/wsclient"
)

// Progress receives one stats.Point per second while a run goes on.
type Progress func(p stats.Point, server *stats.ProcSample)

// Barrier waits until every worker of a multi-process run is ready (it is
// nil in a single-process run).
type Barrier func(ctx context.Context) error

// env is what a scenario works with.
type env struct {
	cfg     *Config
	rec     *stats.Recorder
	cl      *wsclient.Client
	targets []*wsclient.Target
	barrier Barrier
	plain   *plainSet
	sending atomic.Bool // scenario is in its measuring phase
	mStart  time.Time   // measuring phase start; owned by the scenario goroutine
	mEnd    time.Time
	drained time.Time // when the drain after the measuring phase ended
}

// startMeasure begins the measuring phase (sending, or holding).
func (e *env) startMeasure() {
	e.mStart = time.Now()
	e.sending.Store(true)
}

// stopMeasure ends the measuring phase.
func (e *env) stopMeasure() {
	e.sending.Store(false)
	if !e.mStart.IsZero() && e.mEnd.IsZero() {
		e.mEnd = time.Now()
	}
}

// Run executes cfg's scenario until it ends or ctx is cancelled (Ctrl-C),
// and returns what was measured so far in either case.
func Run(ctx context.Context, cfg *Config, prog Progress, barrier Barrier) (*stats.Snapshot, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, rec: stats.NewRecorder(), barrier: barrier}
	path := cfg.Path
	if cfg.Scenario == "broadcast" && path == "" {
		path = "/room/" + cfg.Room
	}
	if strings.HasPrefix(cfg.Scenario, "stomp-") && path == "" {
		path = "/stomp"
	}
	for _, u := range cfg.Targets {
		t, err := wsclient.ParseTarget(u, path)
		if err != nil {
			return nil, err
		}
		e.targets = append(e.targets, t)
	}
	e.sockjsTargets()
	cl, err := wsclient.New(wsclient.Options{
		DialTimeout: cfg.DialTimeout, HandshakeTimeout: cfg.HandshakeTimeout,
		Deflate: cfg.Deflate, SourceIPs: cfg.ipShare(), CAFile: cfg.CAFile, Insecure: cfg.Insecure,
	}, e.rec)
	if err != nil {
		return nil, err
	}
	e.cl = cl
	e.plain = &plainSet{e: e}
	stopTick := e.startTicker(prog)
	var runErr error
	switch cfg.Scenario {
	case "connect":
		runErr = runConnect(ctx, e)
	case "echo":
		runErr = runEcho(ctx, e)
	case "broadcast":
		runErr = runBroadcast(ctx, e)
	case "churn":
		runErr = runChurn(ctx, e)
	case "stomp-connect":
		runErr = runStompConnect(ctx, e)
	case "stomp-broadcast":
		runErr = runStompBroadcast(ctx, e)
	case "stomp-echo":
		runErr = runStompEcho(ctx, e)
	}
	e.stopMeasure()
	e.plain.finish()
	cl.Close(500 * time.Millisecond)
	server := stopTick()
	snap := e.rec.Snapshot(cfg.Scenario)
	snap.Targets = cfg.Targets
	snap.Version = Version()
	snap.Measured = e.mEnd.Sub(e.mStart).Seconds()
	if !e.mStart.IsZero() {
		snap.MeasureStart = e.mStart.Sub(e.rec.Start()).Seconds()
	}
	if !e.drained.IsZero() {
		snap.DrainEnd = e.drained.Sub(e.rec.Start()).Seconds()
	}
	snap.Server = server
	snap.Config = configMap(cfg)
	snap.Finalize()
	return snap, runErr
}

// startTicker records a stats.Point every second and samples the server process;
// the returned function stops it and returns the server samples.
func (e *env) startTicker(prog Progress) func() []stats.ProcSample {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var ps *stats.ProcSampler
	if e.cfg.ServerPID > 0 {
		ps = stats.NewProcSampler(e.cfg.ServerPID)
		ps.Sample(0)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			p := e.rec.Tick()
			var sp *stats.ProcSample
			if ps != nil {
				if s, ok := ps.Sample(p.Second); ok {
					sp = &s
				}
			}
			if prog != nil {
				prog(p, sp)
			}
		}
	}()
	return func() []stats.ProcSample {
		close(done)
		wg.Wait()
		if ps == nil {
			return nil
		}
		return ps.Samples()
	}
}

// role of connection i of n given the slow and stalled fractions: the
// fractions are spread evenly over the index range.
const (
	roleNormal = iota
	roleSlow
	roleStalled
)

func (e *env) role(i int) int {
	step := func(k int, frac float64) bool { return int(float64(k+1)*frac) > int(float64(k)*frac) }
	st, sl := e.cfg.StalledFraction, e.cfg.SlowFraction
	special := st + sl
	if special == 0 || !step(i, special) {
		return roleNormal
	}
	// The k-th special connection is stalled or slow in proportion.
	if k := int(float64(i) * special); step(k, st/special) {
		return roleStalled
	}
	return roleSlow
}

// target returns the target of connection i.
func (e *env) target(i int) *wsclient.Target { return e.targets[i%len(e.targets)] }

// globalID numbers connection i of this worker uniquely across workers.
func (e *env) globalID(i int) uint32 { return uint32(i*e.cfg.Workers + e.cfg.WorkerIndex) }

// ramp opens n connections at cfg.ConnRate (this worker's share), calling
// dial(i) for each; it returns early when ctx ends.
func (e *env) ramp(ctx context.Context, n int, dial func(i int)) {
	rate := e.cfg.ConnRate / float64(e.cfg.Workers)
	start := time.Now()
	for i := 0; i < n; i++ {
		if ctx.Err() != nil {
			return
		}
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			if !sleepCtx(ctx, d) {
				return
			}
		}
		dial(i)
	}
}

// dialRole dials connection i according to its role; ev receives normal
// connections.
func (e *env) dialRole(i int, t *wsclient.Target, ev wsclient.Events, tag uint32) {
	switch e.role(i) {
	case roleSlow:
		e.plain.start(t, true)
	case roleStalled:
		e.plain.start(t, false)
	default:
		_, _ = e.cl.Dial(t, ev, e.globalID(i), tag)
	}
}

// waitOpen waits until every dial of the ramp has finished (opened or
// failed) or the handshake timeout passes, whichever is first.
func (e *env) waitOpen(ctx context.Context, expected int64) {
	deadline := time.Now().Add(e.cfg.DialTimeout + e.cfg.HandshakeTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c := e.rec.C.Connected.Load() + e.rec.C.ConnectFailed.Load()
		if c >= expected {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func configMap(c *Config) map[string]any {
	m := map[string]any{
		"scenario": c.Scenario, "conns": c.Conns, "conn_rate": c.ConnRate,
		"duration": c.Duration.String(), "deflate": c.Deflate, "workers": c.Workers,
		"slow_fraction": c.SlowFraction, "stalled_fraction": c.StalledFraction,
		"source_ips": len(c.SourceIPs),
	}
	if strings.HasPrefix(c.Scenario, "stomp-") {
		m["own_sub_ids"] = c.OwnSubIDs
	}
	if c.Transport != "" {
		m["transport"] = c.Transport
	}
	switch c.Scenario {
	case "echo", "stomp-echo":
		m["inflight"], m["msg_rate"], m["size"], m["binary"] = c.InFlight, c.MsgRate, c.Size, c.Binary
	case "broadcast", "stomp-broadcast":
		m["room"], m["publishers"], m["pub_rate"], m["size"] = c.Room, c.Publishers, c.PubRate, c.Size
		m["publish_url"] = c.PublishURL
	case "stomp-connect":
		m["room"] = c.Room
	case "churn":
		m["lifetime"], m["backoff_base"], m["backoff_max"] = c.Lifetime.String(), c.BackoffBase.String(), c.BackoffMax.String()
		m["abrupt_fraction"] = c.AbruptFraction
	}
	return m
}
