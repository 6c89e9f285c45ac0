// Command greatws is the antlabs/greatws peer: net/http upgrade, then the
// connection's descriptor is taken over by greatws's own epoll loops (one
// per CPU) and its callbacks run on a pool of business goroutines, with
// the settings of greatws's authors' public benchmark (240 business
// goroutines, 1,000 events per wait). /echo echoes every message with its
// opcode; /room/NAME writes every message to the room's other members
// directly (greatws serialises writes per connection). -deflate enables
// permessage-deflate (no context takeover).
package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"

	"github.com/antlabs/greatws"
	"github.com/wsgate/wsgate/bench/peers/internal/peer"
)

// echoHandler answers every message with itself.
type echoHandler struct{ greatws.DefCallback }

func (*echoHandler) OnMessage(c *greatws.Conn, op greatws.Opcode, msg []byte) {
	_ = c.WriteMessage(op, msg)
}

// member is one connection in a room; its callbacks broadcast to the room.
type member struct {
	greatws.DefCallback
	s    *server
	room string
}

func (m *member) OnMessage(c *greatws.Conn, op greatws.Opcode, msg []byte) {
	bp := m.s.scratch.Get().(*[]*greatws.Conn)
	list := m.s.rooms.AppendOthers((*bp)[:0], m.room, c)
	for _, o := range list {
		_ = o.WriteMessage(op, msg)
	}
	clear(list)
	*bp = list[:0]
	m.s.scratch.Put(bp)
}

func (m *member) OnClose(c *greatws.Conn, _ error) { m.s.rooms.Leave(m.room, c) }

type server struct {
	rooms   *peer.Rooms[*greatws.Conn]
	scratch sync.Pool // *[]*greatws.Conn
	echo    *greatws.UpgradeServer
	room    *greatws.UpgradeServer
}

func main() {
	f := peer.ParseFlags("greatws")
	loops := greatws.NewMultiEventLoopMust(
		greatws.WithEventLoops(runtime.GOMAXPROCS(0)),
		greatws.WithBusinessGoNum(240, 240, 240),
		greatws.WithMaxEventNum(1000),
		greatws.WithLogLevel(slog.LevelError))
	loops.Start()
	opts := func(extra ...greatws.ServerOption) []greatws.ServerOption {
		extra = append(extra, greatws.WithServerMultiEventLoop(loops))
		if f.Deflate {
			extra = append(extra, greatws.WithServerDecompressAndCompress())
		}
		return extra
	}
	s := &server{rooms: peer.NewRooms[*greatws.Conn]()}
	s.scratch.New = func() any { b := make([]*greatws.Conn, 0, 64); return &b }
	s.echo = greatws.NewUpgrade(opts(greatws.WithServerCallback(&echoHandler{}))...)
	s.room = greatws.NewUpgrade(opts()...)

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = s.echo.Upgrade(w, r)
	})
	mux.HandleFunc(peer.RoomPrefix, s.serveRoom)
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "greatws:", err)
		os.Exit(1)
	}
	go func() { _ = http.Serve(ln, mux) }()
	peer.Announce("greatws", ln.Addr().String())
	peer.WaitSignal()
}

func (s *server) serveRoom(w http.ResponseWriter, r *http.Request) {
	name, ok := peer.RoomName(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	c, err := s.room.UpgradeV2(w, r, &member{s: s, room: name})
	if err != nil {
		return
	}
	s.rooms.Join(name, c)
}
