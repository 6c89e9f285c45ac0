// Package server is wsgate's composition root: it wires the event loop
// (poller), the upgrade request's parsing (internal/upgrade), the codec
// (frame), the hub and the metrics into a running gateway. It is the only
// package that knows all the parts.
package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/frame"
	"github.com/wsgate/wsgate/internal/admin"
	"github.com/wsgate/wsgate/internal/broker"
	"github.com/wsgate/wsgate/internal/cluster"
	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/fanout"
	"github.com/wsgate/wsgate/internal/hub"
	"github.com/wsgate/wsgate/internal/limits"
	"github.com/wsgate/wsgate/internal/metrics"
	"github.com/wsgate/wsgate/internal/stompproto"
	"github.com/wsgate/wsgate/internal/upgrade"
	"github.com/wsgate/wsgate/poller"
	"github.com/wsgate/wsgate/web"
)

// Server is a running wsgate instance.
type Server struct {
	cfg config.Config
	log *slog.Logger
	eng *poller.Engine
	// lim are the size limits of the echo endpoint ([0]) and of the
	// fan-out endpoints, /room and /ws ([1]).
	lim     [2]endpointLimits
	origins upgrade.Origins
	// endpoints are the registered paths and their protocols; a
	// connection's endpoint kind is its index plus one.
	endpoints []endpoint
	hub       *hub.Hub[fanout.Subscriber]
	pool      *fanout.Pool
	stomp     *stompproto.Protocol // nil without the STOMP endpoint
	demo      staticSite           // the demo chat's pages, in dev mode
	node      *cluster.Node        // the rooms' history and the other nodes
	m         *metrics.Metrics
	apiKey    string
	guard     guard
	admin     *http.Server
	adminLn   net.Listener

	start     time.Time // for micros
	hsPool    sync.Pool // *upgrade.Upgrader
	rejectLog limits.Lines

	open     atomic.Int64
	accepted atomic.Int64
	rejected atomic.Int64
	draining atomic.Bool
	// submitting counts admin publishes between their draining check and
	// the end of their Submit: Shutdown waits for them before its fence,
	// so a publish answered 200 is always delivered before the drain
	// closes anyone.
	submitting atomic.Int64
	// acceptFails is the current run of failed accepts (overload.go).
	acceptFails acceptBurst
	started     atomic.Bool // the event loop is running (Start succeeded)
	closeOnce   sync.Once
	certs       *certStore // nil without TLS; see tls.go
	sj          *sjServer  // nil without SockJS; see sockjs.go
	// tuneBroker, set by tests before Start, adjusts the broker's options.
	tuneBroker func(*broker.Options)
}

// batch is one event loop's output and scratch buffers (poller.Loop's
// Data): only the loop's goroutine uses it, while it serves a read.
type batch struct {
	b       []byte       // frames to write for the connection being served
	inflate []byte       // decompression scratch
	comp    []byte       // compression scratch
	scratch []byte       // protocols' reply scratch (protocol.Conn.Scratch)
	reads   uint64       // reads served, for sampling loop latency
	l       *poller.Loop // the loop, set by OnData: its index, its send batch
}

