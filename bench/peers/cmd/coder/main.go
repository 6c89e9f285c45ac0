// Command coder is the coder/websocket peer (formerly nhooyr.io/websocket):
// net/http, one goroutine per connection reading. /echo echoes every
// message with its type; /room/NAME writes every message to the room's
// other members (Conn.Write is safe for concurrent use). -deflate enables
// its context-takeover compression mode.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/coder/websocket"
	"github.com/wsgate/wsgate/bench/peers/internal/peer"
)

// writeTimeout bounds a write to one member.
const writeTimeout = 10 * time.Second

type server struct {
	opts  websocket.AcceptOptions
	rooms *peer.Rooms[*websocket.Conn]
}

func main() {
	f := peer.ParseFlags("coder")
	mode := websocket.CompressionDisabled
	if f.Deflate {
		mode = websocket.CompressionContextTakeover
	}
	s := &server{
		opts:  websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: mode},
		rooms: peer.NewRooms[*websocket.Conn](),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", s.serveEcho)
	mux.HandleFunc(peer.RoomPrefix, s.serveRoom)
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "coder:", err)
		os.Exit(1)
	}
	go func() { _ = http.Serve(ln, mux) }()
	peer.Announce("coder", ln.Addr().String())
	peer.WaitSignal()
}

func (s *server) serveEcho(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &s.opts)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := context.Background()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

func (s *server) serveRoom(w http.ResponseWriter, r *http.Request) {
	name, ok := peer.RoomName(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	c, err := websocket.Accept(w, r, &s.opts)
	if err != nil {
		return
	}
	defer c.CloseNow()
	s.rooms.Join(name, c)
	defer s.rooms.Leave(name, c)
	ctx := context.Background()
	var others []*websocket.Conn
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		others = s.rooms.AppendOthers(others[:0], name, c)
		for _, o := range others {
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			if err := o.Write(wctx, typ, data); err != nil {
				_ = o.CloseNow()
			}
			cancel()
		}
		clear(others)
	}
}
