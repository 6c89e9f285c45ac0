package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admin"
	"github.com/wsgate/wsgate/internal/fanout"
)

// adminBackend is the Server as the admin API sees it (admin.Backend).
type adminBackend Server

func (b *adminBackend) srv() *Server { return (*Server)(b) }

// Publish implements admin.Backend.
func (b *adminBackend) Publish(ctx context.Context, room string, op frame.Opcode, payload []byte) (int, error) {
	s := b.srv()
	n := s.hub.Count(room)
	if s.hlog != nil && s.keeps(room) {
		return n, s.publishHistory(ctx, room, op, payload)
	}
	return n, b.submit(ctx, fanout.Job{Room: room, History: s.keeps(room)}, op, payload)
}

// SendUser implements admin.Backend.
func (b *adminBackend) SendUser(ctx context.Context, user string, op frame.Opcode, payload []byte) (int, error) {
	n := b.srv().hub.CountUser(user)
	return n, b.submit(ctx, fanout.Job{User: user}, op, payload)
}

// submit frames the message once and queues j with it, waiting while the
// fan-out queue is full (this runs on an HTTP goroutine, never on an
// event loop).
func (b *adminBackend) submit(ctx context.Context, j fanout.Job, op frame.Opcode, payload []byte) error {
	s := b.srv()
	s.submitting.Add(1)
	defer s.submitting.Add(-1)
	if s.draining.Load() {
		return admin.ErrDraining
	}
	j.Buf, j.Hdr = fanout.FrameBuf(0, op, payload)
	if err := s.pool.Submit(ctx, j); err != nil {
		j.Buf.Release()
		if errors.Is(err, fanout.ErrStopped) {
			return admin.ErrDraining
		}
		s.m.Overloaded.Inc()
		return admin.ErrOverloaded
	}
	return nil
}

// Rooms implements admin.Backend.
func (b *adminBackend) Rooms(fn func(name string, members int) bool) { b.srv().hub.Rooms(fn) }

// Stats implements admin.Backend.
func (b *adminBackend) Stats() any { return b.srv().Stats() }

// Metrics implements admin.Backend.
func (b *adminBackend) Metrics() http.Handler { return b.srv().m.Handler() }

// Draining implements admin.Backend.
func (b *adminBackend) Draining() bool { return b.srv().draining.Load() }

// OpenConns implements admin.Backend.
func (b *adminBackend) OpenConns() int64 { return b.srv().open.Load() }
