package server

import (
	"context"
	"log/slog"

	"github.com/wsgate/wsgate/internal/upgrade"
)

func (s *Server) logReject(c *conn, status int, err error) {
	ctx := context.Background()
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("handshake rejected", "status", status, "reason", upgrade.RefusalText(err), "remote", c.RemoteAddr().String())
		return
	}
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	if ok, dropped := s.rejectLog.Allow(); ok {
		s.log.Info("handshake rejected", "status", status, "reason", upgrade.RefusalText(err),
			"remote", c.RemoteAddr().String(), "suppressed_since_last", dropped)
	}
}