// New validates cfg and builds a Server; Start begins serving.
func New(cfg config.Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		origins: upgrade.Origins{Any: cfg.DevMode},
		start:   time.Now(),
		hub:     hub.New[fanout.Subscriber](0),
		apiKey:  cfg.APIKey,
	}
	if len(cfg.Origins) > 0 {
		s.origins.List = config.NewOriginMatcher(cfg.Origins)
	}
	s.lim[0] = newEndpointLimits(cfg.FrameLimit(), cfg.MaxMessage, cfg.MaxFragments)
	s.lim[1] = newEndpointLimits(cfg.RoomFrameLimit(), cfg.RoomMessageLimit(), cfg.MaxFragments)
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.APIKeyFile != "" {
		b, err := os.ReadFile(cfg.APIKeyFile)
		if err != nil {
			return nil, err
		}
		s.apiKey = strings.TrimSpace(string(b))
	}
	var err error
	if err = s.initGuard(); err != nil {
		return nil, err
	}
	s.m = metrics.New(reasonNames[:], hsResultNames[:], limitNames[:], cfg.Pollers, metrics.Gauges{
		Open:   func() float64 { return float64(s.open.Load()) },
		Queued: func() float64 { return float64(s.eng.QueuedBytes()) },
		WriteSyscalls: func() float64 {
			n, _ := s.eng.IOStats()
			return float64(n)
		},
		WrittenBytes: func() float64 {
			_, n := s.eng.IOStats()
			return float64(n)
		},
		WorkerQueue: func() float64 { return float64(s.pool.Pending()) },
		TLSHandshakes: func() (uint64, uint64) {
			if s.eng == nil || s.cfg.TLSCert == "" {
				return 0, 0
			}
			return s.eng.TLSHandshakes()
		},
		Rooms: func() float64 { return float64(s.hub.Len()) },
		Users: func() float64 { return float64(s.hub.Users()) },
		Draining: func() float64 {
			if s.draining.Load() {
				return 1
			}
			return 0
		},
		JWKS: s.jwksState(),
		IOUringLoops: func() float64 {
			n, _, _ := s.eng.BatchedLoops()
			return float64(n)
		},
		OverloadGauges: metrics.OverloadGauges{
			Unsent:  func() float64 { return float64(s.eng.Unsent()) },
			Pending: func() float64 { return float64(s.eng.PendingHandshakes()) },
			Shed:    func() (uint64, uint64, uint64) { return s.eng.HandshakesShed() },
		},
	})
	fcfg := fanout.Config{
		Workers: cfg.Workers, Queue: cfg.WorkerQueue, EchoSelf: cfg.EchoSelf,
		DeflateLevel: cfg.DeflateLevel, DeflateThreshold: cfg.DeflateThreshold, Metrics: s.m,
	}
	s.node, err = cluster.New(cluster.Options{Config: &s.cfg, Logger: s.log, Hub: s.hub, Metrics: s.m, Stats: s.Stats,
		TuneBroker: func(o *broker.Options) {
			if s.tuneBroker != nil {
				s.tuneBroker(o)
			}
		}})
	if err != nil {
		return nil, err
	}
	if st := s.node.Store(); st != nil {
		fcfg.Recorder = st
	}
	s.pool = fanout.New(fcfg, s.hub)
	s.registerEndpoints()
	if cfg.DevMode {
		s.demo = web.RecordDemo()
	}
	s.rejectLog.Burst = 10
	s.hsPool.New = s.newUpgrader()
	tlsCfg, err := s.setupTLS()
	if err != nil {
		return nil, err
	}
	eng, err := poller.New(poller.Config{
		Addrs:          []string{cfg.Listen},
		Pollers:        cfg.Pollers,
		ReadBufferSize: cfg.ReadBuffer,
		Tick:           cfg.Tick,
		ReusePort:      cfg.ReusePort,
		OpenTimeout:    cfg.HandshakeTimeout,
		Data:           s,
		TLS:            tlsCfg,
		TLSHandshakes:  cfg.TLSHandshakes,
		LoopData:       func(int) any { return &batch{} },
		OnAcceptError:  s.onAcceptError,
		// Pending handshakes are capped at accept (NoLimits: not at all).
		MaxPendingPerIP: pendingCap(cfg, cfg.MaxPendingHandshakesPerIP),
		MaxPending:      pendingCap(cfg, cfg.MaxPendingHandshakes),
		PendingIPv6Bits: cfg.IPv6Prefix,
		BatchSends:      cfg.IOUring,
	}, (*handler)(s))
	if err != nil {
		return nil, err
	}
	s.eng = eng
	return s, nil
}

// Start opens the listeners and starts the event loop and the workers; it
// returns at once.
func (s *Server) Start() (err error) {
	if err := s.node.Start(s.pool, s.stomp); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.node.Close()
		}
	}()
	if s.cfg.Admin != "" {
		ln, err := net.Listen("tcp", s.cfg.Admin)
		if err != nil {
			return err
		}
		s.adminLn = ln
		h := admin.Handler(adminBackend{Node: s.node, s: s}, admin.Options{APIKey: s.apiKey, Pprof: s.cfg.Pprof, MaxPayload: s.cfg.RoomMessageLimit(),
			UI: web.Dashboard(), UIPath: web.DashboardPath})
		s.admin = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = s.admin.Serve(ln) }()
	}
	s.warnInsecure()
	s.setupSockJS()
	if s.sj != nil {
		s.sj.Start()
	}
	s.pool.Start()
	if err := s.eng.Start(); err != nil {
		s.pool.Stop()
		if s.admin != nil {
			s.admin.Close()
		}
		return err
	}
	if s.cfg.IOUring {
		n, loops, err := s.eng.BatchedLoops()
		if err != nil {
			s.log.Warn("io_uring sends unavailable on some event loops: they write with a system call per connection", "loops", loops, "io_uring_loops", n, "err", err)
		} else {
			s.log.Info("event loops send through io_uring", "loops", n)
		}
	}
	s.started.Store(true)
	return nil
}

// Addr returns the WebSocket listener's address (with the real port when
// the configured port was 0).
func (s *Server) Addr() net.Addr {
	if a := s.eng.Addrs(); len(a) > 0 {
		return a[0]
	}
	return nil
}

