package server

import (
	"context"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/poller"
)

// Draining reports whether a graceful shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Shutdown drains the server gracefully. Readiness turns false and the
// listener stops accepting; every fan-out job already accepted is
// delivered to its members' queues; then open connections are closed in batches
// of DrainBatch, DrainInterval apart, so clients do not all reconnect at
// once. Each connection's close frame (1001, or 1012 with Restart) is
// queued behind the messages already queued for it, so they are delivered
// first. Shutdown returns when every connection has closed, or drops the
// rest when ctx ends or DrainTimeout passes, and then stops the server.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.eng.StopAccepting()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DrainTimeout)
	defer cancel()

	undelivered, unsent := s.m.Undelivered.Get(), s.eng.Unsent()
	// Every fan-out job accepted until now (admin API, /room, /ws) reaches
	// its members' queues before anyone is closed; each close frame then
	// goes behind what is queued for its connection. An admin publish that
	// found the server not yet draining is accepted: wait until it is
	// queued, so the fence goes behind it.
	for s.submitting.Load() != 0 && sleepCtx(ctx, time.Millisecond) {
	}
	if err := s.pool.Fence(ctx); err != nil {
		s.log.Warn("drain: fan-out backlog not delivered in time", "pending_jobs", s.pool.Pending())
	}
	code, text := frame.CloseGoingAway, "server shutting down"
	if s.cfg.Restart {
		code, text = frame.CloseServiceRestart, "server restarting"
	}
	if s.sj != nil {
		// SockJS sessions get their close frame first; their open
		// responses end with it, and their connections close after.
		s.sj.closeSessions(int(code), text)
	}
	var conns []*conn
	s.eng.Each(func(ps poller.Session) { conns = append(conns, ps.(*conn)) })
	s.log.Info("draining", "connections", len(conns), "batch", s.cfg.DrainBatch, "interval", s.cfg.DrainInterval)
	for i := 0; i < len(conns); i += s.cfg.DrainBatch {
		for _, c := range conns[i:min(i+s.cfg.DrainBatch, len(conns))] {
			c.shutdownClose(code, text)
		}
		if i+s.cfg.DrainBatch < len(conns) && !sleepCtx(ctx, s.cfg.DrainInterval) {
			break
		}
	}
	err := s.waitClosed(ctx)
	if err != nil {
		s.log.Warn("drain timed out; dropping what is left", "open", s.open.Load(), "queued_bytes", s.eng.QueuedBytes())
	}
	s.Close()
	if n := s.m.Undelivered.Get() - undelivered; n > 0 {
		s.log.Warn("drain: deliveries skipped because their connection had already closed", "deliveries", n)
	}
	if n := s.eng.Unsent() - unsent; n > 0 {
		s.log.Warn("drain: bytes queued for connections that closed before they were written", "bytes", n)
	}
	return err
}

// shutdownClose starts the close handshake for a drained connection, or
// drops one that never finished its handshake.
func (c *conn) shutdownClose(code frame.CloseCode, text string) {
	switch c.loadState() {
	case stateOpen:
		c.close(code, text, reasonShutdown, closeQueued)
	case stateHandshake:
		if c.casState(stateHandshake, stateClosed) {
			c.setReason(reasonShutdown)
			_ = c.Close()
		}
	case stateHTTP:
		c.setReason(reasonShutdown)
		c.CloseWhenFlushed()
	}
}

func (s *Server) waitClosed(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.open.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
