package server

import (
	"errors"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/poller"
)

// pendingCap is a pending-handshake cap as the engine takes it: off with
// NoLimits.
func pendingCap(cfg config.Config, n int) int {
	if cfg.NoLimits {
		return 0
	}
	return n
}

// handshakeClosed records why a connection closed by the engine before
// its handshake was done.
func (c *conn) handshakeClosed(err error) {
	s := c.srv()
	switch {
	case errors.Is(err, poller.ErrTLSHandshakeTimeout):
		// The poller closed it before our timer ran: still a handshake timeout.
		c.setReason(reasonHandshakeTimeout)
		s.m.Handshakes[hsTimeout].Inc()
	case errors.Is(err, poller.ErrHandshakeShed):
		c.setReason(reasonHandshakeShed)
		s.m.Handshakes[hsShed].Inc()
	}
}

// acceptBurst tracks a run of failed accepts (out of descriptors, in
// practice), so the log gets one line when it begins and one with its
// count when it is over, however long it lasts and however often single
// accepts succeed in between (descriptors freed one at a time are taken
// at once). A burst is over at the first accept after a second without a
// failure.
type acceptBurst struct {
	fails atomic.Int64 // failed accepts in the current burst
	last  atomic.Int64 // time of the last failure, Unix nanoseconds
	first atomic.Value // errno name of the burst's first failure (string)
}

// acceptQuiet is how long accepts must not fail for a burst to be over.
const acceptQuiet = time.Second

// onAcceptError is the engine's OnAcceptError: every failure is counted
// by errno; the first of a burst is logged.
func (s *Server) onAcceptError(err error) {
	i, name := metrics.ErrnoOther, "other"
	switch {
	case errors.Is(err, syscall.EMFILE):
		i, name = metrics.ErrnoEMFILE, "EMFILE"
	case errors.Is(err, syscall.ENFILE):
		i, name = metrics.ErrnoENFILE, "ENFILE"
	}
	s.m.AcceptErrors[i].Inc()
	b := &s.acceptFails
	b.last.Store(time.Now().UnixNano())
	if b.fails.Add(1) == 1 {
		b.first.Store(name)
		s.log.Error("accept failing; new connections wait in the listen queue until it succeeds again",
			"errno", name, "err", err.Error())
	}
}

// acceptResumed is called for every accepted connection: after a quiet
// second it ends a burst of failed accepts, logging how many there were.
func (s *Server) acceptResumed() {
	b := &s.acceptFails
	if b.fails.Load() == 0 || time.Now().UnixNano()-b.last.Load() < int64(acceptQuiet) {
		return
	}
	if n := b.fails.Swap(0); n > 0 {
		name, _ := b.first.Load().(string)
		s.log.Warn("accept failures over", "failed_accepts", n, "errno", name)
	}
}
