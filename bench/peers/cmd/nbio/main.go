// Command nbio is the lesismal/nbio peer: nbhttp's websocket package in
// non-blocking mode (connections served by the poller goroutines, no
// goroutine per connection). /echo echoes every message with its opcode;
// /room/NAME broadcasts every message to the room's other members.
//
// -iomod mixed runs nbhttp's mixed mode instead: the first
// -max-blocking connections (nbhttp's default 10,000) are served by a
// goroutine each, reading and writing in blocking mode with synchronous
// writes, and only the ones past that by the pollers.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/wsgate/wsgate/bench/peers/internal/peer"
)

// member is the session of a connection in a room.
type member struct {
	room string
}

type server struct {
	rooms   *peer.Rooms[*websocket.Conn]
	scratch sync.Pool // *[]*websocket.Conn
	echo    *websocket.Upgrader
	room    *websocket.Upgrader
}

func main() {
	mod, maxBlocking := "nonblocking", nbhttp.DefaultMaxBlockingOnline
	f := peer.ParseFlags("nbio", func(fs *flag.FlagSet) {
		fs.StringVar(&mod, "iomod", mod, "nbhttp IO mode: nonblocking or mixed")
		fs.IntVar(&maxBlocking, "max-blocking", maxBlocking, "mixed mode: connections served by a goroutine each before the pollers take over")
	})
	iomod, name := nbhttp.IOModNonBlocking, "nbio"
	switch mod {
	case "nonblocking":
	case "mixed":
		iomod, name = nbhttp.IOModMixed, "nbio-mixed"
	default:
		fmt.Fprintf(os.Stderr, "nbio: unknown -iomod %q (nonblocking or mixed)\n", mod)
		os.Exit(2)
	}
	logging.SetLevel(logging.LevelError)
	s := &server{rooms: peer.NewRooms[*websocket.Conn]()}
	s.scratch.New = func() any { b := make([]*websocket.Conn, 0, 64); return &b }
	s.echo = s.upgrader(f.Deflate, func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
		_ = c.WriteMessage(mt, data)
	})
	s.room = s.upgrader(f.Deflate, s.broadcast)
	s.room.OnClose(func(c *websocket.Conn, _ error) {
		if m, ok := c.Session().(*member); ok {
			s.rooms.Leave(m.room, c)
		}
	})

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = s.echo.Upgrade(w, r, nil)
	})
	mux.HandleFunc(peer.RoomPrefix, s.serveRoom)

	// Listen through Config.Listen to learn the real address when -addr
	// has port 0.
	bound := make(chan string, 1)
	listen := func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err == nil {
			select {
			case bound <- ln.Addr().String():
			default:
			}
		}
		return ln, err
	}
	eng := nbhttp.NewEngine(nbhttp.Config{
		Listen:                  listen,
		Network:                 "tcp",
		Addrs:                   []string{f.Addr},
		Handler:                 mux,
		NPoller:                 runtime.GOMAXPROCS(0),
		IOMod:                   iomod,
		MaxBlockingOnline:       maxBlocking,
		ReleaseWebsocketPayload: true,
	})
	if err := eng.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "nbio:", err)
		os.Exit(1)
	}
	peer.Announce(name, <-bound)
	peer.WaitSignal()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = eng.Shutdown(ctx)
}

// upgrader returns an Upgrader with no keepalive deadline (as wsgate's
// -idle-timeout 0 in the harness) and on as its message handler.
func (s *server) upgrader(deflate bool, on func(*websocket.Conn, websocket.MessageType, []byte)) *websocket.Upgrader {
	u := websocket.NewUpgrader()
	u.KeepaliveTime = 0
	u.CheckOrigin = func(*http.Request) bool { return true }
	u.EnableCompression(deflate)
	// Mixed mode's blocking connections write in the reading goroutine,
	// as the non-blocking ones do in the poller, rather than through a
	// per-connection send goroutine.
	u.BlockingModAsyncWrite = false
	u.OnMessage(on)
	return u
}

func (s *server) serveRoom(w http.ResponseWriter, r *http.Request) {
	name, ok := peer.RoomName(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	c, err := s.room.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c.SetSession(&member{room: name})
	s.rooms.Join(name, c)
}

// broadcast sends data to every other member of c's room. WriteMessage
// queues on the poller when the socket is full; it never blocks.
func (s *server) broadcast(c *websocket.Conn, mt websocket.MessageType, data []byte) {
	m, ok := c.Session().(*member)
	if !ok {
		return
	}
	bp := s.scratch.Get().(*[]*websocket.Conn)
	list := s.rooms.AppendOthers((*bp)[:0], m.room, c)
	for _, o := range list {
		_ = o.WriteMessage(mt, data)
	}
	clear(list)
	*bp = list[:0]
	s.scratch.Put(bp)
}
