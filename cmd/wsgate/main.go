// Command wsgate runs the wsgate WebSocket gateway.
//
// Every setting is a flag with a WSGATE_* environment twin; run
// `wsgate -help` for the grouped list.
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
	"sort"
	"strings"
	"syscall"

	"github.com/wsgate/wsgate/internal/config"
	"github.com/wsgate/wsgate/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	cfg := config.Default()
	fs := flag.NewFlagSet("wsgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Bind(fs)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stderr, "wsgate", version)
		return 0
	}
	// Every problem at once: bad environment values and invalid settings.
	if err := errors.Join(config.ApplyEnv(fs, nil), cfg.Validate()); err != nil {
		fmt.Fprintln(stderr, "wsgate: invalid configuration:")
		fmt.Fprintln(stderr, err)
		return 2
	}
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
		log.Error("cannot build server", "err", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	go reloadOnHUP(hup, srv, log)
	attrs := []any{"addr", srv.Addr().String(), "echo", cfg.EchoPath, "rooms", cfg.RoomPrefix, "mux", cfg.MuxPath,
		"max_message", cfg.MaxMessage, "pollers", cfg.Pollers, "workers", cfg.Workers,
		"pid", os.Getpid(), "version", version}
	if a := srv.AdminAddr(); a != nil {
		attrs = append(attrs, "admin", a.String())
	}
	if cfg.TLSCert != "" {
		attrs = append(attrs, "tls", cfg.TLSCert)
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

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// usage prints the flags grouped by the [group] tag that starts each
// description, with each flag's environment twin.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: wsgate [flags]\n\nwsgate is a WebSocket gateway. Every flag has an environment twin: -max-message is %s.\nSizes accept KiB/MiB/GiB suffixes; durations accept ms/s/m.\n", config.EnvName("max-message"))
	groups := map[string][]*flag.Flag{}
	fs.VisitAll(func(f *flag.Flag) {
		g := "general"
		if strings.HasPrefix(f.Usage, "[") {
			if i := strings.IndexByte(f.Usage, ']'); i > 0 {
				g = f.Usage[1:i]
			}
		}
		groups[g] = append(groups[g], f)
	})
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		fmt.Fprintf(w, "\n%s:\n", strings.ToUpper(g[:1])+g[1:])
		for _, f := range groups[g] {
			u := f.Usage
			if i := strings.IndexByte(u, ']'); strings.HasPrefix(u, "[") && i > 0 {
				u = strings.TrimSpace(u[i+1:])
			}
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
				def = " (default " + f.DefValue + ")"
			}
			if f.Name == "version" {
				fmt.Fprintf(w, "  -%s\n      %s\n", f.Name, u)
				continue
			}
			fmt.Fprintf(w, "  -%s\n      %s%s\n      env %s\n", f.Name, u, def, config.EnvName(f.Name))
		}
	}
}
