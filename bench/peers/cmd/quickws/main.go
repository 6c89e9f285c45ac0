// Command quickws is the antlabs/quickws peer: net/http upgrade, then one
// goroutine per connection running quickws's read loop, with its callback
// interface. /echo echoes every message with its opcode from the read
// loop; /room/NAME writes every message to the room's other members
// directly, each write under that member's lock. -deflate enables
// permessage-deflate (quickws's default: no context takeover).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/antlabs/quickws"
	"github.com/wsgate/wsgate/bench/peers/internal/peer"
)

// echoHandler answers every message with itself.
type echoHandler struct{ quickws.DefCallback }

func (*echoHandler) OnMessage(c *quickws.Conn, op quickws.Opcode, msg []byte) {
	_ = c.WriteMessage(op, msg)
}

// member is one connection in a room; its callbacks broadcast to the room.
type member struct {
	quickws.DefCallback
	s    *server
	room string

	mu sync.Mutex // serialises writes (and the deflate writer) to conn
	c  *quickws.Conn
}

func (m *member) write(op quickws.Opcode, data []byte) {
	m.mu.Lock()
	_ = m.c.WriteMessage(op, data)
	m.mu.Unlock()
}

func (m *member) OnMessage(_ *quickws.Conn, op quickws.Opcode, msg []byte) {
	bp := m.s.scratch.Get().(*[]*member)
	list := m.s.rooms.AppendOthers((*bp)[:0], m.room, m)
	for _, o := range list {
		o.write(op, msg)
	}
	clear(list)
	*bp = list[:0]
	m.s.scratch.Put(bp)
}

func (m *member) OnClose(*quickws.Conn, error) { m.s.rooms.Leave(m.room, m) }

type server struct {
	rooms   *peer.Rooms[*member]
	scratch sync.Pool // *[]*member
	echo    *quickws.UpgradeServer
	room    *quickws.UpgradeServer
}

func main() {
	f := peer.ParseFlags("quickws")
	opts := func(extra ...quickws.ServerOption) []quickws.ServerOption {
		if f.Deflate {
			extra = append(extra, quickws.WithServerDecompressAndCompress())
		}
		return extra
	}
	s := &server{rooms: peer.NewRooms[*member]()}
	s.scratch.New = func() any { b := make([]*member, 0, 64); return &b }
	s.echo = quickws.NewUpgrade(opts(quickws.WithServerCallback(&echoHandler{}))...)
	s.room = quickws.NewUpgrade(opts()...)

	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := s.echo.Upgrade(w, r)
		if err != nil {
			return
		}
		c.StartReadLoop()
	})
	mux.HandleFunc(peer.RoomPrefix, s.serveRoom)
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickws:", err)
		os.Exit(1)
	}
	go func() { _ = http.Serve(ln, mux) }()
	peer.Announce("quickws", ln.Addr().String())
	peer.WaitSignal()
}

func (s *server) serveRoom(w http.ResponseWriter, r *http.Request) {
	name, ok := peer.RoomName(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	m := &member{s: s, room: name}
	c, err := s.room.UpgradeV2(w, r, m)
	if err != nil {
		return
	}
	m.c = c
	s.rooms.Join(name, m)
	c.StartReadLoop()
}
