package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admin"
	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/fanout"
)

// adminBackend is the Server as the admin API sees it (admin.Backend,
// admin.DestinationSender); its node answers the cluster views and the
// history reads (admin.ClusterBackend, admin.HistoryBackend).
type adminBackend struct {
	*cluster.Node
	s *Server
}

// Publish implements admin.Backend.
func (b adminBackend) Publish(ctx context.Context, room string, op frame.Opcode, payload []byte) (int, error) {
	s := b.s
	n := s.hub.Count(room)
	if s.node.InStream(room) {
		return n, b.appendStream(ctx, room, op, payload)
	}
	return n, b.submit(ctx, fanout.Job{Room: room, History: s.node.Keeps(room)}, op, payload)
}

// SendUser implements admin.Backend.
func (b adminBackend) SendUser(ctx context.Context, user string, op frame.Opcode, payload []byte) (int, error) {
	n := b.s.hub.CountUser(user)
	return n, b.submit(ctx, fanout.Job{User: user}, op, payload)
}

// submit frames the message once and queues j with it, waiting while the
// fan-out queue is full (this runs on an HTTP goroutine, never on an
// event loop).
func (b adminBackend) submit(ctx context.Context, j fanout.Job, op frame.Opcode, payload []byte) error {
	s := b.s
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

// appendStream publishes to a room whose history is in the cluster's
// stream: it returns once the stream holds the message.
func (b adminBackend) appendStream(ctx context.Context, room string, op frame.Opcode, payload []byte) error {
	s := b.s
	if s.draining.Load() {
		return admin.ErrDraining
	}
	if err := s.node.Append(ctx, room, op, payload); err != nil {
		s.m.Overloaded.Inc()
		return admin.ErrOverloaded
	}
	return nil
}

// Rooms implements admin.Backend.
func (b adminBackend) Rooms(fn func(name string, members int) bool) { b.s.hub.Rooms(fn) }

// Stats implements admin.Backend.
func (b adminBackend) Stats() any { return b.s.Stats() }

// Metrics implements admin.Backend.
func (b adminBackend) Metrics() http.Handler { return b.s.m.Handler() }

// Draining implements admin.Backend.
func (b adminBackend) Draining() bool { return b.s.draining.Load() }

// Starting implements admin.Starter: the admin listener opens before the
// WebSocket listener does.
func (b adminBackend) Starting() bool { return !b.s.started.Load() }

// OpenConns implements admin.Backend.
func (b adminBackend) OpenConns() int64 { return b.s.open.Load() }
