package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure a NATS server run inside the wsgate process
// (-nats-embedded), so that a few wsgate hosts form a cluster with no
// other service: each runs one, all list the same routes, and each wsgate
// connects its broker to its own server's ClientURL.
type EmbeddedOptions struct {
	// Listen is the client listener's host:port; port 0 picks a free one.
	// Clients fail over to the addresses other servers advertise, so a
	// multi-host cluster should listen on a routable address. Default
	// 127.0.0.1:4222.
	Listen string
	// Cluster is the route listener's host:port (-nats-cluster); empty
	// means none, a server on its own. Port 0 picks a free one.
	Cluster string
	// ClusterName names the cluster; all its servers must agree. Default
	// "wsgate".
	ClusterName string
	// Routes are the other servers' route listeners (-nats-routes),
	// "host:port" or "nats-route://host:port". Listing this server's own
	// address too is harmless, so every host can share one list. The
	// server keeps dialling a route until it answers.
	Routes []string
	// ServerName names the server in NATS monitoring and logs. Default:
	// NATS's generated server id.
	ServerName string
	// Token, when set, is required from every client.
	Token string
	// MaxPayload is the largest message accepted, in bytes. Default 1 MiB
	// (NATS's default).
	MaxPayload int32
	// StoreDir, when set, enables JetStream (room history in a cluster
	// needs it) with its files there. The servers of a cluster each need
	// a ServerName of their own for it.
	StoreDir string
	// Logger receives the server's log at Info and above (Debug for its
	// debug and trace lines, which are off). Default: slog.Default().
	Logger *slog.Logger
}

// Embedded is a NATS server running in this process.
type Embedded struct {
	s *server.Server
}

// StartEmbedded starts a NATS server and returns once it accepts clients.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	opts, err := o.serverOptions()
	if err != nil {
		return nil, err
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("broker: embedded NATS: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	s.SetLoggerV2(slogAdapter{log.With("component", "nats-server")}, false, false, false)
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, errors.New("broker: embedded NATS server did not start")
	}
	return &Embedded{s: s}, nil
}

func (o EmbeddedOptions) serverOptions() (*server.Options, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:4222"
	}
	if o.ClusterName == "" {
		o.ClusterName = "wsgate"
	}
	opts := &server.Options{
		ServerName:    o.ServerName,
		NoLog:         true,
		NoSigs:        true,
		MaxPayload:    o.MaxPayload,
		Authorization: o.Token,
	}
	if o.StoreDir != "" {
		opts.JetStream, opts.StoreDir = true, o.StoreDir
	}
	var err error
	if opts.Host, opts.Port, err = hostPort(o.Listen); err != nil {
		return nil, fmt.Errorf("broker: embedded NATS listen address: %w", err)
	}
	if o.Cluster != "" {
		opts.Cluster.Name = o.ClusterName
		if opts.Cluster.Host, opts.Cluster.Port, err = hostPort(o.Cluster); err != nil {
			return nil, fmt.Errorf("broker: embedded NATS cluster address: %w", err)
		}
	} else if len(o.Routes) > 0 {
		return nil, errors.New("broker: embedded NATS routes need a cluster address")
	}
	for _, r := range o.Routes {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if !strings.Contains(r, "://") {
			r = "nats-route://" + r
		}
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("broker: embedded NATS route %q: bad URL", r)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return opts, nil
}

// hostPort splits "host:port" for nats-server, where port -1 asks for a
// free port.
func hostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// ClientURL is the URL for clients of this server, such as this node's
// broker (Options.URLs).
func (e *Embedded) ClientURL() string { return e.s.ClientURL() }

// ClusterAddr is the route listener's address, or nil without one.
func (e *Embedded) ClusterAddr() *net.TCPAddr { return e.s.ClusterAddr() }

// Server returns the nats-server itself, for monitoring and tests.
func (e *Embedded) Server() *server.Server { return e.s }

// WaitRoutes waits until the server has routes to n other servers, or
// ctx ends.
func (e *Embedded) WaitRoutes(ctx context.Context, n int) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for e.s.NumRemotes() < n {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("broker: embedded NATS has %d of %d routes: %w", e.s.NumRemotes(), n, ctx.Err())
		}
	}
	return nil
}

// Shutdown stops the server and waits until it has.
func (e *Embedded) Shutdown() {
	e.s.Shutdown()
	e.s.WaitForShutdown()
}

// slogAdapter is nats-server's Logger writing to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
