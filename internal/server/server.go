// Package server is wsgate's composition root: it wires the event loop
// (poller), the handshake (gobwas/ws), the codec (frame) and the endpoints
// into a running gateway. It is the only package that knows all the parts.
package server

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/lesismal/nbio"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/poller"
)

// Server is a running wsgate instance.
type Server struct {
	cfg     config.Config
	eng     *poller.Engine
	limits  frame.Limits
	origins *config.OriginMatcher
	routes  []route

	// batches are per-poller output buffers. nbio calls OnData for a
	// connection only on the poller goroutine that owns its descriptor
	// (fd % pollers), so batches[fd%len] is used by one goroutine at a time.
	batches []batch

	hsPool sync.Pool // *handshake

	open      atomic.Int64
	accepted  atomic.Int64
	rejected  atomic.Int64
	draining  atomic.Bool
	closeOnce sync.Once
}

type batch struct {
	b []byte
	_ [40]byte // keep neighbours off one cache line
}

// New validates cfg and builds a Server; Start begins serving.
func New(cfg config.Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		limits:  frame.Limits{MaxFrame: cfg.FrameLimit(), MaxMessage: cfg.MaxMessage},
		origins: config.NewOriginMatcher(cfg.Origins),
		batches: make([]batch, cfg.Pollers),
	}
	if cfg.EchoPath != "" {
		s.routes = append(s.routes, route{path: cfg.EchoPath, kind: endpointEcho})
	}
	s.hsPool.New = func() any { return newHandshake(s) }
	eng, err := poller.New(poller.Config{
		Addrs:          []string{cfg.Listen},
		Pollers:        cfg.Pollers,
		ReadBufferSize: cfg.ReadBuffer,
		Tick:           cfg.Tick,
		ReusePort:      cfg.ReusePort,
	}, (*handler)(s))
	if err != nil {
		return nil, err
	}
	s.eng = eng
	return s, nil
}

// Start opens the listener and starts the event loop; it returns at once.
func (s *Server) Start() error { return s.eng.Start() }

// Addr returns the listener's address (with the real port when the
// configured port was 0).
func (s *Server) Addr() net.Addr {
	if a := s.eng.Addrs(); len(a) > 0 {
		return a[0]
	}
	return nil
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	// Open is the number of connections (handshaking or upgraded) now open.
	Open int64
	// Accepted counts successful upgrades; Rejected counts refused handshakes.
	Accepted, Rejected int64
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	return Stats{Open: s.open.Load(), Accepted: s.accepted.Load(), Rejected: s.rejected.Load()}
}

// Close stops the server at once, dropping every connection.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.eng.Stop() })
	return nil
}

// handler adapts Server to poller.Handler without exporting the methods.
type handler Server

func (h *handler) OnOpen(nc *nbio.Conn) poller.Session {
	s := (*Server)(h)
	if s.draining.Load() {
		return nil
	}
	c := &conn{srv: s}
	s.open.Add(1)
	c.state.Store(stateHandshake)
	return c
}

func (h *handler) OnData(ps poller.Session, data []byte) {
	c := ps.(*conn)
	if !c.enter() {
		return
	}
	c.onData(data)
	c.leave()
}

func (h *handler) OnTimer(ps poller.Session) { ps.(*conn).onTimer() }

func (h *handler) OnClose(ps poller.Session, err error) {
	c := ps.(*conn)
	(*Server)(h).open.Add(-1)
	c.state.Store(stateClosed)
	c.markClosed()
}

var errServerClosed = errors.New("server: closed")
