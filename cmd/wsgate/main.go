// Command wsgate runs the wsgate WebSocket gateway.
//
// Every setting is a flag with a WSGATE_* environment twin and a key in
// the optional -config TOML file; run `wsgate -help` for the grouped list.
// `wsgate check` (or -t) validates a configuration and the files it names
// and exits 2 listing every problem.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	cfg, code, done := configure(args, stderr)
	if done {
		return code
	}
	return serve(cfg, stderr)
}

// configure loads and checks the configuration. It is done (with the exit
// status) for -help, -version, wsgate check, and any problem.
func configure(args []string, stderr io.Writer) (cfg config.Config, code int, done bool) {
	check := len(args) > 0 && args[0] == "check"
	if check {
		args = args[1:]
	}
	cfg = config.Default()
	fs, cmd := newFlagSet(&cfg, stderr)
	err := config.Load(fs, args, nil)
	var usageErr *config.UsageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return cfg, 0, true
	case errors.As(err, &usageErr):
		if !usageErr.Printed {
			fmt.Fprintln(stderr, "wsgate:", usageErr.Err)
		}
		return cfg, 2, true
	case *cmd.version:
		fmt.Fprintln(stderr, "wsgate", versionString())
		return cfg, 0, true
	}
	// Every problem at once: bad twin and file values, invalid settings,
	// and files that cannot be used. Each is a configuration problem:
	// exit 2, which the example systemd unit does not restart on.
	if err := errors.Join(err, cfg.Validate(), checkFiles(&cfg)); err != nil {
		fmt.Fprintln(stderr, "wsgate: invalid configuration:")
		fmt.Fprintln(stderr, err)
		return cfg, 2, true
	}
	if check || *cmd.check {
		fmt.Fprintln(stderr, "wsgate: configuration OK")
		return cfg, 0, true
	}
	return cfg, 0, false
}

// serve runs the gateway until a signal drains it; it returns the exit
// status.
func serve(cfg config.Config, stderr io.Writer) int {
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	cfg.Logger = log
	// Signals are caught before the listener opens, so a SIGTERM that
	// arrives during start-up still drains instead of killing the process.
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	hup := make(chan os.Signal, 1) // SIGHUP reloads the certificate; it never shuts down
	signal.Notify(hup, syscall.SIGHUP)
	srv, err := server.New(cfg)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return 2
	}
	if err := srv.Start(); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	go reloadOnHUP(hup, srv, log)
	attrs := []any{"addr", srv.Addr().String(), "echo", cfg.EchoPath, "rooms", cfg.RoomPrefix, "mux", cfg.MuxPath,
		"max_message", cfg.MaxMessage, "pollers", cfg.Pollers, "workers", cfg.Workers,
		"pid", os.Getpid(), "version", versionString()}
	if a := srv.AdminAddr(); a != nil {
		attrs = append(attrs, "admin", a.String())
	}
	if cfg.TLSCert != "" {
		attrs = append(attrs, "tls", cfg.TLSCert)
	}
	if cfg.File != "" {
		attrs = append(attrs, "config", cfg.File)
	}
	switch {
	case cfg.DevMode:
		attrs = append(attrs, "mode", "DEV (user ids from ?user=, no token required, any origin; never expose this listener)")
	case cfg.AuthEnabled() && cfg.Anonymous:
		attrs = append(attrs, "auth", "jwt, anonymous admitted")
	case cfg.AuthEnabled():
		attrs = append(attrs, "auth", "jwt required")
	default:
		attrs = append(attrs, "auth", "anonymous")
	}
	log.Info("wsgate listening", attrs...)

	s := <-sig
	log.Info("graceful shutdown: draining; a second signal forces exit", "signal", s.String())
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("drain incomplete", "err", err)
		}
		log.Info("wsgate stopped")
		return 0
	case s := <-sig:
		log.Warn("forced exit", "signal", s.String())
		return 1
	}
}

// reloadOnHUP reloads the TLS certificate and key on every SIGHUP; when
// the files are bad the previous certificate stays in service.
func reloadOnHUP(hup <-chan os.Signal, srv *server.Server, log *slog.Logger) {
	for range hup {
		err := srv.ReloadTLS()
		switch {
		case errors.Is(err, server.ErrNoTLS):
			log.Warn("SIGHUP ignored: TLS is not configured")
		case err != nil:
			log.Error("SIGHUP: TLS certificate not reloaded; still serving the previous one", "err", err)
		default:
			attrs := []any{}
			if leaf := srv.TLSCertificate().Leaf; leaf != nil {
				attrs = append(attrs, "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
			}
			log.Info("SIGHUP: TLS certificate reloaded", attrs...)
		}
	}
}
