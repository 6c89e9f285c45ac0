package main

import (
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/bench/internal/procmem"
)

// runResult is one server's run.
type runResult struct {
	Server string `json:"server"`
	Round  int    `json:"round"`
	Conns  int    `json:"conns"`
	// Before is the last baseline sample (after the warm-up connection
	// closed); After the last sample with every connection open and idle.
	Before procmem.Mem `json:"before"`
	After  procmem.Mem `json:"after"`
	// Half is the last sample with the first half of the connections open.
	Half procmem.Mem `json:"half"`
	// Samples are all the samples after connecting, oldest first.
	Samples []procmem.Mem `json:"samples_after"`
	// RSSPerConn, AnonPerConn and PSSPerConn are (After - Before) / Conns
	// of VmRSS, RssAnon and Pss, in bytes.
	RSSPerConn  float64 `json:"rss_per_conn"`
	AnonPerConn float64 `json:"anon_per_conn"`
	PSSPerConn  float64 `json:"pss_per_conn"`
	// MarginalPerConn is (After - Half) / (second half's count) of VmRSS:
	// what the second half cost, with fixed first-use costs (code pages,
	// queues, tables) mostly paid by the first half.
	MarginalPerConn float64 `json:"rss_marginal_per_conn"`
	// HeapBefore and HeapAfter are the server's heap figures after a
	// runtime.GC: the floor's stats hook; wsgate's admin listener (pprof's
	// heap?gc=1, then /metrics; HeapInuse only).
	HeapBefore *floorHeap `json:"heap_before,omitempty"`
	HeapAfter  *floorHeap `json:"heap_after,omitempty"`
	// HeapPerConn is (HeapInuse after - before) / Conns.
	HeapPerConn float64 `json:"heap_inuse_per_conn,omitempty"`
	// ConnectSeconds is how long opening every connection took.
	ConnectSeconds float64 `json:"connect_seconds"`
}

// measureOne runs one server through warm-up, baseline, connect, idle and
// sample, and stops it.
func measureOne(o *options, bins *binaries, kind string, round int, echo *echoState) (*runResult, error) {
	gogc := gogcString(o.gogc)
	var p *proc
	var err error
	if kind == kindFloor {
		p, err = startFloor(bins, gogc)
	} else {
		p, err = startWSGate(bins, gogc, o.extra, kind == kindDeflate)
	}
	if err != nil {
		return nil, err
	}
	defer p.stop()

	ex, err := warmUp(p, o, echo)
	if err != nil {
		return nil, err
	}
	res := &runResult{Server: kind, Round: round, Conns: o.conns}
	// Read the heap figures once before the baseline, for both servers
	// alike: the code and buffers the reading touches are then resident in
	// both samples, and each server starts from a collected heap.
	if _, err := p.heapStats(); err != nil {
		return nil, err
	}
	time.Sleep(o.settle)
	if res.Before, _, err = sample(p, o); err != nil {
		return nil, err
	}
	if res.HeapBefore, err = p.heapStats(); err != nil {
		return nil, err
	}

	conns, err := connect(p, o, ex, res)
	defer closeAll(conns)
	if err != nil {
		return nil, err
	}
	if res.HeapAfter, err = p.heapStats(); err != nil {
		return nil, err
	}
	if res.HeapAfter != nil && res.HeapAfter.Conns != int64(o.conns) {
		return nil, fmt.Errorf("%s reports %d open connections, want %d", kind, res.HeapAfter.Conns, o.conns)
	}
	if res.HeapBefore != nil && res.HeapAfter != nil {
		res.HeapPerConn = float64(int64(res.HeapAfter.HeapInuse)-int64(res.HeapBefore.HeapInuse)) / float64(o.conns)
	}
	if err := stillOpen(conns); err != nil {
		return nil, err
	}
	n := float64(o.conns)
	res.RSSPerConn = float64(res.After.RSS-res.Before.RSS) / n
	res.AnonPerConn = float64(res.After.RSSAnon-res.Before.RSSAnon) / n
	res.PSSPerConn = float64(res.After.PSS-res.Before.PSS) / n
	half := float64(o.conns - o.conns/2)
	res.MarginalPerConn = float64(res.After.RSS-res.Half.RSS) / half
	return res, nil
}