// AdminAddr returns the admin listener's address, or nil.
func (s *Server) AdminAddr() net.Addr {
	if s.adminLn == nil {
		return nil
	}
	return s.adminLn.Addr()
}

// Stats returns the current counters.
func (s *Server) Stats() admin.Stats {
	m := s.m
	sys, wb := s.eng.IOStats()
	return admin.Stats{
		WriteSyscalls: sys, WrittenBytes: wb,
		Open: s.open.Load(), Accepted: s.accepted.Load(), Rejected: s.rejected.Load(),
		Rooms: s.hub.Len(), Users: s.hub.Users(),
		MessagesIn:  m.MessagesIn[0].Get() + m.MessagesIn[1].Get(),
		MessagesOut: m.MessagesOut[0].Get() + m.MessagesOut[1].Get(),
		SlowClosed:  m.SlowConsumer[metrics.PolicyClose].Get(),
		Dropped:     m.Dropped.Get(),
	}
}

// Close stops the server at once, dropping every connection.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.draining.Store(true)
		if s.admin != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = s.admin.Shutdown(ctx)
			cancel()
		}
		if s.started.Load() {
			s.eng.Stop() // nbio cannot stop an engine that never started
		}
		s.pool.Stop()
		if s.sj != nil {
			s.sj.Stop()
		}
		s.guard.verifier.Close() // stops the JWKS refresh, if any
		if s.stomp != nil {
			s.stomp.Stop()
		}
		s.node.Close()
	})
	return nil
}

// handler adapts Server to poller.Handler without exporting the methods.
type handler Server

func (h *handler) OnOpen() poller.Session {
	s := (*Server)(h)
	s.acceptResumed()
	c := &conn{}
	c.lastRead.Store(s.micros()) // until the upgrade, lastRead holds the accept time
	s.open.Add(1)
	s.m.ConnsOpened.Inc()
	c.storeState(stateHandshake)
	return c
}

func (h *handler) OnData(l *poller.Loop, ps poller.Session, data []byte) {
	c := ps.(*conn)
	if !c.enter() {
		return
	}
	s := (*Server)(h)
	// Loop latency is sampled: one read in 64 per loop is timed, so the
	// clock and the histogram's lock stay off the common path.
	b := l.Data.(*batch)
	b.l = l
	b.reads++
	if s.cfg.Metrics && b.reads&63 == 0 {
		t := time.Now()
		c.onData(b, data)
		s.m.LoopSeconds[l.Index].UpdateDuration(t)
	} else {
		c.onData(b, data)
	}
	c.leave()
}

func (h *handler) OnTimer(ps poller.Session) { ps.(*conn).onTimer() }

func (h *handler) OnClose(ps poller.Session, err error) {
	c := ps.(*conn)
	s := (*Server)(h)
	s.open.Add(-1)
	prev := c.swapState(stateClosed)
	if prev == stateHandshake {
		c.handshakeClosed(err)
	}
	c.setReason(reasonPeerGone)
	c.releaseCount()
	r := c.closeReason()
	s.m.ConnsClosed[r].Inc()
	if prev == stateHTTP {
		c.onHTTPClose()
	}
	if prev == stateOpen || prev == stateClosing || prev == stateFailed {
		c.ep().proto.Close(c)
		if u := c.User(); u != "" {
			s.hub.RemoveUser(u, c)
		}
	}
	if r != reasonPeerClose && r != reasonPeerGone {
		s.log.Debug("connection closed", "reason", r.String(), "remote", c.RemoteAddr().String())
	}
	c.markClosed()
}

// micros returns the microseconds since the server was built, truncated to
// 32 bits; differences of two readings are right for spans under 71 minutes.
func (s *Server) micros() int32 { return int32(time.Since(s.start) / time.Microsecond) }

// endpointLimits are one endpoint's size limits.
type endpointLimits struct {
	plain frame.Limits
	// dfl is for connections with permessage-deflate: a compressed frame
	// of incompressible data is a little longer than the message it
	// carries, so the wire limits get deflate's worst-case growth on top;
	// the message limit itself (max) is enforced on the inflated size, and
	// on uncompressed messages in OnMessage.
	dfl frame.Limits
	max int64
}

func newEndpointLimits(maxFrame, maxMessage int64, maxFragments int) endpointLimits {
	slack := maxMessage/64 + 1024 // stored blocks add 5 bytes per 64 KiB; small windows a little more
	frags := int64(maxFragments)
	return endpointLimits{
		plain: frame.Limits{MaxFrame: maxFrame, MaxMessage: maxMessage, MaxFragments: frags},
		dfl:   frame.Limits{MaxFrame: maxFrame + slack, MaxMessage: maxMessage + slack, MaxFragments: frags},
		max:   maxMessage,
	}
}
