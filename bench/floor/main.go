// Command floor is the memory floor for wsgate's idle-connection benchmark:
// a bare lesismal/nbio TCP echo server with no WebSocket and no per-
// connection state of its own, configured like wsgate's defaults (one poller
// per GOMAXPROCS, 64 KiB shared read buffer per poller). Whatever an idle
// connection costs here is what the event loop itself costs; wsgate can
// only add to it.
//
// It prints "floor listening ADDR" on stdout once it accepts connections
// and runs until SIGINT or SIGTERM.
//
// With WSGATE_BENCH_STATS=1 it also reads commands from stdin, one a line,
// and answers each with one line on stdout:
//
//	stats        runtime.GC, then {"heap_alloc":..,"heap_inuse":..,...} as JSON
//	heap PATH    runtime.GC, then a pprof heap profile written to PATH; "ok" or "error: ..."
//
// The hook exists only here: wsgate is measured from outside (RSS).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// Stats is the answer to the "stats" command.
type Stats struct {
	// Conns is the number of connections open now.
	Conns int64 `json:"conns"`
	// HeapAlloc, HeapInuse, StackInuse and Sys are runtime.MemStats
	// fields read right after a runtime.GC.
	HeapAlloc  uint64 `json:"heap_alloc"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	// Goroutines is runtime.NumGoroutine.
	Goroutines int `json:"goroutines"`
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "listen address (host:port; port 0 picks a free one)")
	pollers := fs.Int("pollers", runtime.GOMAXPROCS(0), "event-loop goroutines (wsgate's default: GOMAXPROCS)")
	readBuf := fs.Int("read-buffer", 64<<10, "shared read buffer per poller, bytes (wsgate's default: 64 KiB)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	srv, err := start(*listen, *pollers, *readBuf)
	if err != nil {
		fmt.Fprintln(stderr, "floor: start:", err)
		return 1
	}
	defer srv.eng.Stop()

	out := &lockedWriter{w: stdout}
	fmt.Fprintf(out, "floor listening %v\n", srv.addr)

	if os.Getenv("WSGATE_BENCH_STATS") == "1" {
		go serveCommands(stdin, out, &srv.open)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return 0
}

// server is a running floor.
type server struct {
	eng  *nbio.Engine
	addr net.Addr
	open atomic.Int64 // connections open now
}

// start runs a bare nbio echo server: OnData writes back what it read.
func start(listen string, pollers, readBuf int) (*server, error) {
	s := &server{}
	logging.SetLevel(logging.LevelNone)
	s.eng = nbio.NewEngine(nbio.Config{
		Name:           "floor",
		Network:        "tcp",
		Addrs:          []string{listen},
		NPoller:        pollers,
		ReadBufferSize: readBuf,
		Listen: func(network, a string) (net.Listener, error) {
			ln, err := (&net.ListenConfig{}).Listen(context.Background(), network, a)
			if err == nil {
				s.addr = ln.Addr()
			}
			return ln, err
		},
	})
	s.eng.OnOpen(func(*nbio.Conn) { s.open.Add(1) })
	s.eng.OnClose(func(*nbio.Conn, error) { s.open.Add(-1) })
	s.eng.OnData(func(c *nbio.Conn, data []byte) { _, _ = c.Write(data) })
	if err := s.eng.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// serveCommands answers the stats hook's commands until stdin closes.
func serveCommands(stdin io.Reader, out io.Writer, open *atomic.Int64) {
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch cmd {
		case "stats":
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b, _ := json.Marshal(Stats{
				Conns:      open.Load(),
				HeapAlloc:  ms.HeapAlloc,
				HeapInuse:  ms.HeapInuse,
				StackInuse: ms.StackInuse,
				Sys:        ms.Sys,
				Goroutines: runtime.NumGoroutine(),
			})
			fmt.Fprintf(out, "%s\n", b)
		case "heap":
			fmt.Fprintln(out, writeHeapProfile(arg))
		default:
			fmt.Fprintf(out, "error: unknown command %q\n", cmd)
		}
	}
}

func writeHeapProfile(path string) string {
	if path == "" {
		return "error: heap needs a path"
	}
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return "error: " + err.Error()
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return "ok"
}
