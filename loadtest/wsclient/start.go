package wsclient

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
)

// startProbe is the session of a socket pair whose first byte, served by
// an event loop, shows that the loop's goroutine is running.
type startProbe struct {
	once sync.Once
	seen chan struct{}
}

// probeWait bounds the wait for a loop to serve its probe: generous, for
// a machine that is very busy.
const probeWait = time.Minute

var errProbe = errors.New("wsclient: an event loop did not start")

// waitLoops returns once every one of the engine's n event loops has
// served a byte. nbio clears a loop's stop flag when the loop's goroutine
// begins; a Stop that comes before that is lost, and Stop then waits
// forever on a loop spinning on its wake-up. A client closed right after
// it was made (a short test, a run that fails at once) must not hang.
func (cl *Client) waitLoops(n int) error {
	type probe struct {
		peer int
		p    *startProbe
	}
	var probes []probe
	// What to close at the end: every probe's connection and descriptor,
	// used or not (unused ones stay open meanwhile to move the numbers on).
	var conns []*nbio.Conn
	var fds []int
	defer func() {
		for _, nc := range conns {
			_ = nc.Close()
		}
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	covered := make(map[int]bool, n)
	for try := 0; len(covered) < n && try < 4*n+8; try++ {
		pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(pair[0]), "wsload-probe")
		fc, err := net.FileConn(f) // a descriptor of its own
		f.Close()
		if err != nil {
			syscall.Close(pair[1])
			return err
		}
		nc, err := nbio.NBConn(fc) // another; fc is closed
		if err != nil {
			syscall.Close(pair[1])
			return err
		}
		conns, fds = append(conns, nc), append(fds, pair[1])
		loop := nc.Hash() % n // how nbio places a connection
		if covered[loop] {
			// Kept open until the end, with try more descriptors, so
			// that the next pair's numbers fall on other loops.
			for range try + 1 {
				if d, err := syscall.Dup(pair[1]); err == nil {
					fds = append(fds, d)
				}
			}
			continue
		}
		p := &startProbe{seen: make(chan struct{})}
		nc.SetSession(p)
		if _, err := cl.nb.AddConn(nc); err != nil {
			return err
		}
		covered[loop] = true
		probes = append(probes, probe{peer: pair[1], p: p})
	}
	if len(covered) < n {
		return errProbe
	}
	for _, pr := range probes {
		if _, err := syscall.Write(pr.peer, []byte{1}); err != nil {
			return err
		}
	}
	t := time.NewTimer(probeWait)
	defer t.Stop()
	for _, pr := range probes {
		select {
		case <-pr.p.seen:
		case <-t.C:
			return errProbe
		}
	}
	return nil
}

// probed serves a start probe's byte; it reports whether nc was a probe.
func probed(nc *nbio.Conn) bool {
	p, ok := nc.Session().(*startProbe)
	if ok {
		p.once.Do(func() { close(p.seen) })
	}
	return ok
}
