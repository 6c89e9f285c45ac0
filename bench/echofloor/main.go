// Command echofloor is the CPU floor for the echo benchmarks: a WebSocket
// echo server that does nothing but the system calls an echo needs. One
// locked OS thread per event loop, level-triggered epoll, a hand-written
// handshake and framing, no per-message allocation, no metrics, no limits,
// no timers. Whatever a message costs here is what the kernel charges a
// server for it on this machine; a real server can only add to it, so the
// floor bounds the ratio any server can reach over another.
//
// It serves two ways:
//
//	-io syscall  one read(2) and one write(2) per message, as wsgate and
//	             every peer in the harness do (the default)
//	-io ring     every readiness batch from epoll_wait becomes one
//	             io_uring_enter for all its reads and one for all its
//	             writes: the same kernel work with one system call per
//	             batch instead of one per socket
//
// It prints "echofloor listening ADDR" on stdout once it accepts
// connections and runs until SIGINT or SIGTERM. It is a measuring tool,
// not a server: it trusts its client (frames up to 64 KiB, well formed).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (IPv4 host:port)")
	ioMode := flag.String("io", "syscall", "syscall: a read and a write per message; ring: io_uring, two calls per epoll batch")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "event-loop threads")
	flag.Parse()
	if *ioMode != "syscall" && *ioMode != "ring" {
		fmt.Fprintln(os.Stderr, "echofloor: -io must be syscall or ring")
		os.Exit(2)
	}
	s, err := listen(*addr, *loops, *ioMode == "ring")
	if err != nil {
		fmt.Fprintln(os.Stderr, "echofloor:", err)
		os.Exit(1)
	}
	fmt.Println("echofloor listening", s.addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.close()
}
