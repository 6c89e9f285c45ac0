package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// node is one wsgate process of a phase.
type node struct {
	p     *proc
	ws    string // host:port of its WebSocket listener
	admin string // http://host:port
}

// cluster is one phase's processes: nats-server and the wsgate nodes.
type cluster struct {
	ps    *procs
	nats  *proc
	nodes []node
}

// startCluster starts nats-server and n wsgate nodes on it: sharing one
// port with -reuseport when shared, else each on its own port.
func (b *bench) startCluster(name string, n int, shared bool) (*cluster, error) {
	c := &cluster{ps: &procs{dir: b.dir}}
	np, err := freePort()
	if err != nil {
		return c, err
	}
	natsAddr := fmt.Sprintf("127.0.0.1:%d", np)
	if c.nats, err = c.ps.start(name+"-nats", b.natsBin, "-a", "127.0.0.1", "-p", strconv.Itoa(np)); err != nil {
		return c, err
	}
	if err := waitTCP(natsAddr, c.nats, 30*time.Second); err != nil {
		return c, err
	}
	sharedPort, _ := freePort()
	for i := range n {
		port := sharedPort
		if !shared {
			if port, err = freePort(); err != nil {
				return c, err
			}
		}
		ap, err := freePort()
		if err != nil {
			return c, err
		}
		nd := node{ws: fmt.Sprintf("127.0.0.1:%d", port), admin: fmt.Sprintf("http://127.0.0.1:%d", ap)}
		args := []string{"-listen", nd.ws, "-admin", fmt.Sprintf("127.0.0.1:%d", ap), "-nats", "nats://" + natsAddr,
			"-node-name", fmt.Sprintf("%s%d", name, i), "-anonymous", "-no-limits", "-ping-interval", "0", "-idle-timeout", "0",
			"-log-level", "warn", "-cluster-timeout", "10s", "-handshake-timeout", b.o.hsTimeout.String()}
		if shared {
			args = append(args, "-reuseport")
		}
		if nd.p, err = c.ps.start(fmt.Sprintf("%s-wsgate%d", name, i), b.wsgate, args...); err != nil {
			return c, err
		}
		if err := waitTCP(strings.TrimPrefix(nd.admin, "http://"), nd.p, 30*time.Second); err != nil {
			return c, err
		}
		c.nodes = append(c.nodes, nd)
	}
	for _, nd := range c.nodes {
		if err := waitReady(nd, 30*time.Second); err != nil {
			return c, err
		}
	}
	return c, nil
}

// waitReady waits until a node's /readyz says ready and not degraded (it
// reached NATS).
func waitReady(nd node, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := httpc.Get(nd.admin + "/readyz")
		if err == nil {
			var buf [64]byte
			n, _ := resp.Body.Read(buf[:])
			resp.Body.Close()
			if resp.StatusCode == 200 && string(buf[:n]) == "ready\n" {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready (connected to NATS) after %v", nd.p.name, d)
}

// sample is one second's reading of every process of a phase.
type sample struct {
	At    time.Time
	CPU   []float64 // per node, then nats-server last
	RSS   []int64   // the same
	Open  int64     // connections open over every node
	Sock  sockstat
	Nodes []nodeStats
}

// sampler reads the cluster once a second until stopped.
type sampler struct {
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
	done    chan struct{}
}

func (c *cluster) sample() sample {
	s := sample{At: time.Now(), Sock: readSockstat()}
	for _, nd := range c.nodes {
		s.CPU = append(s.CPU, cpuSeconds(nd.p.pid()))
		s.RSS = append(s.RSS, rss(nd.p.pid()))
		var st nodeStats
		_ = getJSON(nd.admin+"/api/stats", &st)
		s.Open += st.Open
		s.Nodes = append(s.Nodes, st)
	}
	s.CPU = append(s.CPU, cpuSeconds(c.nats.pid()))
	s.RSS = append(s.RSS, rss(c.nats.pid()))
	return s
}

func (c *cluster) startSampler() *sampler {
	sm := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sm.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			s := c.sample()
			sm.mu.Lock()
			sm.samples = append(sm.samples, s)
			sm.mu.Unlock()
			select {
			case <-sm.stop:
				return
			case <-t.C:
			}
		}
	}()
	return sm
}

