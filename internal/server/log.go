package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// logLimiter lets through at most burst Info-level lines per second for
// one kind of event, so a flood of bad handshakes cannot flood the log.
// Lines over the limit are counted and reported with the next line that
// passes. Debug-level logging sees every event.
type logLimiter struct {
	second     atomic.Int64
	n          atomic.Int64
	suppressed atomic.Int64
	burst      int64
}

func (l *logLimiter) allow() (ok bool, suppressed int64) {
	now := time.Now().Unix()
	if sec := l.second.Load(); sec != now && l.second.CompareAndSwap(sec, now) {
		l.n.Store(0)
	}
	if l.n.Add(1) > l.burst {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}

func (s *Server) logReject(c *conn, status int, err error) {
	ctx := context.Background()
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("handshake rejected", "status", status, "reason", rejectionText(err), "remote", c.RemoteAddr().String())
		return
	}
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	if ok, dropped := s.rejectLog.allow(); ok {
		s.log.Info("handshake rejected", "status", status, "reason", rejectionText(err),
			"remote", c.RemoteAddr().String(), "suppressed_since_last", dropped)
	}
}
