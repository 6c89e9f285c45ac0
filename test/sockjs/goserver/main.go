// Command goserver runs the sockjs package's test server with the four
// endpoints of the SockJS protocol test suite, for running the suite or
// a client by hand. It prints "listening http://ADDR" and serves until
// interrupted.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsgate/wsgate/internal/sockjs"
	"github.com/wsgate/wsgate/internal/sockjs/sockjstest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address (loopback)")
	flag.Parse()
	srv, err := sockjstest.Start(*addr, sockjstest.ProtocolEndpoints(sockjs.Options{})...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goserver:", err)
		os.Exit(1)
	}
	fmt.Printf("listening http://%s\n", srv.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	srv.Close()
}
