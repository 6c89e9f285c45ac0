// Command wsgate runs the wsgate WebSocket gateway.
//
// Every setting is a flag with a WSGATE_* environment twin; run
// `wsgate -help` for the grouped list.
package main

import (
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

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	cfg := config.Default()
	fs := flag.NewFlagSet("wsgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Bind(fs)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wsgate [flags]\n\nEvery flag can also be set from the environment: -max-message is WSGATE_MAX_MESSAGE.\nFlags are grouped by the tag at the start of their description.\n\n")
		fs.PrintDefaults()
	}
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
	if err := config.ApplyEnv(fs, nil); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "wsgate: invalid configuration:")
		fmt.Fprintln(stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := server.New(cfg)
	if err != nil {
		log.Error("wsgate: cannot build server", "err", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		log.Error("wsgate: cannot start", "err", err)
		return 1
	}
	log.Info("wsgate listening", "addr", srv.Addr().String(), "echo", cfg.EchoPath,
		"max_message", cfg.MaxMessage, "pollers", cfg.Pollers, "pid", os.Getpid(), "version", version)

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info("wsgate stopping", "signal", s.String())
	_ = srv.Close()
	return 0
}