// connect opens the connections in two halves, sampling memory after each
// (the first half's sample feeds the marginal figure), and returns them all.
func connect(p *proc, o *options, ex exchange, res *runResult) ([]net.Conn, error) {
	t0 := time.Now()
	var all []net.Conn
	for i, n := range []int{o.conns / 2, o.conns - o.conns/2} {
		conns, err := dialAll(dialPlan{addr: p.addr, n: n, first: len(all), sources: o.sources,
			workers: o.workers, timeout: 10 * time.Second, ex: ex})
		if err != nil {
			return all, fmt.Errorf("opening %d connections: %w (server stderr: %s)", o.conns, err, p.stderr)
		}
		all = append(all, conns...)
		if i == 0 {
			res.ConnectSeconds = time.Since(t0).Seconds()
			time.Sleep(o.idle)
			if res.Half, _, err = sample(p, o); err != nil {
				return all, err
			}
			t0 = time.Now()
		}
	}
	res.ConnectSeconds += time.Since(t0).Seconds()
	time.Sleep(o.idle)
	var err error
	res.After, res.Samples, err = sample(p, o)
	return all, err
}

// warmUp opens, exercises and closes one connection, so lazily built
// server state (pools, the accept path, the handshake objects) is in the
// baseline. For wsgate it also finds out, once, whether echo works, and
// returns the exchange every connection of this run will do.
func warmUp(p *proc, o *options, echo *echoState) (exchange, error) {
	plan := dialPlan{addr: p.addr, n: 1, sources: o.sources, workers: 1, timeout: 5 * time.Second}
	if p.kind == kindFloor {
		plan.ex = tcpExchange
	} else {
		useEcho := echo.want && (!echo.checked || echo.works)
		if p.kind == kindDeflate {
			plan.ex = wsDeflateExchange(p.addr, "/echo")
			c, err := dialOne(plan, 0)
			if err != nil {
				return nil, fmt.Errorf("warm-up connection with permessage-deflate: %w (server stderr: %s)", err, p.stderr)
			}
			abort(c)
			return plan.ex, nil
		}
		plan.ex = wsExchange(p.addr, "/echo", useEcho)
		c, err := dialOne(plan, 0)
		if err != nil && useEcho && !echo.checked {
			echo.checked, echo.works, echo.reason = true, false, err.Error()
			plan.ex = wsExchange(p.addr, "/echo", false)
			c, err = dialOne(plan, 0)
		} else if useEcho {
			echo.checked, echo.works = true, err == nil
		}
		if err != nil {
			return nil, fmt.Errorf("warm-up connection: %w (server stderr: %s)", err, p.stderr)
		}
		abort(c)
		return plan.ex, nil
	}
	c, err := dialOne(plan, 0)
	if err != nil {
		return nil, fmt.Errorf("warm-up connection: %w", err)
	}
	abort(c)
	return plan.ex, nil
}

// sample takes o.samples memory samples o.interval apart and returns the
// last and all of them; it fails if the server has exited.
func sample(p *proc, o *options) (procmem.Mem, []procmem.Mem, error) {
	var all []procmem.Mem
	for i := 0; i < o.samples; i++ {
		if i > 0 {
			time.Sleep(o.interval)
		}
		if !p.alive() {
			return procmem.Mem{}, nil, fmt.Errorf("%s exited (stderr: %s)", p.kind, p.stderr)
		}
		m, err := procmem.Read(p.pid())
		if err != nil {
			return procmem.Mem{}, nil, fmt.Errorf("reading %s's memory: %w", p.kind, err)
		}
		all = append(all, m)
	}
	return all[len(all)-1], all, nil
}

// stillOpen checks, without blocking, that the server has closed none of
// the connections and sent nothing on them: a non-blocking MSG_PEEK must
// find no data (EAGAIN) on every socket.
func stillOpen(conns []net.Conn) error {
	closed, sent := 0, 0
	var one [1]byte
	for _, c := range conns {
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return err
		}
		var n int
		var rerr error
		if err := rc.Control(func(fd uintptr) {
			n, _, rerr = syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		}); err != nil {
			return err
		}
		switch {
		case rerr == syscall.EAGAIN:
		case rerr == nil && n > 0:
			sent++
		default:
			closed++ // n == 0: EOF; or a reset
		}
	}
	if closed > 0 || sent > 0 {
		return fmt.Errorf("of %d idle connections the server closed %d and sent unexpected bytes on %d", len(conns), closed, sent)
	}
	return nil
}