// finish stops the sampler and takes a last sample.
func (sm *sampler) finish(c *cluster) []sample {
	close(sm.stop)
	<-sm.done
	return append(sm.samples, c.sample())
}

// runWsload runs one wsload broadcast and returns its JSON summary.
func (b *bench) runWsload(ctx context.Context, name string, args []string, bound time.Duration) (*snapshot, error) {
	out := filepath.Join(b.dir, name+"-wsload.json")
	args = append(args, "--json", out, "--quiet", "--allow-incomplete")
	ps := &procs{dir: b.dir}
	defer ps.stopAll(10 * time.Second)
	p, err := ps.start(name+"-wsload", b.wsload, args...)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b.log, "scale: %s: wsload %s\n", name, strings.Join(args, " "))
	select {
	case <-p.done:
	case <-time.After(bound):
		return nil, fmt.Errorf("scale: %s: wsload still running after %v; stopped", name, bound)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("scale: %s: wsload wrote no summary (see %s-wsload.log): %w", name, name, err)
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, err
	}
	return &snap, nil
}

// sourceRange is the --source-ips value for n addresses from 127.0.0.2.
func sourceRange(n int) string { return fmt.Sprintf("127.0.0.2-127.0.0.%d", 1+n) }

// compare runs the fan-out of the compare phase on n nodes (1 or 3).
func (b *bench) compare(ctx context.Context, n int) (*result, error) {
	o := b.o
	name := fmt.Sprintf("compare%d", n)
	fmt.Fprintf(b.log, "scale: %s: %d subscribers on %d node(s), %.0f msgs/s for %v\n", name, o.cmpConns, n, o.cmpRate, o.cmpDuration)
	c, err := b.startCluster(name, 3, false)
	defer c.ps.stopAll(30 * time.Second)
	if err != nil {
		return nil, err
	}
	args := []string{"broadcast", "--conns", strconv.Itoa(o.cmpConns), "--rate", "5000", "--publishers", "1",
		"--pub-rate", fmt.Sprint(o.cmpRate), "--duration", o.cmpDuration.String(), "--drain", "30s", "--size", strconv.Itoa(o.size),
		"--room", name, "--source-ips", sourceRange(min(o.sources, 4)), "--dial-timeout", "30s", "--handshake-timeout", "30s"}
	for _, nd := range c.nodes[:n] {
		args = append(args, "ws://"+nd.ws)
	}
	r := &result{Name: name, Nodes: n, Conns: o.cmpConns, Load: loadavg()}
	sm := c.startSampler()
	snap, err := b.runWsload(ctx, name, args, o.cmpDuration+3*time.Minute)
	samples := sm.finish(c)
	if err != nil {
		return r, err
	}
	r.fill(snap, samples, c)
	return r, nil
}

// scale runs the scale phase.
func (b *bench) scale(ctx context.Context) (*result, error) {
	o := b.o
	fmt.Fprintf(b.log, "scale: %d connections on %d nodes sharing one port, wsload in %d processes from %d addresses\n", o.conns, o.nodes, o.procs, o.sources)
	c, err := b.startCluster("scale", o.nodes, true)
	defer c.ps.stopAll(60 * time.Second)
	if err != nil {
		return nil, err
	}
	r := &result{Name: "scale", Nodes: o.nodes, Conns: o.conns, Load: loadavg(), SockBefore: readSockstat()}
	dur := time.Duration(o.msgs) * o.interval
	args := []string{"broadcast", "--conns", strconv.Itoa(o.conns), "--procs", strconv.Itoa(o.procs),
		"--source-ips", sourceRange(o.sources), "--rate", fmt.Sprint(o.rate), "--publishers", "1",
		"--pub-rate", strconv.FormatFloat(1/o.interval.Seconds(), 'f', -1, 64),
		"--duration", dur.String(), "--drain", "60s", "--size", strconv.Itoa(o.size), "--room", "all",
		"--dial-timeout", "60s", "--handshake-timeout", "60s", "ws://" + c.nodes[0].ws}
	ramp := time.Duration(float64(o.conns)/o.rate*float64(time.Second)) + 2*time.Minute
	sm := c.startSampler()
	snap, err := b.runWsload(ctx, "scale", args, ramp+dur+3*time.Minute)
	samples := sm.finish(c)
	if err != nil {
		return r, err
	}
	r.fill(snap, samples, c)
	return r, nil
}
